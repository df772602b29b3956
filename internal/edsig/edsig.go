// Package edsig signs and verifies Ed25519 signatures for the switch and
// its built-in plugins, about twice as fast as crypto/ed25519 and with
// exactly its rules.
//
// A payment costs five Ed25519 operations in the switch: the acquirer's
// authenticator verifies the seller's signature and signs its step-B
// attestation, the issuer's authenticator signs step C, and the daemon
// verifies both attestations. With crypto/ed25519 they were about a sixth
// of the switch's CPU under load (BENCHMARKS.md). This package does them
// with github.com/oasisprotocol/curve25519-voi (derived from
// curve25519-dalek; CometBFT verifies with it), which on the reference
// machine signs in 11 µs against 24 µs and verifies in 26-31 µs against
// 53 µs (BenchmarkVerify, BenchmarkSign).
//
// Signatures are the same bytes crypto/ed25519 makes (Ed25519 is
// deterministic), and Verify accepts exactly what crypto/ed25519.Verify
// accepts: voi's VerifyOptionsStdLib (cofactorless, small-order and
// non-canonical A allowed, S must be canonical). TestVerifyMatchesStdlib
// and FuzzVerifyMatchesStdlib check that against crypto/ed25519 itself.
//
// Verify keeps the expanded form of up to MaxCachedKeys public keys (the
// banks' attestation keys, the sellers' keys), which saves a further
// sixth of a verification; keys past that are verified without it.
package edsig

import (
	"crypto/ed25519"
	"sync"

	voi "github.com/oasisprotocol/curve25519-voi/primitives/ed25519"
)

// MaxCachedKeys bounds the public keys whose expanded form Verify keeps
// (each is about 1.5 KiB).
const MaxCachedKeys = 4096

var stdlib = &voi.Options{Verify: voi.VerifyOptionsStdLib}

// Sign returns the Ed25519 signature of msg by priv, the same bytes as
// crypto/ed25519.Sign. Like it, it panics if priv is not
// ed25519.PrivateKeySize bytes long.
func Sign(priv ed25519.PrivateKey, msg []byte) []byte {
	return voi.Sign(voi.PrivateKey(priv), msg)
}

// Verify reports whether sig is a valid signature of msg by pub, with the
// rules of crypto/ed25519.Verify. Unlike it, a public key of the wrong
// length is reported as invalid instead of a panic.
func Verify(pub ed25519.PublicKey, msg, sig []byte) bool {
	if len(pub) != ed25519.PublicKeySize || len(sig) != ed25519.SignatureSize {
		return false
	}
	if epk := expanded(pub); epk != nil {
		return voi.VerifyExpandedWithOptions(epk, msg, sig, stdlib)
	}
	return voi.VerifyWithOptions(voi.PublicKey(pub), msg, sig, stdlib)
}

// keys caches expanded public keys by their 32 bytes.
var keys = struct {
	sync.RWMutex
	m map[string]*voi.ExpandedPublicKey
}{m: map[string]*voi.ExpandedPublicKey{}}

// expanded returns pub's expanded form, made and cached on first use, or
// nil when pub does not decode to a point (the caller then lets voi
// reject the signature) or the cache is full.
func expanded(pub ed25519.PublicKey) *voi.ExpandedPublicKey {
	keys.RLock()
	epk, ok := keys.m[string(pub)]
	full := len(keys.m) >= MaxCachedKeys
	keys.RUnlock()
	if ok || full {
		return epk
	}
	epk, err := voi.NewExpandedPublicKey(voi.PublicKey(pub))
	if err != nil {
		return nil
	}
	keys.Lock()
	defer keys.Unlock()
	if len(keys.m) < MaxCachedKeys {
		keys.m[string(pub)] = epk
	}
	return epk
}
