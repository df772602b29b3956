package cardplugin

import (
	"fmt"
	"regexp"
	"time"

	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
	"github.com/switchd/switchd/plugins/sdk"
)

// config is the shape of ConfigureRequest.config_json; Schema describes it.
type config struct {
	TokenKey         string           `json:"token_key"`
	Cards            []cardConfig     `json:"card"`
	MerchantAccounts []merchantConfig `json:"merchant_account"`
}

type cardConfig struct {
	Label       string `json:"label"`
	PAN         string `json:"pan"`
	Expiry      string `json:"expiry"`
	Holder      string `json:"holder"`
	CreditLimit int64  `json:"credit_limit"`
	Currency    string `json:"currency"`
}

type merchantConfig struct {
	Account  string `json:"account"`
	Currency string `json:"currency"`
}

// Schema is the schema of the card plugin's block.
func Schema() *pb.Schema {
	str, num := pb.AttributeType_ATTRIBUTE_TYPE_STRING, pb.AttributeType_ATTRIBUTE_TYPE_NUMBER
	return &pb.Schema{
		Attributes: []*pb.Attribute{
			sdk.SensitiveAttr("token_key", str, true, "Key of the HMAC-SHA256 that turns card numbers into tokens, hex or base64, at least 16 bytes. Changing it changes every token."),
		},
		Blocks: []*pb.BlockType{
			{
				Name:        "card",
				Labels:      []string{"label"},
				Description: "A card this institution issued, with its credit line (issuer side).",
				Body: &pb.Schema{Attributes: []*pb.Attribute{
					sdk.SensitiveAttr("pan", str, true, "The card number, 12 to 19 digits passing the Luhn check, inside the institution's bin_ranges."),
					sdk.Attr("expiry", str, true, `Expiry month as "MM/YY".`),
					sdk.Attr("holder", str, true, "The payer reference returned by ResolveInstrument and used to authenticate the payer at step C."),
					sdk.Attr("credit_limit", num, true, "Credit limit in minor units: the card's balance may not go below -credit_limit."),
					sdk.Attr("currency", str, true, "ISO 4217 code of the card's account, e.g. EUR."),
				}},
			},
			{
				Name:        "merchant_account",
				Labels:      []string{"account"},
				Description: "A seller's settlement account credited at step D (acquirer side).",
				Body: &pb.Schema{Attributes: []*pb.Attribute{
					sdk.Attr("currency", str, true, "ISO 4217 code of the account, e.g. EUR."),
				}},
			},
		},
	}
}

var (
	currencyRE = regexp.MustCompile(`^[A-Z]{3}$`)
	longDigits = regexp.MustCompile(`[0-9]{12,}`)
)

// settings is one instance's validated configuration. It is never changed
// after Configure builds it; a reload builds a new one. It holds no PAN.
type settings struct {
	tokenKey  []byte
	bins      []binRange
	cards     map[string]*card  // by token
	merchants map[string]string // account -> currency
}

// card is a seeded card, known by its token.
type card struct {
	label    string
	token    string
	expiry   Expiry
	holder   string
	limit    int64
	currency string
}

