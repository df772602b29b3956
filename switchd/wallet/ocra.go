package wallet

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"fmt"

	"github.com/switchd/switchd/plugins/ocra/rfc6287"
)

// DefaultOCRASuite is the ocra plugin's default suite.
const DefaultOCRASuite = "OCRA-1:HOTP-SHA256-8:QA08"

// OCRA is a payer's OCRA credential. Key and Suite must match the issuer's
// payer block. The zero Suite means DefaultOCRASuite.
type OCRA struct {
	// Key is the shared OCRA key.
	Key []byte
	// Suite is the OCRA suite.
	Suite string
	// ClientChallenge is the payer's challenge Q_C. Begin sets it; set it
	// directly to answer for a challenge made earlier (as the CLI does).
	ClientChallenge string
}

func (w *OCRA) suite() (*rfc6287.Suite, error) {
	raw := w.Suite
	if raw == "" {
		raw = DefaultOCRASuite
	}
	s, err := rfc6287.ParseSuite(raw)
	if err == nil {
		err = s.CheckMutual()
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSuite, err)
	}
	return s, nil
}

// Begin picks a fresh random client challenge, remembers it for Answer and
// returns it; it goes to the issuer as payer_data {"client_challenge": ...}.
// It returns "" when the suite is unusable or no randomness is available;
// Answer then reports why.
func (w *OCRA) Begin() string {
	w.ClientChallenge = ""
	s, err := w.suite()
	if err != nil {
		return ""
	}
	q, err := s.NewChallenge()
	if err != nil {
		return ""
	}
	w.ClientChallenge = q
	return q
}

// BeginPayerData returns the payer_data JSON for BeginMutualAuth carrying
// the client challenge.
func (w *OCRA) BeginPayerData() []byte {
	b, _ := json.Marshal(rfc6287.BeginPayerData{ClientChallenge: w.ClientChallenge})
	return b
}

// Answer takes the issuer's challenge_data and the order digest the payer
// holds (32 bytes) and returns the payer_data JSON for FinishMutualAuth. It
// first checks the issuer: the server challenge must be derived from digest
// and the issuer's nonce, and server_response must be OCRA(Key, Q_C || Q_S).
// Otherwise it refuses with a *RefusedError and computes nothing.
func (w *OCRA) Answer(challengeData []byte, digest []byte) ([]byte, error) {
	s, err := w.suite()
	if err != nil {
		return nil, err
	}
	if len(w.Key) == 0 {
		return nil, fmt.Errorf("wallet: no key")
	}
	if w.ClientChallenge == "" {
		return nil, ErrNoClientChallenge
	}
	if err := s.CheckMutualChallenge(w.ClientChallenge); err != nil {
		return nil, fmt.Errorf("wallet: client challenge: %w", err)
	}
	var cd rfc6287.ChallengeData
	dec := json.NewDecoder(bytes.NewReader(challengeData))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cd); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrChallengeData, err)
	}
	if cd.Suite != s.Raw {
		return nil, fmt.Errorf("%w: issuer says %q, wallet has %q", ErrSuiteMismatch, cd.Suite, s.Raw)
	}
	nonce, err := rfc6287.ParseNonce(cd.Nonce)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrChallengeData, err)
	}
	qs, err := s.ServerChallenge(digest, nonce)
	if err != nil {
		return nil, fmt.Errorf("wallet: order digest: %w", err)
	}
	if subtle.ConstantTimeCompare([]byte(qs), []byte(cd.ServerChallenge)) != 1 {
		return nil, &RefusedError{Reason: ErrNotBound}
	}
	rs, err := s.ServerResponse(w.Key, w.ClientChallenge, qs)
	if err != nil {
		return nil, fmt.Errorf("wallet: %w", err)
	}
	if subtle.ConstantTimeCompare([]byte(rs), []byte(cd.ServerResponse)) != 1 {
		return nil, &RefusedError{Reason: ErrIssuerNotProven}
	}
	rc, err := s.ClientResponse(w.Key, qs, w.ClientChallenge)
	if err != nil {
		return nil, fmt.Errorf("wallet: %w", err)
	}
	return json.Marshal(rfc6287.FinishPayerData{ClientResponse: rc})
}
