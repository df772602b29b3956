package merchantsigplugin

import (
	"crypto/sha256"
	"strconv"
	"time"

	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
)

// prefill returns records of approvals of made-up signatures signed at
// from, from+step, ... up to before to, in key order, as the host would
// hold them.
func prefill(from, to time.Time, step time.Duration) []*pb.StateWrite {
	var out []*pb.StateWrite
	for at, i := from, 0; at.Before(to); at, i = at.Add(step), i+1 {
		id := strconv.Itoa(i)
		sum := sha256.Sum256([]byte(id))
		out = append(out, &pb.StateWrite{Key: recordKey(at.UnixMilli(), sum[:]), Value: encodeRecord("prefill-"+id, "shop-1")})
	}
	return out
}
