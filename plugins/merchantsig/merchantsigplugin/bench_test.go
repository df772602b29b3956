package merchantsigplugin

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/switchd/switchd/plugins/internal/cpubench"
	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
)

// benchStep is how far apart in time the benchmark's sellers sign, one
// after the other: request i is signed at t0 + i*benchStep, and the
// plugin's clock reads the signing time of the latest request made.
const benchStep = 5 * time.Millisecond

// BenchmarkAuthenticateSellerCPU is step B of distinct payments against
// one fsynced state file, in process (no gRPC), with the process's CPU per
// call (cpu-µs/op; the seller's signatures are made before the timer
// starts) and the pages bbolt writes per call and per commit (pages/op,
// pages/commit: TxStats.Write, one per page or run of overflow pages, the
// meta page included).
// "serial" makes one call at a time, so every call is a commit and fsync
// of its own (the plugin's lot at a few hundred payments a second);
// "64 sellers" makes 64 at once, so their writes share commits. Both
// start from an empty file; the "full window" ones start from a file
// holding a whole replay window of earlier approvals (one per benchStep),
// so each call also purges about one: a daemon's steady state. With 4
// sellers a commit holds a few approvals, as under switchd bench's load. Run at the
// log level the daemon gives plugins (at the default, info, every
// approval is logged):
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
			p, _ := MustPlugin(b, b.TempDir(), &now)
			var n atomic.Int64 // requests made
			p.now = func() time.Time { return t0.Add(time.Duration(n.Load()) * benchStep) }
			if bm.full {
				inst, _ := p.instance("acq")
				mustPrefill(b, p, t0.Add(-inst.window+benchStep), t0, benchStep)
			}
			ctx := context.Background()
			reqs := make([]*pb.AuthenticateSellerRequest, b.N)
			for i := range reqs {
				o := testOrder("pay-" + strconv.Itoa(i))
				o.OrderRef = "A-" + strconv.Itoa(i) // distinct terms, so distinct signatures
				reqs[i] = signedRequest(o, sellerKey, "k1", t0.Add(time.Duration(i)*benchStep))
			}
			call := func(req *pb.AuthenticateSellerRequest) bool {
				res, err := p.AuthenticateSeller(ctx, req)
				if err != nil || res.GetVerdict() != pb.Verdict_VERDICT_APPROVED {
					b.Error(res, err)
					return false
				}
				return true
			}
			inst, _ := p.instance("acq")
			db := inst.db.DB()
			written, commits := pagesWritten(b, db)
			cpubench.Run(b, bm.callers, []struct{}{{}}, func(struct{}) bool { return call(reqs[n.Add(1)-1]) })
			w, c := pagesWritten(b, db)
			b.ReportMetric(float64(w-written)/float64(b.N), "pages/op")
			b.ReportMetric(float64(w-written)/float64(c-commits), "pages/commit")
		})
	}
}

// pagesWritten returns how many page writes db's transactions have made
// so far, and how many transactions it has committed (the id of the last).
func pagesWritten(b *testing.B, db *bolt.DB) (pages int64, commits int) {
	s := db.Stats()
	if err := db.View(func(tx *bolt.Tx) error {
		commits = tx.ID()
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	return s.TxStats.GetWrite(), commits
}
