plugin "ocra" { path = "ocra" }
plugin "merchantsig" { path = "merchantsig" }
plugin "card" { path = "card" }
plugin "bank_transfer" { path = "bank_transfer" }

institution "bank_a" {
  display_name = "Bank A"
  roles        = ["issuer", "acquirer"]
  bin_ranges   = ["411111-411199"]
  authenticator "ocra" {
    issuer_key   = env("SWITCHD_TEST_OCRA_KEY")
    max_failures = "many"
    payer "a" { secret = env("SWITCHD_TEST_BOB_SECRET") }
    payer "b" { secret = env("SWITCHD_TEST_BOB_SECRET") }
    payer "c" { secret = env("SWITCHD_TEST_BOB_SECRET") }
    payer "d" { secret = env("SWITCHD_TEST_BOB_SECRET") }
  }
  authenticator "merchantsig" {
    attestation_key = file("secrets/attestation.key")
  }
  method "card" {
    plugin          = "card"
    allow_overdraft = "sometimes"
    labels          = ["a", "b"]
    account "x" {}
  }
}
