package merchantsigplugin

import (
	"context"
	"fmt"
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
	for _, callers := range cpubench.PayerCounts {
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
			var n atomic.Int64
			cpubench.Run(b, callers, []struct{}{{}}, func(struct{}) bool { return call(reqs[n.Add(1)-1]) })
		})
	}
}
