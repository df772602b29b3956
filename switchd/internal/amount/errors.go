package amount

import "errors"

// Errors returned by Parse, Check and Exponent. They are wrapped with the
// offending currency where that helps; test with errors.Is.
var (
	// ErrUnknownCurrency is returned when a currency is not an upper-case
	// ISO 4217 code listed in the table.
	ErrUnknownCurrency = errors.New("amount: unknown currency")
	// ErrSyntax is returned when an amount is not a plain decimal number
	// (digits, optionally one point followed by digits; no sign, exponent,
	// spaces or thousands separators).
	ErrSyntax = errors.New("amount: not a plain decimal number")
	// ErrTooManyDecimals is returned when an amount has more decimal places
	// than the currency's minor unit allows.
	ErrTooManyDecimals = errors.New("amount: too many decimal places for the currency")
	// ErrNotPositive is returned when an amount is zero or negative.
	ErrNotPositive = errors.New("amount: must be greater than zero")
	// ErrOverflow is returned when an amount does not fit in int64 minor units.
	ErrOverflow = errors.New("amount: too large")
)
