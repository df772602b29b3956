package cpubench

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"

	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
	"github.com/switchd/switchd/plugins/sdk"
)

// PayerCounts are the loads the plugins' payment benchmarks run at: one
// payment at a time ("serial": every write is a commit and fsync of its
// own, a plugin's lot when each file sees a few hundred writes a second)
// and 64 payers at once (writes share commits).
var PayerCounts = []int{1, 64}

// ForPayerCounts runs bench as one sub-benchmark per PayerCounts entry,
// named by Name.
func ForPayerCounts(b *testing.B, bench func(b *testing.B, payers int)) {
	for _, payers := range PayerCounts {
		b.Run(Name(payers), func(b *testing.B) { bench(b, payers) })
	}
}

// Name names a sub-benchmark for a payer count.
func Name(payers int) string {
	if payers == 1 {
		return "serial"
	}
	return fmt.Sprint(payers, " payers")
}

// Run calls pay b.N times and reports CPU per call (see Start): one call
// at a time when payers is 1, else from payers goroutines, goroutine i
// always with instruments[i mod len(instruments)]. It stops at the first
// pay that returns false.
func Run[T any](b *testing.B, payers int, instruments []T, pay func(T) bool) {
	b.Helper()
	done := Start(b)
	defer done()
	if payers == 1 {
		for i := 0; i < b.N && pay(instruments[i%len(instruments)]); i++ {
		}
		return
	}
	var payer atomic.Int64
	b.SetParallelism((payers + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
	b.RunParallel(func(pbt *testing.PB) {
		inst := instruments[int(payer.Add(1)-1)%len(instruments)]
		for pbt.Next() && pay(inst) {
		}
	})
}

// Payment is a method plugin's share of one payment: ResolveInstrument and
// Debit at the issuer instance named in resolve, then Credit of order at
// the acquirer instance to payee. It reports a failure to b and returns
// false.
func Payment(b testing.TB, p sdk.PaymentMethod, resolve *pb.ResolveInstrumentRequest, order *pb.Order, acquirer, payee string) bool {
	ctx := context.Background()
	r, err := p.ResolveInstrument(ctx, resolve)
	if err != nil || r.GetVerdict() != pb.Verdict_VERDICT_APPROVED {
		b.Error(r, err)
		return false
	}
	d, err := p.Debit(ctx, &pb.DebitRequest{InstanceId: resolve.GetInstanceId(), Order: order, Token: r.GetToken()})
	if err != nil || d.GetState() != pb.OperationState_OPERATION_STATE_APPROVED {
		b.Error(d, err)
		return false
	}
	c, err := p.Credit(ctx, &pb.CreditRequest{InstanceId: acquirer, Order: order, PayeeAccount: payee})
	if err != nil || c.GetState() != pb.OperationState_OPERATION_STATE_APPROVED {
		b.Error(c, err)
		return false
	}
	return true
}
