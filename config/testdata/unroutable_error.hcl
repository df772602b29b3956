plugin "ocra" { path = "ocra" }
plugin "merchantsig" { path = "merchantsig" }
plugin "card" { path = "card" }
plugin "bank_transfer" { path = "bank_transfer" }

institution "bank_a" {
  display_name = "Bank A"
  roles        = ["issuer", "acquirer"]
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
  method "crypto" {
    plugin = "card"
  }
}
institution "bank_b" {
  display_name = "Bank B"
  roles        = ["acquirer"]
  bin_ranges   = ["422222-422299"]
  authenticator "merchantsig" {
    attestation_key = file("secrets/attestation.key")
    seller "k1" { public_key = "pk" }
  }
}
