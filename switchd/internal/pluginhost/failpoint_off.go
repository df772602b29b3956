//go:build !failpoints

package pluginhost

// failpointHit does nothing: failpoints exist only in builds with -tags
// failpoints (see package switchd/internal/reliability/failpoint). Points
// here, with the RPC as detail (Configure, ExportState, AuthenticateSeller,
// Debit, Credit, Reverse, GetOperationStatus):
//
//	pluginhost.commit.before   a host_state plugin answered; its writes are not committed yet
//	pluginhost.commit.after    its writes are committed; the answer is not returned yet
func failpointHit(point, detail string) {}
