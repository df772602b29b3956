package store_test

import (
	"bytes"
	"fmt"
	"path/filepath"
	"runtime"
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

// BenchmarkPaymentLifecycle does the store work of one approved payment,
// with the call pattern of the flow (flow.Engine.CreatePayment and
// transition) and the outbox worker (deliver): create (PutPayment,
// AppendEvent, PutIdempotency), nine transitions (GetPayment, PutPayment,
// AppendEvent, and Enqueue at paid and approved), then the two deliveries
// (GetOutbox, PutOutbox). Every step is its own Update, one at a time.
// "nosync" measures CPU; "fsync" the durable path on the real file
// system. pages/payment counts the page writes of the commits (bbolt's
// TxStats.Write: one per dirty page and one for the meta page, what the
// daemon exports as switchd_store_pages_written_total), nodes/payment the
// B+tree nodes they had to materialise.
//
//	go test -run '^$' -bench PaymentLifecycle -benchmem ./switchd/internal/store/
func BenchmarkPaymentLifecycle(b *testing.B) {
	for _, mode := range []struct {
		name   string
		noSync bool
		payers int
	}{{"nosync", true, 1}, {"fsync", false, 1}, {"nosync/payers=64", true, 64}, {"fsync/payers=64", false, 64}} {
		b.Run(mode.name, func(b *testing.B) {
			s, err := store.Open(filepath.Join(b.TempDir(), "bench.db"), store.Options{NoSync: mode.noSync})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			var n atomic.Uint64
			b.ReportAllocs()
			before := store.TxStats(s)
			b.ResetTimer()
			// With payers > 1 the payments run concurrently and their
			// Updates are group-committed, as in the daemon under load.
			b.SetParallelism(max(1, mode.payers/runtime.GOMAXPROCS(0)))
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					// Payment IDs begin with their creation time in the
					// flow, then random bits: a time prefix, then a
					// scrambled counter.
					id := fmt.Sprintf("pay_%012x%012x", time.Now().UnixMilli(), (n.Add(1)*0x9e3779b97f4a7c15)>>16)
					if err := lifecycle(s, id); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.StopTimer()
			after := store.TxStats(s)
			b.ReportMetric(float64(after.GetWrite()-before.GetWrite())/float64(b.N), "pages/payment")
			b.ReportMetric(float64(after.GetNodeCount()-before.GetNodeCount())/float64(b.N), "nodes/payment")
		})
	}
}

// attestation is the size of a protobuf pb.Attestation (a signature, a
// key id, a digest and a few short strings).
var attestation = bytes.Repeat([]byte{0xa5}, 180)

// lifecycle runs one payment's store work (see BenchmarkPaymentLifecycle).
func lifecycle(s store.Store, id string) error {
	now := time.Now().UTC()
	p := &store.Payment{
		ID: id, MerchantID: "shop_0007", AcquirerID: "bank_b", AmountMinor: 129900, Currency: "EUR",
		OrderRef: "order-" + id, Description: "Two coffees and a croissant",
		Lines:     []store.Line{{Name: "Coffee", Quantity: 2, AmountMinor: 50000}, {Name: "Croissant", Quantity: 1, AmountMinor: 29900}},
		ReturnURL: "https://shop.example/return", ExpiresAt: now.Add(15 * time.Minute), CreatedAt: now, UpdatedAt: now,
		State: "created", Version: 1, TokenHash: fmt.Sprintf("%064x", id),
		SellerSignature: bytes.Repeat([]byte{7}, 64), SellerKeyID: "k2026", SignedAtUnixMS: now.UnixMilli(),
		ConfigGeneration: 3,
	}
	err := s.Update(ctx, func(tx store.Tx) error {
		if _, err := tx.GetIdempotency(p.MerchantID, "idem-"+id); err != store.ErrNotFound {
			return fmt.Errorf("idempotency: %v", err)
		}
		q := *p
		if err := tx.PutPayment(&q); err != nil {
			return err
		}
		if err := tx.AppendEvent(&store.Event{PaymentID: id, At: now, Type: "payment.created", To: "created"}); err != nil {
			return err
		}
		return tx.PutIdempotency(&store.Idempotency{MerchantID: p.MerchantID, Key: "idem-" + id, BodyHash: p.TokenHash,
			Status: 201, Response: bytes.Repeat([]byte("r"), 400), PaymentID: id, CreatedAt: now})
	})
	if err != nil {
		return err
	}
	steps := []struct {
		to     string
		mutate func(q *store.Payment)
	}{
		{"method_chosen", func(q *store.Payment) {
			q.IssuerID, q.Method, q.InstrumentToken = "bank_a", "card", "tok_"+id
			q.BIN, q.Last4, q.Display, q.PayerRef = "400000", "0002", "Visa •••• 0002", "payer-17"
			q.Digest = bytes.Repeat([]byte{3}, 32)
		}},
		{"seller_authenticated", func(q *store.Payment) { q.Attestations = map[string][]byte{"B": attestation} }},
		{"seller_authenticated", nil},
		{"seller_authenticated", func(q *store.Payment) { q.PayerAuthFailures++ }},
		{"payer_authenticated", func(q *store.Payment) { q.Attestations["C"] = attestation; q.Pending = "debit" }},
		{"paid", func(q *store.Payment) {
			q.Pending, q.DebitReference = "", "dr-"+id
			q.Attestations["D"] = attestation
		}},
		{"paid", func(q *store.Payment) { q.Pending = "credit" }},
		{"paid", nil},
		{"approved", func(q *store.Payment) { q.Pending, q.CreditReference = "", "cr-"+id }},
	}
	for _, st := range steps {
		err := s.Update(ctx, func(tx store.Tx) error {
			q, err := tx.GetPayment(id)
			if err != nil {
				return err
			}
			from := q.State
			if st.mutate != nil {
				st.mutate(q)
			}
			now := time.Now().UTC()
			q.State, q.UpdatedAt = st.to, now
			q.Version++
			if err := tx.PutPayment(q); err != nil {
				return err
			}
			if err := tx.AppendEvent(&store.Event{PaymentID: id, At: now, Type: "payment." + st.to, From: from, To: st.to}); err != nil {
				return err
			}
			if from == st.to {
				return nil
			}
			switch st.to {
			case "paid":
				return tx.Enqueue(&store.OutboxMessage{ID: "an_" + id, Kind: store.KindAcquirerNotice, PaymentID: id,
					MerchantID: q.MerchantID, EventType: "payment.paid", CreatedAt: now, State: store.OutboxPending, NextAttempt: now})
			case "approved":
				return tx.Enqueue(&store.OutboxMessage{ID: "wh_" + id + "_approved", Kind: store.KindWebhook, PaymentID: id,
					MerchantID: q.MerchantID, EventType: "payment.approved", Body: bytes.Repeat([]byte("w"), 700),
					CreatedAt: now, State: store.OutboxPending, NextAttempt: now})
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	for _, mid := range []string{"an_" + id, "wh_" + id + "_approved"} {
		err := s.Update(ctx, func(tx store.Tx) error {
			m, err := tx.GetOutbox(mid)
			if err != nil {
				return err
			}
			m.Attempts++
			m.State, m.DeliveredAt, m.LastError = store.OutboxDelivered, time.Now(), ""
			return tx.PutOutbox(m)
		})
		if err != nil {
			return err
		}
	}
	return nil
}
