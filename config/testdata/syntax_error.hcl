plugin "ocra" { path = "ocra" }
plugin "merchantsig" { path = "merchantsig" }
plugin "card" { path = "card" }
plugin "bank_transfer" { path = "bank_transfer" }

institution "bank_a" {
  display_name = "Bank A
  roles = [
}
