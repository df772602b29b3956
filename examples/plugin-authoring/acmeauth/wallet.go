package acmeauth

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
)

// BeginData is the payer_data of BeginMutualAuth.
type BeginData struct {
	PayerNonce string `json:"payer_nonce"`
}

// ChallengeData is the challenge_data the bank answers Begin with.
type ChallengeData struct {
	ServerNonce string `json:"server_nonce"`
	IssuerProof string `json:"issuer_proof"`
}

// FinishData is the payer_data of FinishMutualAuth.
type FinishData struct {
	PayerProof string `json:"payer_proof"`
}

// NonceSize is the size of both nonces in bytes.
const NonceSize = 16

// Wallet is the payer's side: the key shared with the bank, and the nonce
// of the authentication in progress.
type Wallet struct {
	Key []byte
	// Nonce is the payer's nonce; Hello sets it.
	Nonce []byte
}

// Hello picks a fresh payer nonce and returns Begin's payer_data.
func (w *Wallet) Hello() ([]byte, error) {
	w.Nonce = make([]byte, NonceSize)
	if _, err := rand.Read(w.Nonce); err != nil {
		return nil, fmt.Errorf("acmeauth: nonce: %w", err)
	}
	return json.Marshal(BeginData{PayerNonce: hex.EncodeToString(w.Nonce)})
}

// Answer checks the bank's proof against the digest the payer computed
// itself and returns Finish's payer_data. It computes nothing for a bank
// that did not prove itself (ErrIssuerNotProven).
func (w *Wallet) Answer(challengeData, digest []byte) ([]byte, error) {
	if len(w.Nonce) != NonceSize {
		return nil, ErrNoHello
	}
	var cd ChallengeData
	dec := json.NewDecoder(bytes.NewReader(challengeData))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cd); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrChallengeData, err)
	}
	ns, err := hex.DecodeString(cd.ServerNonce)
	if err != nil || len(ns) != NonceSize {
		return nil, fmt.Errorf("%w: server_nonce is not %d bytes of hex", ErrChallengeData, NonceSize)
	}
	proof, err := hex.DecodeString(cd.IssuerProof)
	if err != nil || !hmac.Equal(proof, IssuerProof(w.Key, digest, w.Nonce, ns)) {
		return nil, ErrIssuerNotProven
	}
	return json.Marshal(FinishData{PayerProof: hex.EncodeToString(PayerProof(w.Key, digest, ns, w.Nonce))})
}
