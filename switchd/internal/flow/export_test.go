package flow

import (
	"crypto/ed25519"
	"sync/atomic"
)

// CountVerifies makes the engine count its Ed25519 attestation checks in
// n, for the benchmarks of package flow_test; restore undoes it.
func CountVerifies(n *atomic.Int64) (restore func()) {
	ed25519Verify = func(pub ed25519.PublicKey, msg, sig []byte) bool {
		n.Add(1)
		return ed25519.Verify(pub, msg, sig)
	}
	return func() { ed25519Verify = ed25519.Verify }
}
