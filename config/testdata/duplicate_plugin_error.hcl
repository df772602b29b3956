plugin "ocra" { path = "ocra" }
plugin "merchantsig" { path = "merchantsig" }
plugin "card" { path = "card" }
plugin "bank_transfer" { path = "bank_transfer" }
plugin "card" { path = "card2" }
plugin "Card Reader" {
  path   = ""
  sha256 = "ABC"
}
