# Valid, but with warnings: they are reported apart from errors and do not
# stop the configuration.
plugin "ocra" { path = "ocra" }
plugin "merchantsig" { path = "merchantsig" }
plugin "card" { path = "card" }
plugin "bank_transfer" { path = "bank_transfer" }
plugin "passkey" { path = "passkey" }

institution "issuer_only" {
  roles      = ["issuer"]
  bank_code  = "0033"
  bin_ranges = ["422222-422299", "4222-4222"]

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
  method "bank_transfer" {
    plugin   = "bank_transfer"
    currency = "EUR"
  }
}

institution "acquirer_only" {
  display_name = "Acquirer"
  roles        = ["acquirer"]
  authenticator "merchantsig" {
    attestation_key = file("secrets/attestation.key")
    seller "k1" { public_key = "pk" }
  }
  method "card" {
    plugin   = "card"
    currency = "EUR"
  }
}

merchant "shop" {
  acquirer           = "acquirer_only"
  api_key_sha256     = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
  settlement_account = "acct-1"
  webhook_url        = "http://127.0.0.1:9000/hook"
  webhook_secret     = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
  signing_key_id     = "k1"
}
