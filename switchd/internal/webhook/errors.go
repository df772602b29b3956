package webhook

import "errors"

// Secret errors (Sign, Verify, ParseSecret). They never carry the secret.
var (
	// ErrSecretEncoding is returned when a secret is not whsec_ followed by
	// standard base64.
	ErrSecretEncoding = errors.New("webhook: secret is not whsec_<base64>")
	// ErrSecretLength is returned when a secret's key is shorter than 24 or
	// longer than 64 bytes.
	ErrSecretLength = errors.New("webhook: secret has the wrong length")
)

// ErrInvalidID is returned by Sign when the message ID is empty, too long
// or not printable ASCII.
var ErrInvalidID = errors.New("webhook: invalid message id")

// Verify errors.
var (
	// ErrMissingHeader is returned when webhook-id, webhook-timestamp or
	// webhook-signature is absent.
	ErrMissingHeader = errors.New("webhook: missing header")
	// ErrInvalidTimestamp is returned when webhook-timestamp is not an
	// integer.
	ErrInvalidTimestamp = errors.New("webhook: invalid timestamp")
	// ErrTimestampTooOld is returned when the message was signed longer
	// ago than the tolerance (a replay or a very late retry).
	ErrTimestampTooOld = errors.New("webhook: timestamp too old")
	// ErrTimestampTooNew is returned when the message claims to be signed
	// further in the future than the tolerance.
	ErrTimestampTooNew = errors.New("webhook: timestamp too new")
	// ErrNoMatchingSignature is returned when no v1 signature matches.
	ErrNoMatchingSignature = errors.New("webhook: no matching signature")
)
