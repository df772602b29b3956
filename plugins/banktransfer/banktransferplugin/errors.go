package banktransferplugin

import "errors"

// Errors returned by ValidateAccount. None of them carries the number.
var (
	// ErrAccountFormat is returned when an account number does not match
	// the bank's account_pattern.
	ErrAccountFormat = errors.New("account number does not match this bank's account format")
	// ErrCheckDigit is returned when an account number fails the bank's
	// check-digit scheme.
	ErrCheckDigit = errors.New("account number fails the check digit")
)
