merchant "coffee_shop" {
  display_name       = "Coffee Shop"
  acquirer           = "bank_a"
  api_key_sha256     = "2CF24DBA5FB0A30E26E83B2AC5B9E29E1B161E5C1FA7425E73043362938B9824"
  settlement_account = "DE00 1234"
  webhook_url        = "https://coffee.example/hooks/switchd"
  webhook_secret     = env("SWITCHD_TEST_WHSEC")
  signing_key_id     = "shop-key-1"
  return_url         = "https://coffee.example/thanks"
}
