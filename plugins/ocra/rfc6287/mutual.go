package rfc6287

import (
	"crypto/rand"
	"crypto/sha512"
	"encoding/base32"
	"encoding/hex"
	"fmt"
	"math/big"
)

// switchd's mutual profile of OCRA (RFC 6287 section 7.3), bound to an order
// digest. The payer leads:
//
//  1. The payer picks a random client challenge Q_C of exactly
//     ChallengeLength characters in the suite's format.
//  2. The issuer picks a random nonce of NonceSize bytes and derives its
//     server challenge Q_S from the order digest and the nonce (see
//     ServerChallenge). It answers R_S = OCRA(K, Q = Q_C || Q_S).
//  3. The payer recomputes Q_S from the digest it holds and the nonce, and
//     checks R_S. Only then does it answer R_C = OCRA(K, Q = Q_S || Q_C).
//  4. The issuer checks R_C against Q_S derived from the same digest.
//
// Both challenges have the exact length ChallengeLength, so the concatenation
// is unambiguous, and the profile accepts only suites whose DataInput is the
// challenge alone (see CheckMutual): freshness comes from the two one-time
// challenges, not from counters or clocks that a browser would have to keep.

// ServerChallengeTag starts the hashed input of ServerChallenge.
const ServerChallengeTag = "switchd-ocra-server-challenge-v1"

// NonceSize is the size in bytes of the issuer's nonce.
const NonceSize = 16

// DigestSize is the size in bytes of an order digest (SHA-256).
const DigestSize = 32

// BeginPayerData is the payer_data of BeginMutualAuth.
type BeginPayerData struct {
	ClientChallenge string `json:"client_challenge"`
}

// ChallengeData is the challenge_data BeginMutualAuth answers with. None of
// it is secret.
type ChallengeData struct {
	// Suite is the OCRA suite of the payer's credential.
	Suite string `json:"suite"`
	// ServerResponse is R_S = OCRA(K, Q_C || Q_S).
	ServerResponse string `json:"server_response"`
	// ServerChallenge is Q_S.
	ServerChallenge string `json:"server_challenge"`
	// Nonce is the issuer's nonce, lower-case hex.
	Nonce string `json:"nonce"`
}

// FinishPayerData is the payer_data of FinishMutualAuth.
type FinishPayerData struct {
	ClientResponse string `json:"client_response"`
}

// CheckMutual reports whether the suite fits the mutual profile: its
// DataInput must be the challenge alone (no C, P, S or T).
func (s *Suite) CheckMutual() error {
	if s.Counter || s.Password != "" || s.SessionLength > 0 || s.TimeStep > 0 {
		return suiteErr(s.Raw, "the mutual profile takes only a challenge (QFxx) as data input, no C, P, S or T")
	}
	return nil
}

// CheckMutualChallenge reports whether q is a challenge of exactly
// ChallengeLength characters in the suite's format.
func (s *Suite) CheckMutualChallenge(q string) error {
	if len(q) != s.ChallengeLength {
		return fmt.Errorf("%w: length %d, want exactly %d", ErrChallenge, len(q), s.ChallengeLength)
	}
	return checkChars(s.ChallengeFormat, q)
}

