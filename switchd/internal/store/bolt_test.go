package store_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/switchd/switchd/switchd/internal/store"
	"github.com/switchd/switchd/switchd/internal/store/storetest"
)

var ctx = context.Background()

var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func payment(id, merchant string, created time.Time, state string) *store.Payment {
	return &store.Payment{
		ID: id, MerchantID: merchant, AcquirerID: "acq", AmountMinor: 1250, Currency: "EUR",
		OrderRef: "order-" + id, CreatedAt: created, UpdatedAt: created,
		ExpiresAt: created.Add(15 * time.Minute), State: state, TokenHash: "th-" + id,
	}
}

func put(t testing.TB, s store.Store, ps ...*store.Payment) {
	t.Helper()
	err := s.Update(ctx, func(tx store.Tx) error {
		for _, p := range ps {
			if err := tx.PutPayment(p); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func ids(ps []*store.Payment) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.ID)
	}
	return out
}

func TestPaymentCRUDAndIndexes(t *testing.T) {
	s := storetest.MustOpen(t)
	p := payment("p1", "m1", t0, "created")
	p.Lines = []store.Line{{Name: "Tea", Quantity: 2, AmountMinor: 625}}
	p.Attestations = map[string][]byte{"B": {1, 2, 3}}
	put(t, s, p)

	err := s.View(ctx, func(tx store.Tx) error {
		got, err := tx.GetPayment("p1")
		if err != nil {
			return err
		}
		if got.OrderRef != "order-p1" || got.Lines[0].Name != "Tea" || !bytes.Equal(got.Attestations["B"], []byte{1, 2, 3}) || !got.CreatedAt.Equal(t0) {
			t.Errorf("GetPayment = %+v", got)
		}
		byTok, err := tx.PaymentByToken("th-p1")
		if err != nil || byTok.ID != "p1" {
			t.Errorf("PaymentByToken = %v, %v", byTok, err)
		}
		act, err := tx.ActivePayments(10)
		if err != nil || len(act) != 1 {
			t.Errorf("ActivePayments = %v, %v", ids(act), err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// The payment reaches a final state and its token changes: old index
	// entries must go.
	p.State, p.TokenHash, p.Version = "approved", "th-new", 2
	put(t, s, p)
	err = s.View(ctx, func(tx store.Tx) error {
		if _, err := tx.PaymentByToken("th-p1"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("old token still resolves: %v", err)
		}
		if got, err := tx.PaymentByToken("th-new"); err != nil || got.State != "approved" || got.Version != 2 {
			t.Errorf("new token = %v, %v", got, err)
		}
		if act, _ := tx.ActivePayments(10); len(act) != 0 {
			t.Errorf("final payment still active: %v", ids(act))
		}
		if list, _, _ := tx.ListPayments("m1", "", 10); len(list) != 1 {
			t.Errorf("merchant index has %d entries, want 1", len(list))
		}
		if _, err := tx.GetPayment("nope"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetPayment(missing) = %v", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestPutPaymentRejectsBadInput(t *testing.T) {
	s := storetest.MustOpen(t)
	put(t, s, payment("p1", "m1", t0, "created"))
	tests := []struct {
		name string
		p    *store.Payment
		want error
	}{
		{"no id", payment("", "m1", t0, "created"), store.ErrInvalid},
		{"no merchant", payment("p2", "", t0, "created"), store.ErrInvalid},
		{"token of another payment", func() *store.Payment {
			p := payment("p2", "m1", t0, "created")
			p.TokenHash = "th-p1"
			return p
		}(), store.ErrExists},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.Update(ctx, func(tx store.Tx) error { return tx.PutPayment(tt.p) })
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			s.View(ctx, func(tx store.Tx) error {
				if _, err := tx.GetPayment("p2"); !errors.Is(err, store.ErrNotFound) {
					t.Errorf("rejected payment was written")
				}
				return nil
			})
		})
	}
}

func TestListPaymentsPaging(t *testing.T) {
	s := storetest.MustOpen(t)
	var all []*store.Payment
	for i := range 7 {
		all = append(all, payment(fmt.Sprintf("p%d", i), "m1", t0.Add(time.Duration(i)*time.Second), "created"))
	}
	// Same creation time for two payments: both are listed once, ties in
	// ID order.
	all = append(all, payment("p7", "m1", t0.Add(6*time.Second), "created"))
	all = append(all, payment("other", "m2", t0.Add(time.Hour), "created"))
	// A merchant whose ID is a prefix of m1's must not leak into m1's list.
	all = append(all, payment("short", "m", t0.Add(time.Hour), "created"))
	put(t, s, all...)

	tests := []struct {
		name  string
		limit int
		want  [][]string
	}{
		{"pages of 3", 3, [][]string{{"p6", "p7", "p5"}, {"p4", "p3", "p2"}, {"p1", "p0"}}},
		{"exact pages", 4, [][]string{{"p6", "p7", "p5", "p4"}, {"p3", "p2", "p1", "p0"}}},
		{"one page", 100, [][]string{{"p6", "p7", "p5", "p4", "p3", "p2", "p1", "p0"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cursor := ""
			for i, want := range tt.want {
				var got []*store.Payment
				var next string
				err := s.View(ctx, func(tx store.Tx) (err error) {
					got, next, err = tx.ListPayments("m1", cursor, tt.limit)
					return err
				})
				if err != nil {
					t.Fatal(err)
				}
				if fmt.Sprint(ids(got)) != fmt.Sprint(want) {
					t.Fatalf("page %d = %v, want %v", i, ids(got), want)
				}
				last := i == len(tt.want)-1
				if last != (next == "") {
					t.Fatalf("page %d: next cursor %q (last page: %v)", i, next, last)
				}
				cursor = next
			}
		})
	}

	t.Run("foreign cursor", func(t *testing.T) {
		err := s.View(ctx, func(tx store.Tx) error {
			_, _, err := tx.ListPayments("m1", "other", 3)
			return err
		})
		if !errors.Is(err, store.ErrInvalidCursor) {
			t.Fatalf("err = %v, want ErrInvalidCursor", err)
		}
	})
}

func TestActivePaymentsByExpiry(t *testing.T) {
	s := storetest.MustOpen(t)
	a := payment("a", "m1", t0, "created")
	a.ExpiresAt = t0.Add(30 * time.Minute)
	b := payment("b", "m1", t0, "paid")
	b.ExpiresAt = t0.Add(5 * time.Minute)
	c := payment("c", "m1", t0, "method_chosen")
	c.ExpiresAt = t0.Add(10 * time.Minute)
	put(t, s, a, b, c)
	for _, st := range []string{"approved", "refused", "declined", "expired", "cancelled", "failed"} {
		put(t, s, payment("final-"+st, "m1", t0, st))
	}
	s.View(ctx, func(tx store.Tx) error {
		got, err := tx.ActivePayments(10)
		if err != nil || fmt.Sprint(ids(got)) != "[b c a]" {
			t.Errorf("ActivePayments = %v, %v; want [b c a]", ids(got), err)
		}
		got, _ = tx.ActivePayments(2)
		if fmt.Sprint(ids(got)) != "[b c]" {
			t.Errorf("ActivePayments(2) = %v", ids(got))
		}
		return nil
	})
}

func TestEvents(t *testing.T) {
	s := storetest.MustOpen(t)
	err := s.Update(ctx, func(tx store.Tx) error {
		for _, typ := range []string{"payment.created", "payment.method_chosen"} {
			e := &store.Event{PaymentID: "p1", At: t0, Type: typ}
			if err := tx.AppendEvent(e); err != nil {
				return err
			}
		}
		return tx.AppendEvent(&store.Event{PaymentID: "p2", At: t0, Type: "payment.created"})
	})
	if err != nil {
		t.Fatal(err)
	}
	e := &store.Event{PaymentID: "p1", At: t0, Type: "payment.approved", From: "paid", To: "approved"}
	if err := s.Update(ctx, func(tx store.Tx) error { return tx.AppendEvent(e) }); err != nil {
		t.Fatal(err)
	}
	if e.Seq != 3 {
		t.Errorf("assigned Seq = %d, want 3", e.Seq)
	}
	s.View(ctx, func(tx store.Tx) error {
		evs, err := tx.Events("p1")
		if err != nil || len(evs) != 3 {
			t.Fatalf("Events = %v, %v", evs, err)
		}
		for i, ev := range evs {
			if ev.Seq != int64(i+1) {
				t.Errorf("event %d has Seq %d", i, ev.Seq)
			}
		}
		if evs[2].To != "approved" {
			t.Errorf("last event = %+v", evs[2])
		}
		if evs, err := tx.Events("none"); err != nil || len(evs) != 0 {
			t.Errorf("Events(none) = %v, %v", evs, err)
		}
		return nil
	})
}

func TestIdempotencyAndPrune(t *testing.T) {
	s := storetest.MustOpen(t)
	recs := []*store.Idempotency{
		{MerchantID: "m1", Key: "k1", BodyHash: "h1", Status: 201, Response: []byte(`{"id":"p1"}`), CreatedAt: t0},
		{MerchantID: "m1", Key: "k2", BodyHash: "h2", Status: 201, CreatedAt: t0.Add(2 * time.Hour)},
		// Same key, other merchant: a separate record.
		{MerchantID: "m2", Key: "k1", BodyHash: "h3", Status: 400, CreatedAt: t0.Add(time.Hour)},
	}
	err := s.Update(ctx, func(tx store.Tx) error {
		for _, r := range recs {
			if err := tx.PutIdempotency(r); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	s.View(ctx, func(tx store.Tx) error {
		r, err := tx.GetIdempotency("m1", "k1")
		if err != nil || r.BodyHash != "h1" || string(r.Response) != `{"id":"p1"}` {
			t.Errorf("GetIdempotency(m1,k1) = %+v, %v", r, err)
		}
		r, err = tx.GetIdempotency("m2", "k1")
		if err != nil || r.BodyHash != "h3" {
			t.Errorf("GetIdempotency(m2,k1) = %+v, %v", r, err)
		}
		return nil
	})
	var n int
	err = s.Update(ctx, func(tx store.Tx) (err error) {
		n, err = tx.PruneIdempotency(t0.Add(90 * time.Minute))
		return err
	})
	if err != nil || n != 2 {
		t.Fatalf("PruneIdempotency = %d, %v; want 2", n, err)
	}
	s.View(ctx, func(tx store.Tx) error {
		for _, k := range [][2]string{{"m1", "k1"}, {"m2", "k1"}} {
			if _, err := tx.GetIdempotency(k[0], k[1]); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("%v survived pruning: %v", k, err)
			}
		}
		if _, err := tx.GetIdempotency("m1", "k2"); err != nil {
			t.Errorf("newer record pruned: %v", err)
		}
		return nil
	})
}

func TestOutbox(t *testing.T) {
	s := storetest.MustOpen(t)
	msgs := []*store.OutboxMessage{
		{ID: "w1", Kind: store.KindWebhook, PaymentID: "p1", MerchantID: "m1", CreatedAt: t0, NextAttempt: t0.Add(time.Minute)},
		{ID: "n1", Kind: store.KindAcquirerNotice, PaymentID: "p1", CreatedAt: t0.Add(time.Second), NextAttempt: t0},
		{ID: "w2", Kind: store.KindWebhook, PaymentID: "p2", CreatedAt: t0, NextAttempt: t0.Add(time.Hour)},
	}
	err := s.Update(ctx, func(tx store.Tx) error {
		for _, m := range msgs {
			if err := tx.Enqueue(m); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	due := func(now time.Time) []string {
		var out []string
		s.View(ctx, func(tx store.Tx) error {
			ms, err := tx.DueOutbox(now, 10)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range ms {
				out = append(out, m.ID)
			}
			return nil
		})
		return out
	}
	if got := fmt.Sprint(due(t0.Add(time.Minute))); got != "[n1 w1]" {
		t.Errorf("due at +1m = %s, want [n1 w1]", got)
	}
	if got := due(t0.Add(-time.Second)); len(got) != 0 {
		t.Errorf("due before anything = %v", got)
	}

	t.Run("duplicate id", func(t *testing.T) {
		err := s.Update(ctx, func(tx store.Tx) error {
			return tx.Enqueue(&store.OutboxMessage{ID: "w1", Kind: store.KindWebhook, Body: []byte("other")})
		})
		if !errors.Is(err, store.ErrExists) {
			t.Fatalf("err = %v, want ErrExists", err)
		}
	})

	// Delivered messages leave the due index; retries move in it.
	err = s.Update(ctx, func(tx store.Tx) error {
		m, err := tx.GetOutbox("n1")
		if err != nil {
			return err
		}
		m.State, m.Attempts, m.DeliveredAt = store.OutboxDelivered, 1, t0
		if err := tx.PutOutbox(m); err != nil {
			return err
		}
		m, err = tx.GetOutbox("w2")
		if err != nil {
			return err
		}
		m.NextAttempt = t0.Add(30 * time.Second)
		return tx.PutOutbox(m)
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(due(t0.Add(time.Minute))); got != "[w2 w1]" {
		t.Errorf("due after update = %s, want [w2 w1]", got)
	}
	s.View(ctx, func(tx store.Tx) error {
		ms, err := tx.OutboxFor("p1")
		if err != nil || len(ms) != 2 || ms[0].ID != "w1" || ms[1].State != store.OutboxDelivered {
			t.Errorf("OutboxFor(p1) = %v, %v", ms, err)
		}
		if _, err := tx.GetOutbox("zz"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetOutbox(missing) = %v", err)
		}
		return nil
	})
	err = s.Update(ctx, func(tx store.Tx) error { return tx.PutOutbox(&store.OutboxMessage{ID: "zz"}) })
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("PutOutbox(missing) = %v", err)
	}
}

// A failing fn in a group-committed batch must abort only its own writes,
// whatever the batching options.
func TestConcurrentUpdatesIsolateFailures(t *testing.T) {
	tests := []struct {
		name string
		opts store.Options
	}{
		{"default", store.Options{NoSync: true}},
		{"batch delay", store.Options{NoSync: true, MaxBatchDelay: 2 * time.Millisecond}},
		{"small batches", store.Options{NoSync: true, MaxBatchSize: 3}},
		{"no batching", store.Options{NoSync: true, MaxBatchSize: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := storetest.MustOpenAt(t, filepath.Join(t.TempDir(), "s.db"), tt.opts)
			const n = 200
			var wg sync.WaitGroup
			errs := make([]error, n)
			for i := range n {
				wg.Go(func() {
					errs[i] = s.Update(ctx, func(tx store.Tx) error {
						if err := tx.PutPayment(payment(fmt.Sprintf("p%03d", i), "m1", t0.Add(time.Duration(i)*time.Millisecond), "created")); err != nil {
							return err
						}
						if i%5 == 0 {
							return fmt.Errorf("caller %d says no", i)
						}
						return tx.AppendEvent(&store.Event{PaymentID: fmt.Sprintf("p%03d", i), Type: "payment.created"})
					})
				})
			}
			wg.Wait()
			for i, err := range errs {
				if (i%5 == 0) != (err != nil) {
					t.Errorf("caller %d: err = %v", i, err)
				}
			}
			s.View(ctx, func(tx store.Tx) error {
				for i := range n {
					id := fmt.Sprintf("p%03d", i)
					_, err := tx.GetPayment(id)
					evs, _ := tx.Events(id)
					if i%5 == 0 {
						if err == nil || len(evs) != 0 {
							t.Errorf("%s: failed update left writes", id)
						}
					} else if err != nil || len(evs) != 1 {
						t.Errorf("%s: payment %v, %d events (fn retried into duplicates?)", id, err, len(evs))
					}
				}
				return nil
			})
		})
	}
}

func TestUpdatePanicReachesCaller(t *testing.T) {
	s := storetest.MustOpen(t)
	defer func() {
		if v := recover(); v != "boom" {
			t.Fatalf("recovered %v, want boom", v)
		}
		// The store still works after the panic.
		put(t, s, payment("p1", "m1", t0, "created"))
	}()
	s.Update(ctx, func(tx store.Tx) error { panic("boom") })
}

func TestCancelledContextWritesNothing(t *testing.T) {
	s := storetest.MustOpen(t)
	c, cancel := context.WithCancel(ctx)
	cancel()
	ran := false
	err := s.Update(c, func(tx store.Tx) error { ran = true; return nil })
	if !errors.Is(err, context.Canceled) || ran {
		t.Fatalf("Update(cancelled) = %v, fn ran: %v", err, ran)
	}
}

func TestReopenKeepsEverything(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	s, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	put(t, s, payment("p1", "m1", t0, "created"), payment("p2", "m1", t0.Add(time.Second), "approved"))
	err = s.Update(ctx, func(tx store.Tx) error {
		if err := tx.AppendEvent(&store.Event{PaymentID: "p1", Type: "payment.created"}); err != nil {
			return err
		}
		if err := tx.PutIdempotency(&store.Idempotency{MerchantID: "m1", Key: "k", CreatedAt: t0}); err != nil {
			return err
		}
		return tx.Enqueue(&store.OutboxMessage{ID: "w1", Kind: store.KindWebhook, PaymentID: "p2", NextAttempt: t0})
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Update(ctx, func(store.Tx) error { return nil }); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Update after Close = %v, want ErrClosed", err)
	}

	s = storetest.MustOpenAt(t, path, store.Options{})
	s.View(ctx, func(tx store.Tx) error {
		list, _, err := tx.ListPayments("m1", "", 10)
		if err != nil || fmt.Sprint(ids(list)) != "[p2 p1]" {
			t.Errorf("ListPayments after reopen = %v, %v", ids(list), err)
		}
		if p, err := tx.PaymentByToken("th-p1"); err != nil || p.ID != "p1" {
			t.Errorf("token index after reopen: %v", err)
		}
		if act, _ := tx.ActivePayments(10); fmt.Sprint(ids(act)) != "[p1]" {
			t.Errorf("active after reopen = %v", ids(act))
		}
		if evs, _ := tx.Events("p1"); len(evs) != 1 {
			t.Errorf("events after reopen = %d", len(evs))
		}
		if _, err := tx.GetIdempotency("m1", "k"); err != nil {
			t.Errorf("idempotency after reopen: %v", err)
		}
		if due, _ := tx.DueOutbox(t0, 10); len(due) != 1 {
			t.Errorf("due outbox after reopen = %d", len(due))
		}
		return nil
	})
	// Appending continues the sequence.
	e := &store.Event{PaymentID: "p1", Type: "payment.method_chosen"}
	if err := s.Update(ctx, func(tx store.Tx) error { return tx.AppendEvent(e) }); err != nil || e.Seq != 2 {
		t.Errorf("AppendEvent after reopen: seq %d, %v", e.Seq, err)
	}
}

func TestOpenLockedFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	storetest.MustOpenAt(t, path, store.Options{NoSync: true})
	_, err := store.Open(path, store.Options{LockTimeout: 50 * time.Millisecond})
	if err == nil {
		t.Fatal("second Open of a locked file succeeded")
	}
}

func TestSnapshotIsUsableCopy(t *testing.T) {
	s := storetest.MustOpen(t)
	put(t, s, payment("p1", "m1", t0, "created"))
	backup := filepath.Join(t.TempDir(), "backup.db")
	f, err := os.Create(backup)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Snapshot(f); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	// Writes after the snapshot are not in it.
	put(t, s, payment("p2", "m1", t0, "created"))

	b := storetest.MustOpenAt(t, backup, store.Options{NoSync: true})
	if err := b.Check(); err != nil {
		t.Fatal(err)
	}
	b.View(ctx, func(tx store.Tx) error {
		if _, err := tx.GetPayment("p1"); err != nil {
			t.Errorf("p1 missing from snapshot: %v", err)
		}
		if _, err := tx.GetPayment("p2"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("p2 in snapshot: %v", err)
		}
		return nil
	})
}

func TestCheckDetectsCorruption(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	s, err := store.Open(path, store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		put(t, s, payment(fmt.Sprintf("p%02d", i), "m1", t0, "created"))
	}
	if err := s.Check(); err != nil {
		t.Fatalf("healthy store: %v", err)
	}
	s.Close()
	// Overwrite one data page (page 4 onward holds b+tree pages) with
	// garbage that keeps the meta pages valid.
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	page := os.Getpagesize()
	if len(data) < 6*page {
		t.Skipf("file too small (%d bytes) to corrupt a data page", len(data))
	}
	for i := 4 * page; i < 5*page; i++ {
		data[i] = 0xff
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	s, err = store.Open(path, store.Options{NoSync: true})
	if err != nil {
		t.Logf("Open refused the corrupt file: %v", err)
		return // refusing to open a corrupt file is also a detection
	}
	defer s.Close()
	err = s.Check()
	if !errors.Is(err, store.ErrCorrupt) {
		t.Fatalf("Check on corrupted file = %v, want ErrCorrupt", err)
	}
	t.Logf("Check: %.300v", err)
}
