package main

import (
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
authenticator, enrolled on the first run and kept in --phone-file), and Alice
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
	return cmd
}
