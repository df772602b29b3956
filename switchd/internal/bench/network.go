package bench

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/switchd/switchd/internal/testnet"
	"github.com/switchd/switchd/switchd/internal/pluginhost"
	"github.com/switchd/switchd/switchd/internal/webhook"
)

// The generated network: bank_a is the issuer of every payer's card and
// account, bank_b the acquirer of every merchant.
const (
	issuerID     = "bank_a"
	issuerCode   = "1001"
	issuerBIN    = "4111" // cards 411100-411199
	acquirerID   = "bank_b"
	acquirerCode = "7001"
	currency     = "EUR"
	// seedBalance is every payer's card credit limit and account balance,
	// in minor units: enough for any run (a payment is at most 99.99).
	seedBalance = 1_000_000_000_000
	// maxSeeded bounds payers and merchants: account numbers are 10
	// digits (prefix, bank code, 4-digit index, Luhn check digit).
	maxSeeded = 10000
)

// pluginNames are the plugin binaries the bench network runs.
var pluginNames = []string{"card", "banktransfer", "merchantsig", "ocra"}

// payer is one seeded payer: a card and an account at the issuer and the
// OCRA key its phone shares with the issuer.
type payer struct {
	ID      string
	PAN     string
	Account string
	OCRAKey []byte
}

// merchant is one seeded shop at the acquirer.
type merchant struct {
	ID         string
	APIKey     string
	SigningKey ed25519.PrivateKey
	Settlement string
}

// network is a generated switchd network: HCL files and secret files in
// Dir, plus what the load generator needs to play the payers and shops.
type network struct {
	Dir        string
	Payers     []*payer
	Merchants  []*merchant
	WebhookSec string
}

// luhn appends the Luhn check digit to the digits s.
var luhn = testnet.Luhn

// newNetwork writes a network of nPayers payers and nMerchants merchants
// into dir, with the plugin binaries at plugins (name → path) pinned by
// their sha256, and webhooks going to webhookURL.
func newNetwork(dir string, plugins map[string]string, nPayers, nMerchants int, webhookURL string) (*network, error) {
	sec, err := webhook.NewSecret()
	if err != nil {
		return nil, fmt.Errorf("bench: webhook secret: %w", err)
	}
	n := &network{Dir: dir, WebhookSec: sec}
	files, err := testnet.NewDir(dir)
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	for i := range nPayers {
		n.Payers = append(n.Payers, &payer{
			ID:      fmt.Sprintf("payer%04d", i),
			PAN:     luhn(fmt.Sprintf("%s00%09d", issuerBIN, i)),
			Account: luhn(fmt.Sprintf("1%s%04d", issuerCode, i)),
			OCRAKey: testnet.RandBytes(32),
		})
	}
	for i := range nMerchants {
		_, key, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("bench: seller key: %w", err)
		}
		n.Merchants = append(n.Merchants, &merchant{
			ID:         fmt.Sprintf("shop%03d", i),
			APIKey:     "sk_bench_" + testnet.RandHex(16),
			SigningKey: key,
			Settlement: luhn(fmt.Sprintf("9%s%04d", acquirerCode, i)),
		})
	}
	plug, err := pluginhost.PinnedBlocks(plugins, pluginNames)
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	files.Write("plugins.hcl", string(plug))
	files.Write(issuerID+".hcl", issuerHCL(files, n))
	files.Write(acquirerID+".hcl", acquirerHCL(files, n, webhookURL))
	if err := files.Err(); err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	return n, nil
}

// issuerHCL is bank_a's file: every payer's OCRA key, card and account.
func issuerHCL(f *testnet.Dir, n *network) string {
	var keys, cards, accounts strings.Builder
	for _, p := range n.Payers {
		keys.WriteString(testnet.OCRAPayer(p.ID, f.Secret(p.ID+".ocra", hex.EncodeToString(p.OCRAKey))))
		cards.WriteString(testnet.Card{Label: p.ID, PAN: f.Secret(p.ID+".pan", p.PAN), Holder: p.ID, CreditLimit: seedBalance, Currency: currency}.HCL())
		accounts.WriteString(testnet.Account{Number: p.Account, Holder: p.ID, Balance: seedBalance, Currency: currency}.HCL())
	}
	return testnet.Institution{ID: issuerID, DisplayName: "Bank A", Role: "issuer", BankCode: issuerCode, BINRange: issuerBIN + "00-" + issuerBIN + "99",
		Authenticator: testnet.Authenticator{Plugin: "ocra", AttestationKey: f.Secret("a_att", testnet.RandHex(32)), AttestationKeyID: "a-1", Body: keys.String()},
		Methods: []testnet.Method{
			{Name: "card", Plugin: "card", TokenKey: f.Secret("a_card_token", testnet.RandHex(32)), Body: cards.String()},
			{Name: "bank_transfer", Plugin: "banktransfer", TokenKey: f.Secret("a_bt_token", testnet.RandHex(32)), Body: accounts.String()},
		}}.HCL()
}

// acquirerHCL is bank_b's file: every merchant's seller key and settlement
// account, and the merchant blocks.
func acquirerHCL(f *testnet.Dir, n *network, webhookURL string) string {
	var sellers, cardAccts, btAccts, merchants strings.Builder
	whsec := f.Secret("whsec", n.WebhookSec)
	for _, m := range n.Merchants {
		sellers.WriteString(testnet.SellerKey(m.ID, m.SigningKey.Public().(ed25519.PublicKey)))
		cardAccts.WriteString(testnet.MerchantAccount(m.Settlement, currency))
		btAccts.WriteString(testnet.Account{Number: m.Settlement, Holder: m.ID, Currency: currency}.HCL())
		merchants.WriteString(testnet.Merchant{ID: m.ID, DisplayName: "Shop " + m.ID, Acquirer: acquirerID, APIKey: m.APIKey,
			Settlement: m.Settlement, WebhookURL: webhookURL, WebhookSecret: whsec}.HCL())
	}
	return testnet.Institution{ID: acquirerID, DisplayName: "Bank B", Role: "acquirer", BankCode: acquirerCode,
		Authenticator: testnet.Authenticator{Plugin: "merchantsig", AttestationKey: f.Secret("b_att", testnet.RandHex(32)), AttestationKeyID: "b-1", Body: sellers.String()},
		Methods: []testnet.Method{
			{Name: "card", Plugin: "card", TokenKey: f.Secret("b_card_token", testnet.RandHex(32)), Body: cardAccts.String()},
			{Name: "bank_transfer", Plugin: "banktransfer", TokenKey: f.Secret("b_bt_token", testnet.RandHex(32)), Body: btAccts.String()},
		}}.HCL() + merchants.String()
}
