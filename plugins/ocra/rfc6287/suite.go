package rfc6287

import (
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"fmt"
	"hash"
	"strconv"
	"strings"
	"time"
)

// HashAlg names a hash function usable in a suite.
type HashAlg string

// Hash functions named by OCRA suites.
const (
	SHA1   HashAlg = "SHA1"
	SHA256 HashAlg = "SHA256"
	SHA512 HashAlg = "SHA512"
)

func (h HashAlg) new() func() hash.Hash {
	switch h {
	case SHA1:
		return sha1.New
	case SHA256:
		return sha256.New
	case SHA512:
		return sha512.New
	}
	return nil
}

func (h HashAlg) size() int {
	switch h {
	case SHA1:
		return sha1.Size
	case SHA256:
		return sha256.Size
	case SHA512:
		return sha512.Size
	}
	return 0
}

func parseHashAlg(s string) (HashAlg, bool) {
	switch HashAlg(s) {
	case SHA1, SHA256, SHA512:
		return HashAlg(s), true
	}
	return "", false
}

// Challenge formats (the F of QFxx).
const (
	FormatAlphanumeric = 'A'
	FormatNumeric      = 'N'
	FormatHex          = 'H'
)

// questionSize is the fixed size of Q in the DataInput.
const questionSize = 128

// Suite is a parsed OCRA suite.
type Suite struct {
	// Raw is the suite string exactly as parsed; it is part of DataInput.
	Raw string
	// Hash is the HMAC hash function.
	Hash HashAlg
	// Digits is the response length (4..10).
	Digits int
	// Counter is true when DataInput includes C.
	Counter bool
	// ChallengeFormat is 'A', 'N' or 'H'.
	ChallengeFormat byte
	// ChallengeLength is the xx of QFxx: the longest challenge (04..64).
	ChallengeLength int
	// Password is the PIN hash function when DataInput includes P, else "".
	Password HashAlg
	// SessionLength is nnn of Snnn when DataInput includes S, else 0.
	SessionLength int
	// TimeStep is the step of TG when DataInput includes T, else 0.
	TimeStep time.Duration
}

func suiteErr(suite, format string, args ...any) error {
	return fmt.Errorf("%w %q: %s", ErrSuite, truncateForError(suite), fmt.Sprintf(format, args...))
}

func truncateForError(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

// ParseSuite parses an OCRA suite such as "OCRA-1:HOTP-SHA256-8:QA08" or
// "OCRA-1:HOTP-SHA512-8:C-QN08-PSHA1-S064-T1M". Tokens are case-sensitive,
// as written in RFC 6287.
func ParseSuite(raw string) (*Suite, error) {
	parts := strings.Split(raw, ":")
	if len(parts) != 3 {
		return nil, suiteErr(raw, "want three colon-separated parts (Algorithm:CryptoFunction:DataInput)")
	}
	if parts[0] != "OCRA-1" {
		return nil, suiteErr(raw, "algorithm must be OCRA-1, got %q", truncateForError(parts[0]))
	}
	s := &Suite{Raw: raw}

	cf := strings.Split(parts[1], "-")
	if len(cf) != 3 || cf[0] != "HOTP" {
		return nil, suiteErr(raw, "crypto function must look like HOTP-SHA1-6")
	}
	h, ok := parseHashAlg(cf[1])
	if !ok {
		return nil, suiteErr(raw, "hash must be SHA1, SHA256 or SHA512")
	}
	s.Hash = h
	d, err := strconv.Atoi(cf[2])
	if err != nil || len(cf[2]) > 2 {
		return nil, suiteErr(raw, "truncation must be a number")
	}
	if d == 0 {
		return nil, suiteErr(raw, "truncation 0 (no truncation) is not supported")
	}
	if d < 4 || d > 10 {
		return nil, suiteErr(raw, "truncation must be 4..10 digits")
	}
	s.Digits = d

	in := strings.Split(parts[2], "-")
	i := 0
	if i < len(in) && in[i] == "C" {
		s.Counter = true
		i++
	}
	if i >= len(in) || len(in[i]) != 4 || in[i][0] != 'Q' {
		return nil, suiteErr(raw, "data input must contain a challenge QFxx, e.g. QA08")
	}
	q := in[i]
	switch q[1] {
	case FormatAlphanumeric, FormatNumeric, FormatHex:
		s.ChallengeFormat = q[1]
	default:
		return nil, suiteErr(raw, "challenge format must be A, N or H")
	}
	n, err := strconv.Atoi(q[2:])
	if err != nil || q[2] < '0' || q[2] > '9' || n < 4 || n > 64 {
		return nil, suiteErr(raw, "challenge length must be 04..64")
	}
	s.ChallengeLength = n
	i++

	if i < len(in) && strings.HasPrefix(in[i], "P") {
		p, ok := parseHashAlg(in[i][1:])
		if !ok {
			return nil, suiteErr(raw, "password hash must be PSHA1, PSHA256 or PSHA512")
		}
		s.Password = p
		i++
	}
	if i < len(in) && strings.HasPrefix(in[i], "S") {
		v := in[i][1:]
		n, err := strconv.Atoi(v)
		if err != nil || len(v) != 3 || v[0] < '0' || v[0] > '9' || n < 1 || n > 512 {
			return nil, suiteErr(raw, "session information must be Snnn with nnn 001..512")
		}
		s.SessionLength = n
		i++
	}
	if i < len(in) && strings.HasPrefix(in[i], "T") && len(in[i]) >= 3 {
		v, unit := in[i][1:len(in[i])-1], in[i][len(in[i])-1]
		n, err := strconv.Atoi(v)
		if err != nil || len(v) > 2 || v[0] < '0' || v[0] > '9' {
			return nil, suiteErr(raw, "time step must be T followed by a number and S, M or H")
		}
		switch {
		case unit == 'S' && n >= 1 && n <= 59:
			s.TimeStep = time.Duration(n) * time.Second
		case unit == 'M' && n >= 1 && n <= 59:
			s.TimeStep = time.Duration(n) * time.Minute
		case unit == 'H' && n >= 1 && n <= 48:
			s.TimeStep = time.Duration(n) * time.Hour
		default:
			return nil, suiteErr(raw, "time step must be 1..59S, 1..59M or 1..48H")
		}
		i++
	}
	if i != len(in) {
		return nil, suiteErr(raw, "unexpected data input %q (order is [C]-QFxx-[PH]-[Snnn]-[TG])", truncateForError(in[i]))
	}
	return s, nil
}

// HashPassword returns the P value for pin: the suite's password hash of
// the PIN's bytes. It returns nil when the suite has no P input.
func (s *Suite) HashPassword(pin string) []byte {
	if s.Password == "" {
		return nil
	}
	h := s.Password.new()()
	h.Write([]byte(pin))
	return h.Sum(nil)
}

// TimeSteps returns the T value for t: the number of whole time steps since
// the Unix epoch. It returns 0 when the suite has no T input.
func (s *Suite) TimeSteps(t time.Time) uint64 {
	if s.TimeStep <= 0 || t.Unix() < 0 {
		return 0
	}
	return uint64(t.Unix()) / uint64(s.TimeStep/time.Second)
}
