package passkeyplugin

import "errors"

// Errors of the configuration helpers. Configure reports them as
// diagnostics that name the offending attribute; they never include a key.
var (
	// ErrKeyEncoding is returned when the attestation key is neither hex nor
	// base64.
	ErrKeyEncoding = errors.New("has the wrong encoding")
	// ErrKeySize is returned when the decoded attestation key is not a
	// 32-byte Ed25519 seed.
	ErrKeySize = errors.New("has the wrong size")
	// ErrOrigin is returned when an entry of rp_origins is not an origin
	// (scheme://host[:port]) that the relying-party id covers.
	ErrOrigin = errors.New("is not an origin covered by rp_id")
	// ErrCodeHash is returned when a payer's enrollment_code_sha256 is not
	// 64 hex digits.
	ErrCodeHash = errors.New("is not a SHA-256 in hex")
)

// Errors of the stored state. They reach the host wrapped in
// sdk.Unavailable and are logged by the plugin.
var (
	// ErrCorruptRecord is returned when a record in the state file cannot
	// be decoded.
	ErrCorruptRecord = errors.New("passkey: corrupt record in state file")
)

// Errors of the operator's commands, which run while the plugin is
// stopped.
var (
	// ErrNotRemoved is returned (wrapped) by RemovePayer when nothing could
	// be removed: the state file does not exist, the plugin holds it open
	// (authkit.ErrInUse), the institution is not in it, or a record of the
	// payer is corrupt (ErrCorruptRecord). The file is then unchanged.
	ErrNotRemoved = errors.New("passkey: nothing removed")
)
