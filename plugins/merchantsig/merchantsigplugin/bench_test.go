package merchantsigplugin

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchd/switchd/plugins/internal/cpubench"
	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
)

// benchStep is how far apart in time the benchmark's sellers sign, one
// after the other: request i is signed at t0 + i*benchStep, and the
// plugin's clock reads the signing time of the latest request made.
const benchStep = 5 * time.Millisecond

// BenchmarkAuthenticateSellerCPU is step B of distinct payments, in
// process (no gRPC, no host commit), with the process's CPU per call
// (cpu-µs/op; the seller's signatures are made before the timer starts)
// and the state_writes it returns per call (writes/op, write-bytes/op:
// what the host then commits). "serial" makes one call at a time, "64
// sellers" 64 at once. The "full window" ones start loaded with a whole
// replay window of earlier approvals (one per benchStep), so each call
// also deletes about one expired record: a daemon's steady state. Run at
// the log level the daemon gives plugins:
//
//	SWITCHD_PLUGIN_LOG_LEVEL=warn go test -run '^$' -bench AuthenticateSellerCPU -benchmem ./plugins/merchantsig/merchantsigplugin/
func BenchmarkAuthenticateSellerCPU(b *testing.B) {
	benchmarks := []struct {
		name    string
		callers int
		full    bool
	}{
		{"serial", 1, false},
		{"64 sellers", 64, false},
		{"4 sellers, full window", 4, true},
		{"64 sellers, full window", 64, true},
	}
	for _, bm := range benchmarks {
		b.Run(bm.name, func(b *testing.B) {
			now := t0
			var records []*pb.StateWrite
			if bm.full {
				records = prefill(t0.Add(-DefaultReplayWindow+benchStep), t0, benchStep)
			}
			p, _ := MustPlugin(b, &now, records...)
			var n atomic.Int64 // requests made
			p.now = func() time.Time { return t0.Add(time.Duration(n.Load()) * benchStep) }
			ctx := context.Background()
			reqs := make([]*pb.AuthenticateSellerRequest, b.N)
			for i := range reqs {
				o := testOrder("pay-" + strconv.Itoa(i))
				o.OrderRef = "A-" + strconv.Itoa(i) // distinct terms, so distinct signatures
				reqs[i] = signedRequest(o, sellerKey, "k1", t0.Add(time.Duration(i)*benchStep))
			}
			var writes, bytes atomic.Int64
			call := func(req *pb.AuthenticateSellerRequest) bool {
				res, err := p.AuthenticateSeller(ctx, req)
				if err != nil || res.GetVerdict() != pb.Verdict_VERDICT_APPROVED {
					b.Error(res, err)
					return false
				}
				writes.Add(int64(len(res.GetStateWrites())))
				for _, w := range res.GetStateWrites() {
					bytes.Add(int64(len(w.GetKey()) + len(w.GetValue())))
				}
				return true
			}
			cpubench.Run(b, bm.callers, []struct{}{{}}, func(struct{}) bool { return call(reqs[n.Add(1)-1]) })
			b.ReportMetric(float64(writes.Load())/float64(b.N), "writes/op")
			b.ReportMetric(float64(bytes.Load())/float64(b.N), "write-bytes/op")
		})
	}
}
