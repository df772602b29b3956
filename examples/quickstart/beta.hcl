# Beta Bank: issuer and acquirer, its payers authenticate with passkeys
# (WebAuthn) in the phone's browser. DEMO TEST KEYS ONLY in secrets/.

institution "beta" {
  display_name = "Beta Bank"
  roles        = ["issuer", "acquirer"]
  bank_code    = "2002"
  bin_ranges   = ["555500-555599"]

  # Step B for stores that bank with Beta Bank. None does yet: add a
  # merchant block here, and a merchant block with acquirer = "beta".
  authenticator "merchantsig" {
    attestation_key    = file("secrets/beta_attestation.key")
    attestation_key_id = "beta-demo-1"
  }

  # Step C with passkeys. The payment page runs on the switch's origin, so
  # rp_id must be the host of switchd's --public-url and rp_origins its
  # origin. Browsers allow WebAuthn on http only for localhost, so open the
  # quickstart at http://localhost:8080 (make run sets --public-url to it).
  authenticator "passkey" {
    rp_id              = "localhost"
    rp_display_name    = "Beta Bank"
    rp_origins         = ["http://localhost:8080"]
    attestation_key    = file("secrets/beta_attestation.key")
    attestation_key_id = "beta-demo-1"

    # Payers allowed to enrol a passkey (one each, on their first payment),
    # with the SHA-256 of the activation code the bank gave them out of band
    # (letter, app, branch): enrolment needs the code, not just the card
    # number. Bob's demo code is in secrets/bob_enrollment_code.
    payer "bob" {
      display_name           = "Bob Example"
      enrollment_code_sha256 = file("secrets/bob_enrollment_code.sha256")
    }
  }

  method "card" {
    plugin    = "card"
    token_key = file("secrets/beta_card_token.key")

    # Bob's card, the public test number 5555 5555 5555 4444.
    card "bob-mastercard" {
      pan          = file("secrets/bob_card.pan")
      expiry       = "12/39"
      holder       = "bob"
      credit_limit = 500000
      currency     = "EUR"
    }
    merchant_account "9002000017" { currency = "EUR" }
  }

  method "bank_transfer" {
    plugin    = "banktransfer"
    token_key = file("secrets/beta_account_token.key")

    account "2002000012" {
      holder   = "bob"
      balance  = 1000000
      currency = "EUR"
    }
    account "9002000017" {
      holder   = "beta-settlement"
      currency = "EUR"
    }
  }
}
