package acmeauth

import (
	"crypto/hmac"
	"crypto/sha256"
)

// Tags that separate the two proofs, so one can never stand for the other.
const (
	issuerTag = "acme-issuer-v1"
	payerTag  = "acme-payer-v1"
)

// IssuerProof is HMAC-SHA256(key, "acme-issuer-v1" || digest || payerNonce
// || serverNonce).
func IssuerProof(key, digest, payerNonce, serverNonce []byte) []byte {
	return mac(key, issuerTag, digest, payerNonce, serverNonce)
}

// PayerProof is HMAC-SHA256(key, "acme-payer-v1" || digest || serverNonce
// || payerNonce).
func PayerProof(key, digest, serverNonce, payerNonce []byte) []byte {
	return mac(key, payerTag, digest, serverNonce, payerNonce)
}

func mac(key []byte, tag string, parts ...[]byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(tag))
	for _, p := range parts {
		m.Write(p)
	}
	return m.Sum(nil)
}
