package flow

import (
	"context"
	"crypto/ed25519"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/switchd/switchd/switchd/internal/store"
	"github.com/switchd/switchd/switchd/internal/store/storetest"
)

// countingStore counts the Updates (commits) made through it.
type countingStore struct {
	store.Store
	updates atomic.Int64
}

func (s *countingStore) Update(ctx context.Context, fn func(store.Tx) error) error {
	s.updates.Add(1)
	return s.Store.Update(ctx, fn)
}

// BenchmarkEngine drives whole card payments (create, A+B, C begin, C
// finish + D + E) one after another through the engine, with the fake
// plugins of the unit tests (in memory, Ed25519 attestations) and the real
// outbox worker over a real bbolt store, with and without fsync. Besides
// ns/op and allocs/op it reports the store Updates (commits, the outbox
// worker's included) and the Ed25519 attestation checks per payment.
func BenchmarkEngine(b *testing.B) {
	for _, tc := range []struct {
		name   string
		noSync bool
	}{{"fsync", false}, {"nosync", true}} {
		b.Run(tc.name, func(b *testing.B) {
			st := &countingStore{Store: storetest.MustOpenAt(b, filepath.Join(b.TempDir(), "switchd.db"), store.Options{NoSync: tc.noSync})}
			signers := map[string]*signer{"issuer": newSigner("issuer"), "acquirer": newSigner("acquirer")}
			plugins := &fakePlugins{auth: &fakeAuth{signers: signers}, method: newFakeMethod()}
			plugins.method.balances["issuer/alice"] = 1 << 60
			keys := map[string]map[string]ed25519.PublicKey{}
			for id, s := range signers {
				keys[id] = map[string]ed25519.PublicKey{"k1": s.pub}
			}
			e := StartWithOutbox(b, Options{Store: st, Plugins: plugins, PublicURL: "https://pay.example"},
				&Config{Generation: 1, Network: testNetwork(), AttestationKeys: keys})
			ctx := context.Background()
			var verifies atomic.Int64
			b.Cleanup(CountVerifies(&verifies))

			pay := func(i int) {
				res, err := e.CreatePayment(ctx, "shop", "", "", CreateInput{AmountMinor: 1, Currency: "EUR", OrderRef: "o-" + strconv.Itoa(i),
					ExpiresAt: time.Now().Add(10 * time.Minute), SellerSignature: []byte("good"), SellerKeyID: "k"}, nil)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := e.ChooseMethod(ctx, res.Token, card); err != nil {
					b.Fatal(err)
				}
				if _, err := e.BeginAuth(ctx, res.Token, []byte("hello")); err != nil {
					b.Fatal(err)
				}
				v, err := e.FinishAuth(ctx, res.Token, []byte("right"))
				if err != nil || v.Payment.State != StateApproved {
					b.Fatalf("payment ended %v: %v", v, err)
				}
			}
			pay(-1) // warm up
			drainOutbox(b, st)
			st.updates.Store(0)
			verifies.Store(0)
			b.ReportAllocs()
			b.ResetTimer()
			cpu := processCPU()
			for i := 0; i < b.N; i++ {
				pay(i)
			}
			b.StopTimer()
			drainOutbox(b, st)
			b.ReportMetric(float64((processCPU()-cpu).Microseconds())/float64(b.N), "cpu-µs/payment")
			b.ReportMetric(float64(st.updates.Load())/float64(b.N), "updates/payment")
			b.ReportMetric(float64(verifies.Load())/float64(b.N), "verifies/payment")
		})
	}
}

// processCPU is the CPU time (user + system) this process has used: on a
// shared machine it is steadier than wall time.
func processCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// drainOutbox waits until no outbox message is due (the webhooks of the
// payments made are delivered), so their delivery records are counted.
func drainOutbox(b *testing.B, st store.Store) {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		var n int
		st.View(context.Background(), func(tx store.Tx) error {
			due, err := tx.DueOutbox(time.Now(), 10)
			n = len(due)
			return err
		})
		if n == 0 {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	b.Fatal("outbox not drained after 10s")
}
