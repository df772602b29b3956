institution "bank_a" {
  display_name = "Bank A"
  roles        = ["issuer", "acquirer"]
  bank_code    = "0011"
  bin_ranges   = ["411111-411199", "550000-559999"]

  authenticator "ocra" {
    issuer_key   = env("SWITCHD_TEST_OCRA_KEY")
    max_failures = 5

    payer "alice" {
      secret = file("../secrets/alice.txt")
    }
    payer "bob" {
      secret  = env("SWITCHD_TEST_BOB_SECRET")
      counter = "7"
    }
  }

  authenticator "merchantsig" {
    attestation_key = file("../secrets/attestation.key")

    seller "shop-key-1" {
      public_key = "MCowBQYDK2VwAyEA11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
    }
  }

  method "card" {
    plugin   = "card"
    currency = "EUR"

    account "acct-1" {
      balance_minor = 100000
      holder        = "Alice"
    }
  }

  method "bank_transfer" {
    plugin   = "bank_transfer"
    currency = "EUR"
  }
}

institution "bank_b" {
  display_name = "Bank B"
  roles        = ["issuer"]
  bank_code    = "0022"
  bin_ranges   = ["4112-4119"]

  authenticator "passkey" {
    rp_id   = "pay.example"
    origins = ["https://pay.example"]
  }

  method "card" {
    plugin   = "card"
    currency = "EUR"
    labels   = { brand = "visa" }
  }
}
