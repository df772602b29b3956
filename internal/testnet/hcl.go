package testnet

import (
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"strings"
)

// Institution is an institution block: one authenticator and its payment
// methods.
type Institution struct {
	ID, DisplayName string
	Role            string // "issuer" or "acquirer"
	BankCode        string
	BINRange        string // "411100-411199"; none when empty
	Authenticator   Authenticator
	Methods         []Method
}

// Authenticator is an institution's authenticator block.
type Authenticator struct {
	Plugin           string
	AttestationKey   string // an HCL expression, usually Dir.Secret's
	AttestationKeyID string
	// Body is the rest of the block, four spaces in: payers (OCRAPayer),
	// sellers (SellerKey) or plugin settings.
	Body string
}

// Method is one payment method block of an institution.
type Method struct {
	Name, Plugin string
	TokenKey     string // an HCL expression
	// Body is the rest of the block, four spaces in: cards (Card) or
	// accounts (Account, MerchantAccount).
	Body string
}

// HCL returns the institution block.
func (in Institution) HCL() string {
	var b strings.Builder
	fmt.Fprintf(&b, "\ninstitution %q {\n  display_name = %q\n  roles        = [%q]\n  bank_code    = %q\n",
		in.ID, in.DisplayName, in.Role, in.BankCode)
	if in.BINRange != "" {
		fmt.Fprintf(&b, "  bin_ranges   = [%q]\n", in.BINRange)
	}
	a := in.Authenticator
	fmt.Fprintf(&b, "\n  authenticator %q {\n    attestation_key    = %s\n    attestation_key_id = %q\n%s  }\n",
		a.Plugin, a.AttestationKey, a.AttestationKeyID, a.Body)
	for _, m := range in.Methods {
		fmt.Fprintf(&b, "  method %q {\n    plugin    = %q\n    token_key = %s\n%s  }\n", m.Name, m.Plugin, m.TokenKey, m.Body)
	}
	b.WriteString("}\n")
	return b.String()
}

// OCRAPayer is a payer line of an OCRA authenticator; key is an HCL
// expression for the hex key.
func OCRAPayer(id, key string) string {
	return fmt.Sprintf("    payer %q { key = %s }\n", id, key)
}

// SellerKey is a merchant block of a merchantsig authenticator with the
// seller's key "k1".
func SellerKey(merchantID string, pub ed25519.PublicKey) string {
	return fmt.Sprintf("    merchant %q {\n      key \"k1\" { public_key = %q }\n    }\n",
		merchantID, base64.StdEncoding.EncodeToString(pub))
}

// Card is a card block of an issuer's card method.
type Card struct {
	Label       string
	PAN         string // an HCL expression: the PAN is a secret
	Holder      string
	CreditLimit int64
	Currency    string
}

// HCL returns the card block; every card expires 12/39.
func (c Card) HCL() string {
	return fmt.Sprintf("    card %q {\n      pan          = %s\n      expiry       = \"12/39\"\n      holder       = %q\n      credit_limit = %d\n      currency     = %q\n    }\n",
		c.Label, c.PAN, c.Holder, c.CreditLimit, c.Currency)
}

// Account is an account block of a bank_transfer method.
type Account struct {
	Number, Holder string
	Balance        int64 // written only when not 0 (a settlement account starts empty)
	Currency       string
}

// HCL returns the account block.
func (a Account) HCL() string {
	bal := ""
	if a.Balance != 0 {
		bal = fmt.Sprintf("      balance  = %d\n", a.Balance)
	}
	return fmt.Sprintf("    account %q {\n      holder   = %q\n%s      currency = %q\n    }\n", a.Number, a.Holder, bal, a.Currency)
}

// MerchantAccount is a merchant_account line of an acquirer's card method.
func MerchantAccount(number, currency string) string {
	return fmt.Sprintf("    merchant_account %q { currency = %q }\n", number, currency)
}

// Merchant is a merchant block; its sellers sign with key "k1".
type Merchant struct {
	ID          string
	DisplayName string // omitted when empty
	Acquirer    string
	APIKey      string // the key itself; the block holds its SHA-256
	Settlement  string
	WebhookURL  string
	// WebhookSecret is an HCL expression for the signing secret.
	WebhookSecret string
}

// HCL returns the merchant block.
func (m Merchant) HCL() string {
	name := ""
	if m.DisplayName != "" {
		name = fmt.Sprintf("  display_name       = %q\n", m.DisplayName)
	}
	return fmt.Sprintf("\nmerchant %q {\n%s  acquirer           = %q\n  api_key_sha256     = %q\n  settlement_account = %q\n  webhook_url        = %q\n  webhook_secret     = %s\n  signing_key_id     = \"k1\"\n}\n",
		m.ID, name, m.Acquirer, SHA256Hex(m.APIKey), m.Settlement, m.WebhookURL, m.WebhookSecret)
}

// PasskeyRP is the relying party of a passkey authenticator: its id, the
// name payers see, and the one origin the payment page runs on.
func PasskeyRP(id, displayName, origin string) string {
	return fmt.Sprintf("    rp_id              = %q\n    rp_display_name    = %q\n    rp_origins         = [%q]\n", id, displayName, origin)
}

// PasskeyPayer is a payer block of a passkey authenticator; codeSHA256 is
// an HCL expression for the hex SHA-256 of the payer's activation code.
// displayName is omitted when empty.
func PasskeyPayer(id, displayName, codeSHA256 string) string {
	if displayName == "" {
		return fmt.Sprintf("    payer %q { enrollment_code_sha256 = %s }\n", id, codeSHA256)
	}
	return fmt.Sprintf("    payer %q {\n      display_name           = %q\n      enrollment_code_sha256 = %s\n    }\n", id, displayName, codeSHA256)
}
