# Onboarding Acme Bank: one plugin block and one institution block. Nothing
# else in the network changes, and no switchd code.
#
# The file() paths start with ../plugin-authoring/ so that this file works
# both where it is and copied next to the quickstart network
# (examples/quickstart/), which is how the README onboards Acme Bank into a
# running switch. The secrets are DEMO TEST KEYS ONLY.

# The binary, built with `go build -o ../../bin/plugins/acmeauth .`; a
# relative path resolves against --plugin-dir. `switchd plugins lock` pins
# its sha256 (or write sha256 = "..." here).
plugin "acmeauth" {
  path = "acmeauth"
}

institution "acme" {
  display_name = "Acme Bank"
  roles        = ["issuer"]
  bin_ranges   = ["424200-424299"] # cards starting 4242 00..99 are routed here

  # Step C: the block's body is acmeauth's own schema (GetInfo's
  # config_schema); the host checks it at file:line before the plugin runs.
  authenticator "acmeauth" {
    attestation_key    = file("../plugin-authoring/secrets/acme_attestation.key")
    attestation_key_id = "acme-demo-1"

    payer "carol" {
      key = file("../plugin-authoring/secrets/carol_acme.key")
    }
  }

  # Money moves with the built-in card plugin: a bank writes only the parts
  # that are its own.
  method "card" {
    plugin    = "card"
    token_key = file("../plugin-authoring/secrets/acme_card_token.key")

    card "carol-visa" {
      pan          = file("../plugin-authoring/secrets/carol_card.pan")
      expiry       = "12/39"
      holder       = "carol" # the payer_ref acmeauth looks up
      credit_limit = 500000
      currency     = "EUR"
    }
  }
}
