package banktransferplugin

import (
	"regexp"

	"github.com/switchd/switchd/plugins/card/cardplugin"
	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
	"github.com/switchd/switchd/plugins/sdk"
)

// config is the shape of ConfigureRequest.config_json; Schema describes it.
type config struct {
	TokenKey       string          `json:"token_key"`
	AccountPattern *string         `json:"account_pattern"`
	CheckDigit     *string         `json:"check_digit"`
	Accounts       []accountConfig `json:"account"`
}

type accountConfig struct {
	Number         string `json:"number"`
	Holder         string `json:"holder"`
	Balance        int64  `json:"balance"`
	Currency       string `json:"currency"`
	OverdraftLimit int64  `json:"overdraft_limit"`
}

// Schema is the schema of the bank-transfer plugin's block.
func Schema() *pb.Schema {
	str, num := pb.AttributeType_ATTRIBUTE_TYPE_STRING, pb.AttributeType_ATTRIBUTE_TYPE_NUMBER
	return &pb.Schema{
		Attributes: []*pb.Attribute{
			sdk.SensitiveAttr("token_key", str, true, "Key of the HMAC-SHA256 that turns account numbers into tokens, hex or base64, at least 16 bytes."),
			sdk.Attr("account_pattern", str, false, "Regular expression (Go RE2) every account number of this bank matches; default "+DefaultAccountPattern+"."),
			sdk.Attr("check_digit", str, false, `Check-digit scheme of account numbers: "luhn" (default; the last digit is the Luhn check digit) or "none".`),
		},
		Blocks: []*pb.BlockType{{
			Name:        "account",
			Labels:      []string{"number"},
			Description: "An account held at this bank: a payer's, or a seller's settlement account.",
			Body: &pb.Schema{Attributes: []*pb.Attribute{
				sdk.Attr("holder", str, true, "The account holder's payer reference (for step C), or the seller's id."),
				sdk.Attr("balance", num, false, "Opening balance in minor units, posted once when the account is created; default 0."),
				sdk.Attr("currency", str, true, "ISO 4217 code of the account, e.g. EUR."),
				sdk.Attr("overdraft_limit", num, false, "Overdraft in minor units: the balance may not go below -overdraft_limit; default 0."),
			}},
		}},
	}
}

var currencyRE = regexp.MustCompile(`^[A-Z]{3}$`)

// settings is one instance's validated configuration, never changed after
// Configure builds it.
type settings struct {
	bankCode string
	tokenKey []byte
	format   format
	accounts map[string]*account // by number
	tokens   map[string]*account // by token
}

type account struct {
	number   string
	token    string
	holder   string
	currency string
	balance  int64
	limit    int64
}

// buildSettings decodes and validates one institution's configuration and
// returns every problem found as diagnostics.
func buildSettings(req *pb.ConfigureRequest) (*settings, []*pb.Diagnostic) {
	var cfg config
	if err := sdk.DecodeConfig(req.GetConfigJson(), &cfg); err != nil {
		return nil, []*pb.Diagnostic{sdk.ErrorDiag(nil, "Invalid bank_transfer configuration", "%v", err)}
	}
	var diags []*pb.Diagnostic
	s := &settings{bankCode: req.GetInstitution().GetBankCode(), accounts: map[string]*account{}, tokens: map[string]*account{}}
	if s.bankCode == "" {
		diags = append(diags, sdk.WarningDiag(nil, "Institution without a bank code", "institution %q has no bank_code, so no payer can name it for a bank transfer", req.GetInstitution().GetId()))
	}

	key, err := cardplugin.DecodeKey(cfg.TokenKey)
	if err != nil {
		diags = append(diags, sdk.ErrorDiag([]string{"token_key"}, "Invalid token_key", "%v; generate one with `openssl rand -hex 32` and pass it with env() or file()", err))
	}
	s.tokenKey = key

	pattern := DefaultAccountPattern
	if cfg.AccountPattern != nil {
		pattern = *cfg.AccountPattern
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		diags = append(diags, sdk.ErrorDiag([]string{"account_pattern"}, "Invalid account_pattern", "%v", err))
	}
	s.format.pattern = re
	s.format.checkDigit = CheckLuhn
	if cfg.CheckDigit != nil {
		s.format.checkDigit = *cfg.CheckDigit
	}
	if s.format.checkDigit != CheckLuhn && s.format.checkDigit != CheckNone {
		diags = append(diags, sdk.ErrorDiag([]string{"check_digit"}, "Invalid check_digit", `check_digit must be "luhn" or "none", not %q`, s.format.checkDigit))
	}

	formatOK := !sdk.HasErrors(diags)
	for _, a := range cfg.Accounts {
		path := func(attr ...string) []string { return append([]string{"account", a.Number}, attr...) }
		if a.Number == "" {
			diags = append(diags, sdk.ErrorDiag([]string{"account"}, "Account without a number", `write account "NUMBER" { ... }`))
			continue
		}
		if _, dup := s.accounts[a.Number]; dup {
			diags = append(diags, sdk.ErrorDiag(path(), "Duplicate account", "account %q is defined twice", a.Number))
			continue
		}
		bad := false
		if formatOK {
			if err := s.format.ValidateAccount(a.Number); err != nil {
				diags = append(diags, sdk.ErrorDiag(path(), "Invalid account number", "account %q: %v (pattern %s, check digit %s)", a.Number, err, pattern, s.format.checkDigit))
				bad = true
			}
		}
		if a.Holder == "" {
			diags = append(diags, sdk.ErrorDiag(path("holder"), "Missing holder", "account %q needs its holder's reference", a.Number))
			bad = true
		}
		if !currencyRE.MatchString(a.Currency) {
			diags = append(diags, sdk.ErrorDiag(path("currency"), "Invalid currency", "account %q: currency must be an ISO 4217 code such as EUR", a.Number))
			bad = true
		}
		if a.OverdraftLimit < 0 {
			diags = append(diags, sdk.ErrorDiag(path("overdraft_limit"), "Negative overdraft_limit", "account %q: overdraft_limit must be 0 or more", a.Number))
			bad = true
		} else if a.Balance < -a.OverdraftLimit {
			diags = append(diags, sdk.ErrorDiag(path("balance"), "Balance below the overdraft", "account %q: balance %d is below -overdraft_limit", a.Number, a.Balance))
			bad = true
		}
		if bad {
			continue
		}
		acct := &account{number: a.Number, holder: a.Holder, currency: a.Currency, balance: a.Balance, limit: a.OverdraftLimit}
		s.accounts[a.Number] = acct
		if key != nil {
			acct.token = Tokenize(key, a.Number)
			s.tokens[acct.token] = acct
		}
	}
	return s, diags
}
