plugin "ocra" { path = "ocra" }
plugin "merchantsig" { path = "merchantsig" }
plugin "card" { path = "card" }
plugin "bank_transfer" { path = "bank_transfer" }

institution "bank_a" {
  display_name = "Bank A"
  roles        = ["issuer", "acquirer"]
  bin_ranges   = ["41x111-411199", "4111-41119", "411199-411111", "411111", "-", "411111-411199"]
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
