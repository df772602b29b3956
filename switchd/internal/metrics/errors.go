package metrics

import "errors"

// ErrNotExported is returned by ParseStoreWrites when a /metrics answer
// lacks one of the store counters (a switchd without them, or not a
// switchd at all).
var ErrNotExported = errors.New("metrics: counter not exported")
