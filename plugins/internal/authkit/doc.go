// Package authkit is the plumbing the built-in authenticator plugins
// (merchantsig, ocra and passkey) share: the configured instances of a
// plugin and the bbolt state files they live in, written through one
// group-committing boltgroup.Committer per file (Instances), the start of
// Configure (Parse) and the lockout attributes of the payer authenticators
// (ParseLockout), and the instance's Ed25519 attestation key, from its
// attestation_key and attestation_key_id attributes to the signed
// pb.Attestation (Key).
//
// What differs between the plugins (their names, the institution that owns
// the key, the texts of their key errors, their defaults and buckets) is
// passed in by the caller; the package holds no plugin-specific behaviour.
package authkit
