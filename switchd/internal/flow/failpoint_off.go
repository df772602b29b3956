//go:build !failpoints

package flow

// failpointHit does nothing: failpoints exist only in builds with -tags
// failpoints (see package switchd/internal/reliability/failpoint).
func failpointHit(point, detail string) {}
