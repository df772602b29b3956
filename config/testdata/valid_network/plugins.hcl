# Plugins are launched by the host; paths are relative to the plugin dir.
plugin "ocra" {
  path = "ocra"
}

plugin "passkey" {
  path   = "/opt/switchd/plugins/passkey"
  sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
}

plugin "merchantsig" {
  path = "merchantsig"
}

plugin "card" {
  path = "card"
}

plugin "bank_transfer" {
  path = "bank_transfer"
}
