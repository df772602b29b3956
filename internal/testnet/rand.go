package testnet

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
)

// Luhn returns digits followed by their Luhn check digit, so that a card or
// account number built from a prefix passes the check.
func Luhn(digits string) string {
	sum, double := 0, true
	for i := len(digits) - 1; i >= 0; i-- {
		d := int(digits[i] - '0')
		if double {
			if d *= 2; d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return digits + strconv.Itoa((10-sum%10)%10)
}

// RandBytes returns n random bytes from crypto/rand.
func RandBytes(n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on the platforms Go supports
	}
	return b
}

// RandHex returns n random bytes, hex encoded (2n characters).
func RandHex(n int) string { return hex.EncodeToString(RandBytes(n)) }

// SHA256Hex returns the hex SHA-256 of s, the form of api_key_sha256 and
// enrollment_code_sha256.
func SHA256Hex(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}
