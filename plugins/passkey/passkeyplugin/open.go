package passkeyplugin

import (
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/switchd/switchd/plugins/internal/authkit"
)

// MaxOpenPerPayer is how many challenges one payer may have open at one
// issuer at a time (see authkit.Challenges).
const MaxOpenPerPayer = authkit.MaxOpenPerPayer

// pendingRecord is an open step-C challenge. Nothing in it is secret.
type pendingRecord struct {
	digest    []byte
	nonce     []byte
	session   webauthn.SessionData
	expiresMS int64
}

// ExpiresUnixMS says when the challenge can no longer be answered.
func (r pendingRecord) ExpiresUnixMS() int64 { return r.expiresMS }

// openSet holds the open challenges of every instance, in memory (see
// authkit.Challenges for why that is safe).
type openSet = authkit.Challenges[pendingRecord]