// buildSettings decodes and validates one institution's configuration and
// returns every problem found as diagnostics. No diagnostic holds a card
// number or the key.
func buildSettings(req *pb.ConfigureRequest, now time.Time) (*settings, []*pb.Diagnostic) {
	var cfg config
	if err := sdk.DecodeConfig(req.GetConfigJson(), &cfg); err != nil {
		// The JSON decoder may quote a mistyped number; never let a card
		// number through.
		msg := longDigits.ReplaceAllString(err.Error(), "[redacted]")
		return nil, []*pb.Diagnostic{sdk.ErrorDiag(nil, "Invalid card configuration", "%s", msg)}
	}
	var diags []*pb.Diagnostic
	s := &settings{cards: map[string]*card{}, merchants: map[string]string{}}

	for _, r := range req.GetInstitution().GetBinRanges() {
		br, err := parseBINRange(r)
		if err != nil {
			diags = append(diags, sdk.ErrorDiag(nil, "Invalid BIN range of the institution", "%v", err))
			continue
		}
		s.bins = append(s.bins, br)
	}

	key, err := DecodeKey(cfg.TokenKey)
	if err != nil {
		diags = append(diags, sdk.ErrorDiag([]string{"token_key"}, "Invalid token_key", "%v; generate one with `openssl rand -hex 32` and pass it with env() or file()", err))
	}
	s.tokenKey = key

	labels := map[string]bool{}
	for _, c := range cfg.Cards {
		path := func(attr string) []string { return []string{"card", c.Label, attr} }
		if c.Label == "" {
			diags = append(diags, sdk.ErrorDiag([]string{"card"}, "Card without a label", `write card "LABEL" { ... }`))
			continue
		}
		if labels[c.Label] {
			diags = append(diags, sdk.ErrorDiag([]string{"card", c.Label}, "Duplicate card label", "card %q is defined twice", c.Label))
			continue
		}
		labels[c.Label] = true
		bad := false
		if err := ValidatePAN(c.PAN); err != nil {
			diags = append(diags, sdk.ErrorDiag(path("pan"), "Invalid card number", "card %q: %v", c.Label, err))
			bad = true
		} else if !s.issues(c.PAN) {
			diags = append(diags, sdk.ErrorDiag(path("pan"), "Card not issued here", "card %q: its BIN is outside the institution's bin_ranges", c.Label))
			bad = true
		}
		exp, err := ParseExpiry(c.Expiry)
		if err != nil {
			diags = append(diags, sdk.ErrorDiag(path("expiry"), "Invalid expiry", "card %q: %v", c.Label, err))
			bad = true
		} else if exp.Expired(now) {
			diags = append(diags, sdk.WarningDiag(path("expiry"), "Card expired", "card %q expired at the end of %s; payments with it will be declined", c.Label, exp))
		}
		if c.Holder == "" {
			diags = append(diags, sdk.ErrorDiag(path("holder"), "Missing holder", "card %q needs the payer reference of its holder", c.Label))
			bad = true
		}
		if c.CreditLimit < 0 {
			diags = append(diags, sdk.ErrorDiag(path("credit_limit"), "Negative credit limit", "card %q: credit_limit must be 0 or more", c.Label))
			bad = true
		}
		if !currencyRE.MatchString(c.Currency) {
			diags = append(diags, sdk.ErrorDiag(path("currency"), "Invalid currency", "card %q: currency must be an ISO 4217 code such as EUR", c.Label))
			bad = true
		}
		if bad || key == nil {
			continue
		}
		tok := Tokenize(key, c.PAN)
		if prev, ok := s.cards[tok]; ok {
			diags = append(diags, sdk.ErrorDiag(path("pan"), "Duplicate card number", "card %q has the same number as card %q", c.Label, prev.label))
			continue
		}
		s.cards[tok] = &card{label: c.Label, token: tok, expiry: exp, holder: c.Holder, limit: c.CreditLimit, currency: c.Currency}
	}

	for _, m := range cfg.MerchantAccounts {
		if m.Account == "" {
			diags = append(diags, sdk.ErrorDiag([]string{"merchant_account"}, "Merchant account without a label", `write merchant_account "ACCOUNT" { ... }`))
			continue
		}
		if _, ok := s.merchants[m.Account]; ok {
			diags = append(diags, sdk.ErrorDiag([]string{"merchant_account", m.Account}, "Duplicate merchant account", "merchant_account %q is defined twice", m.Account))
			continue
		}
		if !currencyRE.MatchString(m.Currency) {
			diags = append(diags, sdk.ErrorDiag([]string{"merchant_account", m.Account, "currency"}, "Invalid currency", "merchant_account %q: currency must be an ISO 4217 code such as EUR", m.Account))
			continue
		}
		s.merchants[m.Account] = m.Currency
	}
	return s, diags
}

// issues reports whether pan's BIN is inside one of the institution's ranges.
func (s *settings) issues(pan string) bool {
	for _, r := range s.bins {
		if r.contains(pan) {
			return true
		}
	}
	return false
}

// Ledger account ids. The ledger holds tokens, never card numbers.
func cardAccount(token string) string       { return "card:" + token }
func merchantAccount(account string) string { return "merchant:" + account }

func (s *settings) String() string {
	return fmt.Sprintf("card settings: %d cards, %d merchant accounts", len(s.cards), len(s.merchants))
}
