plugin "ocra" { path = "ocra" }
plugin "merchantsig" { path = "merchantsig" }
plugin "card" { path = "card" }
plugin "bank_transfer" { path = "bank_transfer" }

institution "bank_a" {
  display_name = "Bank A"
  roles        = ["issuer", "aquirer", "issuer"]
  bin_ranges   = ["411111-411199"]
  authenticator "ocra" {
    issuer_key = env("SWITCHD_TEST_OCRA_KEY")
  }
  method "card" {
    plugin   = "card"
    currency = "EUR"
  }
}
institution "bank_b" {
  display_name = "Bank B"
  roles        = []
}
