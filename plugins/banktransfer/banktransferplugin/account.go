package banktransferplugin

import (
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
