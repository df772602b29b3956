# The Tea Shop, a store whose bank (acquirer) is Alpha Bank.

merchant "tea_shop" {
  display_name = "Tea Shop"
  acquirer     = "alpha"

  # SHA-256 of the shop's API key, never the key itself. The demo key is
  # sk_test_quickstart_tea_shop_0123456789 (printf %s "$KEY" | sha256sum).
  api_key_sha256 = "b22a28fefa55881d75ad4dbc16e930b0feaea91e73c45a4eb127c75515ca38cc"

  # Credited at Alpha Bank at step D (card and bank transfer alike).
  settlement_account = "9001000018"

  # Step E: switchd POSTs a Standard Webhooks-signed event here for every
  # final state. `switchd demo` listens on this address.
  webhook_url    = "http://127.0.0.1:8090/webhooks"
  webhook_secret = file("secrets/tea_shop_webhook.secret")

  # The key (in Alpha Bank's merchantsig block) the shop signs orders with.
  signing_key_id = "k1"
}
