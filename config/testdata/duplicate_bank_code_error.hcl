plugin "ocra" { path = "ocra" }
plugin "merchantsig" { path = "merchantsig" }
plugin "card" { path = "card" }
plugin "bank_transfer" { path = "bank_transfer" }

institution "bank_a" {
  display_name = "Bank A"
  roles        = ["issuer", "acquirer"]
  bank_code    = "0011"
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
  bank_code    = "0011"
  bin_ranges   = ["422222-422299"]
  authenticator "ocra" {
    issuer_key = env("SWITCHD_TEST_OCRA_KEY")
  }
  method "card" {
    plugin   = "card"
    currency = "EUR"
  }
}
institution "bank_c" {
  display_name = "Bank C"
  roles        = ["issuer"]
  bank_code    = "00 11"
  bin_ranges   = ["433333-433399"]
  authenticator "ocra" {
    issuer_key = env("SWITCHD_TEST_OCRA_KEY")
  }
  method "card" {
    plugin   = "card"
    currency = "EUR"
  }
}
