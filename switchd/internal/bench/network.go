package bench

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

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
func luhn(s string) string {
	sum, double := 0, true
	for i := len(s) - 1; i >= 0; i-- {
		d := int(s[i] - '0')
		if double {
			if d *= 2; d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return s + strconv.Itoa((10-sum%10)%10)
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on Linux
	}
	return b
}

// newNetwork writes a network of nPayers payers and nMerchants merchants
// into dir, with the plugin binaries at plugins (name → path) pinned by
// their sha256, and webhooks going to webhookURL.
func newNetwork(dir string, plugins map[string]string, nPayers, nMerchants int, webhookURL string) (*network, error) {
	sec, err := webhook.NewSecret()
	if err != nil {
		return nil, fmt.Errorf("bench: webhook secret: %w", err)
	}
	n := &network{Dir: dir, WebhookSec: sec}
	if err := os.MkdirAll(filepath.Join(dir, "secrets"), 0o700); err != nil {
		return nil, fmt.Errorf("bench: network dir: %w", err)
	}
	for i := range nPayers {
		n.Payers = append(n.Payers, &payer{
			ID:      fmt.Sprintf("payer%04d", i),
			PAN:     luhn(fmt.Sprintf("%s00%09d", issuerBIN, i)),
			Account: luhn(fmt.Sprintf("1%s%04d", issuerCode, i)),
			OCRAKey: randomBytes(32),
		})
	}
	for i := range nMerchants {
		_, key, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("bench: seller key: %w", err)
		}
		n.Merchants = append(n.Merchants, &merchant{
			ID:         fmt.Sprintf("shop%03d", i),
			APIKey:     "sk_bench_" + hex.EncodeToString(randomBytes(16)),
			SigningKey: key,
			Settlement: luhn(fmt.Sprintf("9%s%04d", acquirerCode, i)),
		})
	}
	w := &hclWriter{dir: dir}
	w.plugins(plugins)
	w.issuer(n)
	w.acquirer(n, webhookURL)
	if w.err != nil {
		return nil, w.err
	}
	return n, nil
}

// hclWriter writes the network's files, remembering the first error.
type hclWriter struct {
	dir string
	err error
}

func (w *hclWriter) write(name, text string) {
	if w.err == nil {
		w.err = os.WriteFile(filepath.Join(w.dir, name), []byte(text), 0o600)
	}
}

// secret writes value to its own file and returns the HCL expression
// reading it, so no secret is inline in the configuration.
func (w *hclWriter) secret(name, value string) string {
	w.write(filepath.Join("secrets", name), value)
	return fmt.Sprintf("file(%q)", "secrets/"+name)
}

func (w *hclWriter) plugins(paths map[string]string) {
	plug, err := pluginhost.PinnedBlocks(paths, pluginNames)
	if err != nil {
		w.err = fmt.Errorf("bench: %w", err)
		return
	}
	w.write("plugins.hcl", string(plug))
}

func (w *hclWriter) issuer(n *network) {
	var keys, cards, accounts strings.Builder
	for _, p := range n.Payers {
		fmt.Fprintf(&keys, "    payer %q { key = %s }\n", p.ID, w.secret(p.ID+".ocra", hex.EncodeToString(p.OCRAKey)))
		fmt.Fprintf(&cards, `    card %q {
      pan          = %s
      expiry       = "12/39"
      holder       = %q
      credit_limit = %d
      currency     = %q
    }
`, p.ID, w.secret(p.ID+".pan", p.PAN), p.ID, seedBalance, currency)
		fmt.Fprintf(&accounts, `    account %q {
      holder   = %q
      balance  = %d
      currency = %q
    }
`, p.Account, p.ID, seedBalance, currency)
	}
	w.write(issuerID+".hcl", fmt.Sprintf(`
institution %q {
  display_name = "Bank A"
  roles        = ["issuer"]
  bank_code    = %q
  bin_ranges   = ["%s00-%s99"]

  authenticator "ocra" {
    attestation_key    = %s
    attestation_key_id = "a-1"
%s  }
  method "card" {
    plugin    = "card"
    token_key = %s
%s  }
  method "bank_transfer" {
    plugin    = "banktransfer"
    token_key = %s
%s  }
}
`, issuerID, issuerCode, issuerBIN, issuerBIN, w.secret("a_att", hex.EncodeToString(randomBytes(32))), keys.String(),
		w.secret("a_card_token", hex.EncodeToString(randomBytes(32))), cards.String(),
		w.secret("a_bt_token", hex.EncodeToString(randomBytes(32))), accounts.String()))
}

func (w *hclWriter) acquirer(n *network, webhookURL string) {
	var sellers, cardAccts, btAccts, merchants strings.Builder
	whsec := w.secret("whsec", n.WebhookSec)
	for _, m := range n.Merchants {
		pub := base64.StdEncoding.EncodeToString(m.SigningKey.Public().(ed25519.PublicKey))
		fmt.Fprintf(&sellers, "    merchant %q {\n      key \"k1\" { public_key = %q }\n    }\n", m.ID, pub)
		fmt.Fprintf(&cardAccts, "    merchant_account %q { currency = %q }\n", m.Settlement, currency)
		fmt.Fprintf(&btAccts, "    account %q {\n      holder   = %q\n      currency = %q\n    }\n", m.Settlement, m.ID, currency)
		sum := sha256.Sum256([]byte(m.APIKey))
		fmt.Fprintf(&merchants, `
merchant %q {
  display_name       = %q
  acquirer           = %q
  api_key_sha256     = %q
  settlement_account = %q
  webhook_url        = %q
  webhook_secret     = %s
  signing_key_id     = "k1"
}
`, m.ID, "Shop "+m.ID, acquirerID, hex.EncodeToString(sum[:]), m.Settlement, webhookURL, whsec)
	}
	w.write(acquirerID+".hcl", fmt.Sprintf(`
institution %q {
  display_name = "Bank B"
  roles        = ["acquirer"]
  bank_code    = %q

  authenticator "merchantsig" {
    attestation_key    = %s
    attestation_key_id = "b-1"
%s  }
  method "card" {
    plugin    = "card"
    token_key = %s
%s  }
  method "bank_transfer" {
    plugin    = "banktransfer"
    token_key = %s
%s  }
}
%s`, acquirerID, acquirerCode, w.secret("b_att", hex.EncodeToString(randomBytes(32))), sellers.String(),
		w.secret("b_card_token", hex.EncodeToString(randomBytes(32))), cardAccts.String(),
		w.secret("b_bt_token", hex.EncodeToString(randomBytes(32))), btAccts.String(), merchants.String()))
}
