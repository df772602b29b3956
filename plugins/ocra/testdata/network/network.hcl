# A one-bank network that uses the real ocra and merchantsig schemas.
plugin "ocra" {
  path = "ocra"
}

plugin "merchantsig" {
  path = "merchantsig"
}

plugin "card" {
  path = "card"
}

institution "bank_a" {
  display_name = "Bank A"
  roles        = ["issuer", "acquirer"]
  bin_ranges   = ["411111-411199"]

  authenticator "ocra" {
    attestation_key    = env("OCRA_TEST_ATTESTATION_SEED")
    attestation_key_id = "bank_a-c"
    max_failures       = 3

    payer "alice" {
      key = env("OCRA_TEST_ALICE_KEY")
    }
    payer "bob" {
      key   = env("OCRA_TEST_BOB_KEY")
      suite = "OCRA-1:HOTP-SHA512-8:QN10"
    }
  }

  authenticator "merchantsig" {
    attestation_key       = env("OCRA_TEST_ATTESTATION_SEED")
    attestation_key_id    = "bank_a-b"
    replay_window_seconds = 120

    merchant "coffee_shop" {
      key "shop-key-1" {
        public_key = "iEuIV/TqoWE8YVBNs01L6vNGUXoOMd483dTZtCAdnQs="
      }
    }
  }

  method "card" {
    plugin    = "card"
    token_key = env("OCRA_TEST_CARD_TOKEN_KEY")
  }
}

merchant "coffee_shop" {
  display_name       = "Coffee Shop"
  acquirer           = "bank_a"
  api_key_sha256     = "2CF24DBA5FB0A30E26E83B2AC5B9E29E1B161E5C1FA7425E73043362938B9824"
  settlement_account = "DE00 1234"
  webhook_url        = "https://coffee.example/hooks/switchd"
  webhook_secret     = env("OCRA_TEST_WHSEC")
  signing_key_id     = "shop-key-1"
  return_url         = "https://coffee.example/thanks"
}
