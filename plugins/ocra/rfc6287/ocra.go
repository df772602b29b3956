package rfc6287

import (
	"crypto/hmac"
	"crypto/subtle"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math/big"
	"strings"
)

// Input holds the data inputs of one OCRA computation. Only the inputs the
// suite names are used; a value the suite does not name must be left zero.
type Input struct {
	// Counter is C.
	Counter uint64
	// Question is Q: one challenge, or in mutual mode two challenges
	// concatenated. It may be up to twice the suite's challenge length.
	Question string
	// Password is P: the hash of the PIN (see Suite.HashPassword).
	Password []byte
	// Session is S: session information, at most SessionLength bytes.
	Session []byte
	// Time is T: the number of time steps (see Suite.TimeSteps).
	Time uint64
}

// CheckChallenge reports whether q is a single challenge the suite accepts:
// 1..ChallengeLength characters of the suite's challenge format.
func (s *Suite) CheckChallenge(q string) error {
	if len(q) == 0 || len(q) > s.ChallengeLength {
		return fmt.Errorf("%w: length %d, want 1..%d", ErrChallenge, len(q), s.ChallengeLength)
	}
	return checkChars(s.ChallengeFormat, q)
}

func checkChars(format byte, q string) error {
	for i := 0; i < len(q); i++ {
		c := q[i]
		ok := false
		switch format {
		case FormatNumeric:
			ok = c >= '0' && c <= '9'
		case FormatHex:
			ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
		case FormatAlphanumeric:
			ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
		}
		if !ok {
			return fmt.Errorf("%w: character %d is not allowed in format %c", ErrChallenge, i+1, format)
		}
	}
	return nil
}

// encodeQuestion returns Q as the 128-byte field of the DataInput.
func (s *Suite) encodeQuestion(q string) ([]byte, error) {
	if len(q) == 0 {
		return nil, fmt.Errorf("%w: empty", ErrChallenge)
	}
	if len(q) > 2*s.ChallengeLength {
		return nil, fmt.Errorf("%w: length %d, want at most %d", ErrChallenge, len(q), 2*s.ChallengeLength)
	}
	if err := checkChars(s.ChallengeFormat, q); err != nil {
		return nil, err
	}
	var b []byte
	switch s.ChallengeFormat {
	case FormatAlphanumeric:
		b = []byte(q)
	case FormatNumeric, FormatHex:
		h := q
		if s.ChallengeFormat == FormatNumeric {
			n, ok := new(big.Int).SetString(q, 10)
			if !ok {
				return nil, fmt.Errorf("%w: not a decimal number", ErrChallenge)
			}
			h = n.Text(16)
		}
		if len(h)%2 == 1 {
			h += "0"
		}
		var err error
		if b, err = hex.DecodeString(strings.ToLower(h)); err != nil {
			return nil, fmt.Errorf("%w: not hexadecimal", ErrChallenge)
		}
	}
	if len(b) > questionSize {
		return nil, fmt.Errorf("%w: encodes to %d bytes, more than %d", ErrChallenge, len(b), questionSize)
	}
	out := make([]byte, questionSize)
	copy(out, b)
	return out, nil
}

// DataInput returns the message that is MACed: the suite, a zero byte, and
// the data inputs the suite names, encoded as RFC 6287 section 5.1 defines.
func (s *Suite) DataInput(in Input) ([]byte, error) {
	if !s.Counter && in.Counter != 0 {
		return nil, fmt.Errorf("%w: counter given but suite has no C", ErrInput)
	}
	if s.Password == "" && in.Password != nil {
		return nil, fmt.Errorf("%w: password given but suite has no P", ErrInput)
	}
	if s.SessionLength == 0 && in.Session != nil {
		return nil, fmt.Errorf("%w: session information given but suite has no S", ErrInput)
	}
	if s.TimeStep == 0 && in.Time != 0 {
		return nil, fmt.Errorf("%w: time given but suite has no T", ErrInput)
	}
	q, err := s.encodeQuestion(in.Question)
	if err != nil {
		return nil, err
	}
	msg := make([]byte, 0, len(s.Raw)+1+8+questionSize+64+s.SessionLength+8)
	msg = append(msg, s.Raw...)
	msg = append(msg, 0)
	if s.Counter {
		msg = binary.BigEndian.AppendUint64(msg, in.Counter)
	}
	msg = append(msg, q...)
	if s.Password != "" {
		if len(in.Password) != s.Password.size() {
			return nil, fmt.Errorf("%w: password hash is %d bytes, want %d (%s)", ErrInput, len(in.Password), s.Password.size(), s.Password)
		}
		msg = append(msg, in.Password...)
	}
	if s.SessionLength > 0 {
		if len(in.Session) > s.SessionLength {
			return nil, fmt.Errorf("%w: session information is %d bytes, want at most %d", ErrInput, len(in.Session), s.SessionLength)
		}
		sess := make([]byte, s.SessionLength)
		copy(sess, in.Session)
		msg = append(msg, sess...)
	}
	if s.TimeStep > 0 {
		msg = binary.BigEndian.AppendUint64(msg, in.Time)
	}
	return msg, nil
}

// Compute returns the OCRA response for key and in: HMAC over DataInput,
// dynamically truncated as in HOTP (RFC 4226) to s.Digits decimal digits.
func (s *Suite) Compute(key []byte, in Input) (string, error) {
	if len(key) == 0 {
		return "", fmt.Errorf("%w: empty key", ErrInput)
	}
	msg, err := s.DataInput(in)
	if err != nil {
		return "", err
	}
	mac := hmac.New(s.Hash.new(), key)
	mac.Write(msg)
	sum := mac.Sum(nil)
	off := int(sum[len(sum)-1] & 0x0f)
	bin := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	mod := uint64(1)
	for range s.Digits {
		mod *= 10
	}
	return fmt.Sprintf("%0*d", s.Digits, uint64(bin)%mod), nil
}

// Verify reports whether response is the OCRA response for key and in. The
// comparison takes the same time wherever the first difference is.
func (s *Suite) Verify(key []byte, in Input, response string) (bool, error) {
	want, err := s.Compute(key, in)
	if err != nil {
		return false, err
	}
	return subtle.ConstantTimeCompare([]byte(want), []byte(response)) == 1, nil
}