// ServerChallenge derives Q_S from an order digest and the issuer's nonce:
//
//	h   = SHA-512(ServerChallengeTag || digest || nonce)
//	A:  the first ChallengeLength characters of base32(h) (RFC 4648
//	    alphabet A-Z2-7, no padding)
//	H:  the first ChallengeLength characters of upper-case hex(h)
//	N:  h read as a big-endian integer, modulo 10^ChallengeLength, in
//	    decimal with leading zeros to ChallengeLength digits
//
// digest must be DigestSize bytes and nonce NonceSize bytes. The derivation
// needs no secret, so the payer's page can check the binding too.
func (s *Suite) ServerChallenge(digest, nonce []byte) (string, error) {
	if len(digest) != DigestSize {
		return "", fmt.Errorf("%w: digest is %d bytes, want %d", ErrBinding, len(digest), DigestSize)
	}
	if len(nonce) != NonceSize {
		return "", fmt.Errorf("%w: nonce is %d bytes, want %d", ErrBinding, len(nonce), NonceSize)
	}
	h := sha512.New()
	h.Write([]byte(ServerChallengeTag))
	h.Write(digest)
	h.Write(nonce)
	sum := h.Sum(nil)
	n := s.ChallengeLength
	switch s.ChallengeFormat {
	case FormatAlphanumeric:
		return base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(sum)[:n], nil
	case FormatHex:
		return fmt.Sprintf("%X", sum)[:n], nil
	case FormatNumeric:
		mod := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(n)), nil)
		v := new(big.Int).Mod(new(big.Int).SetBytes(sum), mod)
		return fmt.Sprintf("%0*s", n, v.String()), nil
	}
	return "", suiteErr(s.Raw, "unknown challenge format")
}

// ParseNonce decodes a nonce from ChallengeData.
func ParseNonce(s string) ([]byte, error) {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != NonceSize {
		return nil, fmt.Errorf("%w: nonce must be %d bytes of hex", ErrBinding, NonceSize)
	}
	return b, nil
}

// NewNonce returns a fresh random nonce.
func NewNonce() ([]byte, error) {
	b := make([]byte, NonceSize)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("rfc6287: nonce: %w", err)
	}
	return b, nil
}

// NewChallenge returns a random challenge of exactly ChallengeLength
// characters in the suite's format (A uses 0-9A-Z).
func (s *Suite) NewChallenge() (string, error) {
	alphabet := "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	switch s.ChallengeFormat {
	case FormatNumeric:
		alphabet = alphabet[:10]
	case FormatHex:
		alphabet = alphabet[:16]
	}
	out := make([]byte, s.ChallengeLength)
	max := big.NewInt(int64(len(alphabet)))
	for i := range out {
		v, err := rand.Int(rand.Reader, max)
		if err != nil {
			return "", fmt.Errorf("rfc6287: challenge: %w", err)
		}
		out[i] = alphabet[v.Int64()]
	}
	return string(out), nil
}

// ServerResponse returns R_S = OCRA(key, Q = clientChallenge ||
// serverChallenge). Both challenges must pass CheckMutualChallenge.
func (s *Suite) ServerResponse(key []byte, clientChallenge, serverChallenge string) (string, error) {
	if err := s.checkPair(clientChallenge, serverChallenge); err != nil {
		return "", err
	}
	return s.Compute(key, Input{Question: clientChallenge + serverChallenge})
}

// ClientResponse returns R_C = OCRA(key, Q = serverChallenge ||
// clientChallenge). Both challenges must pass CheckMutualChallenge.
func (s *Suite) ClientResponse(key []byte, serverChallenge, clientChallenge string) (string, error) {
	if err := s.checkPair(clientChallenge, serverChallenge); err != nil {
		return "", err
	}
	return s.Compute(key, Input{Question: serverChallenge + clientChallenge})
}

func (s *Suite) checkPair(clientChallenge, serverChallenge string) error {
	if err := s.CheckMutual(); err != nil {
		return err
	}
	if err := s.CheckMutualChallenge(clientChallenge); err != nil {
		return fmt.Errorf("client challenge: %w", err)
	}
	if err := s.CheckMutualChallenge(serverChallenge); err != nil {
		return fmt.Errorf("server challenge: %w", err)
	}
	return nil
}

// CheckResponse reports whether r has the form of a response of this suite
// (exactly Digits decimal digits), without checking its value.
func (s *Suite) CheckResponse(r string) error {
	if len(r) != s.Digits {
		return fmt.Errorf("%w: response must be %d digits", ErrInput, s.Digits)
	}
	for i := 0; i < len(r); i++ {
		if r[i] < '0' || r[i] > '9' {
			return fmt.Errorf("%w: response must be %d digits", ErrInput, s.Digits)
		}
	}
	return nil
}
