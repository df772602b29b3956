package merchantsigplugin

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/switchd/switchd/plugins/internal/cpubench"
	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
)

// BenchmarkAuthenticateSellerCPU is step B of distinct payments against
// one fsynced state file, in process (no gRPC), with the process's CPU per
// call (cpu-µs/op; the seller's signatures are made before the timer
// starts). "serial" makes one call at a time, so every call is a commit and
// fsync of its own (the plugin's lot at a few hundred payments a second);
// "64 sellers" makes 64 at once, so their writes share commits. Run with
//
//	go test -run '^$' -bench AuthenticateSellerCPU -benchmem ./plugins/merchantsig/merchantsigplugin/
func BenchmarkAuthenticateSellerCPU(b *testing.B) {
	for _, callers := range []int{1, 64} {
		name := "serial"
		if callers > 1 {
			name = fmt.Sprint(callers, " sellers")
		}
		b.Run(name, func(b *testing.B) {
			now := t0
			p, _ := MustPlugin(b, b.TempDir(), &now)
			ctx := context.Background()
			reqs := make([]*pb.AuthenticateSellerRequest, b.N)
			for i := range reqs {
				o := testOrder("pay-" + strconv.Itoa(i))
				o.OrderRef = "A-" + strconv.Itoa(i) // distinct terms, so distinct signatures
				reqs[i] = signedRequest(o, sellerKey, "k1", t0)
			}
			call := func(req *pb.AuthenticateSellerRequest) bool {
				res, err := p.AuthenticateSeller(ctx, req)
				if err != nil || res.GetVerdict() != pb.Verdict_VERDICT_APPROVED {
					b.Error(res, err)
					return false
				}
				return true
			}
			done := cpubench.Start(b)
			if callers == 1 {
				for i := 0; i < b.N && call(reqs[i]); i++ {
				}
				done()
				return
			}
			var n atomic.Int64
			b.SetParallelism((callers + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
			b.RunParallel(func(pbt *testing.PB) {
				for pbt.Next() && call(reqs[n.Add(1)-1]) {
				}
			})
			done()
		})
	}
}
