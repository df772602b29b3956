package cardplugin

import "errors"

// Errors returned by ValidatePAN. None of them carries the number.
var (
	// ErrPANNotDigits is returned when a card number holds anything but
	// the digits 0-9.
	ErrPANNotDigits = errors.New("card number must be digits only")
	// ErrPANLength is returned when a card number is not 12 to 19 digits.
	ErrPANLength = errors.New("card number must be 12 to 19 digits")
	// ErrPANLuhn is returned when a card number fails the Luhn check.
	ErrPANLuhn = errors.New("card number fails the Luhn check")
)

// Errors returned by ParseExpiry.
var (
	// ErrExpiry is returned when an expiry is not "MM/YY" with MM 01-12.
	ErrExpiry = errors.New(`expiry must be "MM/YY" with MM from 01 to 12`)
)

// Errors returned by DecodeKey.
var (
	// ErrKeyEncoding is returned when token_key is neither hex nor base64.
	ErrKeyEncoding = errors.New("token_key must be hex or base64")
	// ErrKeyShort is returned when token_key decodes to fewer than
	// MinKeyBytes bytes.
	ErrKeyShort = errors.New("token_key must be at least 16 bytes")
)
