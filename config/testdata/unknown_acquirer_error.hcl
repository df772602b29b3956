plugin "ocra" { path = "ocra" }
plugin "merchantsig" { path = "merchantsig" }
plugin "card" { path = "card" }
plugin "bank_transfer" { path = "bank_transfer" }

institution "bank_a" {
  display_name = "Bank A"
  roles        = ["issuer", "acquirer"]
  bin_ranges   = ["411111-411199"]
  authenticator "ocra" {
    issuer_key = env("SWITCHD_TEST_OCRA_KEY")
  }
  authenticator "merchantsig" {
    attestation_key = file("secrets/attestation.key")
    seller "k1" { public_key = "pk" }
  }
  method "card" {
    plugin   = "card"
    currency = "EUR"
  }
}
institution "bank_b" {
  display_name = "Bank B"
  roles        = ["issuer"]
  bin_ranges   = ["422222-422299"]
  authenticator "ocra" {
    issuer_key = env("SWITCHD_TEST_OCRA_KEY")
  }
  method "card" {
    plugin   = "card"
    currency = "EUR"
  }
}
merchant "shop1" {
  display_name       = "Shop 1"
  acquirer           = "bank_zz"
  api_key_sha256     = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
  settlement_account = "acct-1"
  webhook_url        = "https://shop.example/hook"
  webhook_secret     = env("SWITCHD_TEST_WHSEC")
  signing_key_id     = "k1"
}
merchant "shop2" {
  display_name       = "Shop 2"
  acquirer           = "bank_b"
  api_key_sha256     = "486ea46224d1bb4fb680f34f7c9ad96a8f24ec88be73ea8e5a6c65260e9cb8a7"
  settlement_account = "acct-2"
  webhook_url        = "https://shop.example/hook"
  webhook_secret     = env("SWITCHD_TEST_WHSEC")
  signing_key_id     = "k2"
}
