package store_test

import (
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchd/switchd/switchd/internal/store"
)

// BenchmarkUpdateConcurrent measures durable (fsynced) Updates from
// GOMAXPROCS*parallelism goroutines, each writing what one flow step does:
// the payment, an event and an outbox message. Run with
//
//	go test -run '^$' -bench UpdateConcurrent -cpu 1,4 ./switchd/internal/store/
//
// and read ops/s (Updates acknowledged per second). "solo" turns group
// commit off (one fsynced transaction per Update) for comparison.
func BenchmarkUpdateConcurrent(b *testing.B) {
	for _, mode := range []struct {
		name string
		opts store.Options
	}{{"group", store.Options{}}, {"solo", store.Options{MaxBatchSize: 1}}} {
		for _, par := range []int{1, 16, 64} {
			b.Run(fmt.Sprintf("%s/writers=%dxCPU", mode.name, par), func(b *testing.B) {
				benchUpdates(b, mode.opts, par)
			})
		}
	}
}

func benchUpdates(b *testing.B, opts store.Options, par int) {
	s, err := store.Open(filepath.Join(b.TempDir(), "bench.db"), opts)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	var n atomic.Int64
	now := time.Now()
	b.SetParallelism(par)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			id := fmt.Sprintf("p%09d", n.Add(1))
			err := s.Update(ctx, func(tx store.Tx) error {
				if err := tx.PutPayment(payment(id, "m1", now, "created")); err != nil {
					return err
				}
				if err := tx.AppendEvent(&store.Event{PaymentID: id, At: now, Type: "payment.created"}); err != nil {
					return err
				}
				return tx.Enqueue(&store.OutboxMessage{ID: "wh-" + id, Kind: store.KindWebhook, PaymentID: id, CreatedAt: now})
			})
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}
