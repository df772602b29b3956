package cardplugin

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// MinKeyBytes is the least length of the tokenization key.
const MinKeyBytes = 16

// tokenPrefix marks a card token.
const tokenPrefix = "ctok_"

// ValidatePAN checks that pan is 12 to 19 digits and passes the Luhn check.
func ValidatePAN(pan string) error {
	for i := 0; i < len(pan); i++ {
		if pan[i] < '0' || pan[i] > '9' {
			return ErrPANNotDigits
		}
	}
	if len(pan) < 12 || len(pan) > 19 {
		return ErrPANLength
	}
	if !Luhn(pan) {
		return ErrPANLuhn
	}
	return nil
}

// Luhn reports whether the digit string s passes the Luhn (mod 10) check.
// It returns false for an empty string or one holding non-digits.
func Luhn(s string) bool {
	if s == "" {
		return false
	}
	sum := 0
	double := false
	for i := len(s) - 1; i >= 0; i-- {
		c := s[i]
		if c < '0' || c > '9' {
			return false
		}
		d := int(c - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum%10 == 0
}

// Tokenize returns the card's token: HMAC-SHA256 of the PAN under key,
// base64url without padding, after the prefix "ctok_". Without the key the
// token reveals nothing of the number.
func Tokenize(key []byte, pan string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(pan))
	return tokenPrefix + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// DecodeKey decodes token_key from hex or base64 (standard or URL alphabet,
// with or without padding). Hex is tried first.
func DecodeKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	key, err := hex.DecodeString(s)
	if err != nil {
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
			if key, err = enc.DecodeString(s); err == nil {
				break
			}
		}
	}
	if err != nil || s == "" {
		return nil, ErrKeyEncoding
	}
	if len(key) < MinKeyBytes {
		return nil, ErrKeyShort
	}
	return key, nil
}

// Expiry is a card's expiry month.
type Expiry struct {
	Month int // 1..12
	Year  int // four digits
}

// ParseExpiry parses "MM/YY" (years 2000-2099).
func ParseExpiry(s string) (Expiry, error) {
	mm, yy, ok := strings.Cut(s, "/")
	if !ok || len(mm) != 2 || len(yy) != 2 || !digits(mm+yy) {
		return Expiry{}, ErrExpiry
	}
	m, err1 := strconv.Atoi(mm)
	y, err2 := strconv.Atoi(yy)
	if err1 != nil || err2 != nil || m < 1 || m > 12 || y < 0 {
		return Expiry{}, ErrExpiry
	}
	return Expiry{Month: m, Year: 2000 + y}, nil
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Expired reports whether the card is expired at now: a card is valid
// through the last day of its expiry month, in UTC.
func (e Expiry) Expired(now time.Time) bool {
	firstAfter := time.Date(e.Year, time.Month(e.Month)+1, 1, 0, 0, 0, 0, time.UTC)
	return !now.UTC().Before(firstAfter)
}

// String renders the expiry as "MM/YY".
func (e Expiry) String() string { return fmt.Sprintf("%02d/%02d", e.Month, e.Year%100) }

// Brand names the card scheme from the PAN's leading digits, for display.
func Brand(pan string) string {
	prefix := func(n int) int {
		if len(pan) < n {
			return -1
		}
		v, _ := strconv.Atoi(pan[:n])
		return v
	}
	switch p2, p4 := prefix(2), prefix(4); {
	case strings.HasPrefix(pan, "4"):
		return "VISA"
	case p2 >= 51 && p2 <= 55, p4 >= 2221 && p4 <= 2720:
		return "MASTERCARD"
	case p2 == 34 || p2 == 37:
		return "AMEX"
	}
	return "CARD"
}

// Display returns what the payer may be shown, e.g. "VISA ···· 1111".
func Display(pan string) string {
	return Brand(pan) + " ···· " + pan[len(pan)-4:]
}

// binRange is one "start-end" range of the institution's BINs.
type binRange struct{ start, end string }

func parseBINRange(s string) (binRange, error) {
	start, end, ok := strings.Cut(s, "-")
	if !ok || start == "" || len(start) != len(end) || start > end {
		return binRange{}, fmt.Errorf("BIN range %q is not \"start-end\" of equal-length digit strings", s)
	}
	for _, r := range start + end {
		if r < '0' || r > '9' {
			return binRange{}, fmt.Errorf("BIN range %q is not \"start-end\" of equal-length digit strings", s)
		}
	}
	return binRange{start, end}, nil
}

func (r binRange) contains(pan string) bool {
	n := len(r.start)
	if len(pan) < n {
		return false
	}
	p := pan[:n]
	return p >= r.start && p <= r.end
}
