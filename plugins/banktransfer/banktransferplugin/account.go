package banktransferplugin

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"regexp"

	"github.com/switchd/switchd/plugins/card/cardplugin"
)

// Check-digit schemes for check_digit.
const (
	// CheckLuhn: the account number is digits only and its last digit is
	// the Luhn (mod 10) check digit of the digits before it, so any single
	// mistyped digit and most swaps of two neighbours are caught.
	CheckLuhn = "luhn"
	// CheckNone: no check digit.
	CheckNone = "none"
)

// DefaultAccountPattern is account_pattern when it is not set.
const DefaultAccountPattern = `^[0-9]{10}$`

// format is a bank's account-number rules.
type format struct {
	pattern    *regexp.Regexp
	checkDigit string
}

// ValidateAccount checks number against the pattern and the check digit.
func (f format) ValidateAccount(number string) error {
	if !f.pattern.MatchString(number) {
		return ErrAccountFormat
	}
	if f.checkDigit == CheckLuhn && !cardplugin.Luhn(number) {
		return ErrCheckDigit
	}
	return nil
}

// Display returns what the payer may be shown: "···· " and the last four
// characters.
func Display(number string) string { return "···· " + last4(number) }

func last4(number string) string {
	if len(number) <= 4 {
		return number
	}
	return number[len(number)-4:]
}

// Ledger account id of a bank account.
func ledgerAccount(number string) string { return "acct:" + number }

// Tokenize returns an account's token: HMAC-SHA256 of the account number
// under key, base64url without padding, after the prefix "btok_".
func Tokenize(key []byte, number string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(number))
	return "btok_" + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}
