# Alpha Bank issues cards and accounts to its payers (issuer) and keeps the
# Tea Shop's settlement account (acquirer).
#
# Secrets come from file() (or env()): a sensitive attribute written inline
# is an error. The files in secrets/ are DEMO TEST KEYS ONLY, published in
# this repository; see secrets/README.md.

institution "alpha" {
  display_name = "Alpha Bank"
  roles        = ["issuer", "acquirer"]
  bank_code    = "1001"            # routes bank transfers to this bank
  bin_ranges   = ["411100-411199"] # routes cards to this bank (first six digits)

  # Step B: Alpha Bank, as the Tea Shop's acquirer, checks the shop's
  # Ed25519 signature over the order terms and attests the order digest.
  authenticator "merchantsig" {
    attestation_key    = file("secrets/alpha_attestation.key")
    attestation_key_id = "alpha-demo-1"

    merchant "tea_shop" {
      # The public half of secrets/tea_shop_ed25519.seed, base64.
      key "k1" { public_key = "MUGBH/joHNPziALaaWfowb5zMIynCkl97VXAQgTHlxU=" }
    }
  }

  # Step C: Alpha Bank's payers prove themselves with OCRA (RFC 6287), and
  # the bank proves itself to them first. The key is shared between the
  # bank and the payer's wallet (`switchd wallet ocra`, switchd/wallet).
  authenticator "ocra" {
    attestation_key    = file("secrets/alpha_attestation.key")
    attestation_key_id = "alpha-demo-1"
    max_failures       = 5

    payer "alice" { key = file("secrets/alice_ocra.key") }
  }

  method "card" {
    plugin    = "card"
    token_key = file("secrets/alpha_card_token.key")

    # Issuer side: Alice's card, the public test number 4111 1111 1111 1111.
    card "alice-visa" {
      pan          = file("secrets/alice_card.pan")
      expiry       = "12/39"
      holder       = "alice" # the payer the ocra block above authenticates
      credit_limit = 500000  # minor units: EUR 5,000.00
      currency     = "EUR"
    }

    # Acquirer side: where card payments to the Tea Shop are credited.
    merchant_account "9001000018" { currency = "EUR" }
  }

  method "bank_transfer" {
    plugin    = "banktransfer"
    token_key = file("secrets/alpha_account_token.key")

    # Account numbers are 10 digits, the last a Luhn check digit.
    account "1001000015" {
      holder   = "alice"
      balance  = 1000000 # opening balance: EUR 10,000.00
      currency = "EUR"
    }
    # The Tea Shop's settlement account (acquirer side).
    account "9001000018" {
      holder   = "tea_shop"
      currency = "EUR"
    }
  }
}
