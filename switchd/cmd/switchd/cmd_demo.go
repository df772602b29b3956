package main

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/switchd/switchd/examples/checkout"
)

func newDemoCmd() *cobra.Command {
	var (
		apiURL, quickstart, apiKey, webhookAddr, phoneFile, origin string
		webhookTimeout                                             time.Duration
	)
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Pay twice through a running quickstart switchd, as the store and as the payers",
		Long: `demo runs two payments against a running switchd on the quickstart network
(make run): Bob pays by card at Beta Bank with a passkey (a software WebAuthn
authenticator, enrolled on the first run with the activation code Beta Bank
gave him, <quickstart>/secrets/bob_enrollment_code, and kept in
--phone-file), and Alice
pays by bank transfer at Alpha Bank with OCRA (switchd/wallet).

For each payment the Tea Shop signs its order terms with its Ed25519 key and
creates the payment with its API key; the payer chooses the method (A; the
acquirer checks the shop's signature, B), recomputes the order digest and
authenticates with the issuer over it (C); switchd debits and credits (D) and
the shop receives the signed webhook on --webhook-addr and verifies it (E).
Each step is printed with its duration.

Keys are the published DEMO TEST keys in <quickstart>/secrets.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := checkout.Quickstart(quickstart, apiURL, phoneFile, origin)
			if err != nil {
				return err
			}
			cfg.Store.APIKey, cfg.Store.WebhookAddr = apiKey, webhookAddr
			cfg.Out, cfg.WebhookTimeout = cmd.OutOrStdout(), webhookTimeout
			_, err = checkout.Run(cmd.Context(), cfg)
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&apiURL, "api-url", "http://127.0.0.1:8080", "switchd's public API")
	f.StringVar(&quickstart, "quickstart", "examples/quickstart", "the quickstart network folder (its secrets/ holds the demo keys)")
	f.StringVar(&apiKey, "api-key", checkout.QuickstartDemoKey, "the Tea Shop's API key")
	f.StringVar(&webhookAddr, "webhook-addr", "127.0.0.1:8090", "where the Tea Shop receives webhooks (its webhook_url)")
	f.StringVar(&phoneFile, "phone-file", "data/demo-phone.json", "Bob's software passkey, created on the first run")
	f.StringVar(&origin, "passkey-origin", "http://localhost:8080", "the payment page origin the passkey reports (in Beta Bank's rp_origins)")
	f.DurationVar(&webhookTimeout, "webhook-timeout", 30*time.Second, "how long to wait for each webhook")
	cmd.AddCommand(newDemoOrderCmd())
	return cmd
}

// newDemoOrderCmd prints a create-payment body signed with the Tea Shop's
// key, for people who drive the API with curl.
func newDemoOrderCmd() *cobra.Command {
	var (
		quickstart, currency, ref string
		amount                    int64
		expiresIn                 time.Duration
	)
	cmd := &cobra.Command{
		Use:   "order",
		Short: "Print a POST /v1/payments body signed with the Tea Shop's demo key",
		Example: `  switchd demo order --amount-minor 1250 --order-ref tea-42 > order.json
  curl -s http://127.0.0.1:8080/v1/payments -H 'Content-Type: application/json' \
    -H 'Authorization: Bearer ` + checkout.QuickstartDemoKey + `' -d @order.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if amount <= 0 {
				return fmt.Errorf("demo order: --amount-minor must be a positive number of minor units")
			}
			if ref == "" {
				ref = "curl-" + time.Now().UTC().Format("20060102-150405.000")
			}
			cfg, err := checkout.Quickstart(quickstart, "", "", "")
			if err != nil {
				return err
			}
			now := time.Now()
			b, err := json.Marshal(cfg.Store.SignedOrder(amount, currency, ref, now.Add(expiresIn), now))
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), string(b))
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&quickstart, "quickstart", "examples/quickstart", "the quickstart network folder (its secrets/ holds the shop's key)")
	f.Int64Var(&amount, "amount-minor", 0, "amount in minor units, e.g. 1250 for EUR 12.50 (required)")
	f.StringVar(&currency, "currency", "EUR", "ISO 4217 currency")
	f.StringVar(&ref, "order-ref", "", "the shop's order reference (default: a fresh one)")
	f.DurationVar(&expiresIn, "expires-in", 15*time.Minute, "how long the payment can be paid")
	return cmd
}
