package ocraplugin

import "errors"

// Errors of the key decoding helpers. Configure reports them as diagnostics
// that name the offending attribute; they never include the key itself.
var (
	// ErrKeyEncoding is returned when a key is not in the expected encoding.
	ErrKeyEncoding = errors.New("has the wrong encoding")
	// ErrKeySize is returned when a decoded key has the wrong size.
	ErrKeySize = errors.New("has the wrong size")
)
