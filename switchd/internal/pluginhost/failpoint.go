//go:build failpoints

package pluginhost

import "github.com/switchd/switchd/switchd/internal/reliability/failpoint"

// failpointHit crashes the process at an armed failpoint (test builds
// with -tags failpoints only; see package failpoint).
func failpointHit(point, detail string) { failpoint.Hit(point, detail) }
