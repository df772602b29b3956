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

// Errors of the replay records.
var (
	// ErrCorruptRecord is returned, wrapped, when a replay record cannot
	// be decoded: LoadState reports it as InvalidArgument (and loads
	// nothing), ExportState as FailedPrecondition (and renames nothing).
	ErrCorruptRecord = errors.New("merchantsig: corrupt replay record")
	// ErrTwoStateFiles is returned, wrapped, by ExportState when a data dir
	// holds both the state file of an earlier version and the one it
	// already renamed after an export.
	ErrTwoStateFiles = errors.New("merchantsig: two state files to import")
)
