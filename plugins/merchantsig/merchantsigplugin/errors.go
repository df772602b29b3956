package merchantsigplugin

import "errors"

// Errors of the key decoding helpers. Configure reports them as diagnostics
// that name the offending attribute; they never include the key itself.
var (
	// ErrKeyEncoding is returned when a key is neither hex nor base64.
	ErrKeyEncoding = errors.New("not hex or base64")
	// ErrKeySize is returned when a decoded key is not 32 bytes.
	ErrKeySize = errors.New("must decode to 32 bytes")
)

// ErrCorruptRecord is returned, wrapped, when a record of the state file
// cannot be decoded. AuthenticateSeller reports it as Unavailable.
var ErrCorruptRecord = errors.New("merchantsig: corrupt replay record")
