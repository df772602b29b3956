package store_test

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/switchd/switchd/switchd/internal/store"
	"github.com/switchd/switchd/switchd/internal/store/storetest"
)

// indexEntries lists the index buckets' keys of the file at path, as
// strings, so that a stale entry shows.
func indexEntries(t *testing.T, path string) map[string][]string {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	out := map[string][]string{}
	err = db.View(func(tx *bolt.Tx) error {
		for _, name := range []string{"payments_merchant", "payments_token", "payments_active", "outbox_due", "outbox_payment"} {
			err := tx.Bucket([]byte(name)).ForEach(func(k, v []byte) error {
				out[name] = append(out[name], fmt.Sprintf("%x=%s", k, v))
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestPutPaymentMovesIndexes: whatever field of an index key changes, a
// replaced payment's index entries are exactly those a fresh file holding
// only the new record has (PutPayment reads only the old record's head
// and leaves unchanged entries alone).
func TestPutPaymentMovesIndexes(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(p *store.Payment)
	}{
		{"nothing", func(p *store.Payment) { p.Version++ }},
		{"state within active", func(p *store.Payment) { p.State = "paid" }},
		{"to final", func(p *store.Payment) { p.State = "approved" }},
		{"expiry", func(p *store.Payment) { p.ExpiresAt = p.ExpiresAt.Add(time.Minute) }},
		{"expiry and final", func(p *store.Payment) { p.ExpiresAt, p.State = p.ExpiresAt.Add(time.Minute), "expired" }},
		{"merchant", func(p *store.Payment) { p.MerchantID = "m2" }},
		{"created", func(p *store.Payment) { p.CreatedAt = p.CreatedAt.Add(time.Nanosecond) }},
		{"token changed", func(p *store.Payment) { p.TokenHash = "th-other" }},
		{"token removed", func(p *store.Payment) { p.TokenHash = "" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			replaced, fresh := filepath.Join(dir, "replaced.db"), filepath.Join(dir, "fresh.db")
			p := payment("p1", "m1", t0, "created")
			q := *p
			tc.change(&q)
			s := storetest.MustOpenAt(t, replaced, store.Options{NoSync: true})
			put(t, s, payment("p0", "m1", t0, "created"), p)
			put(t, s, &q)
			s.Close()
			f := storetest.MustOpenAt(t, fresh, store.Options{NoSync: true})
			put(t, f, payment("p0", "m1", t0, "created"), &q)
			f.Close()
			got, want := indexEntries(t, replaced), indexEntries(t, fresh)
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("indexes after replacing:\n%v\nwant\n%v", got, want)
			}
		})
	}
	t.Run("final to active", func(t *testing.T) {
		dir := t.TempDir()
		replaced, fresh := filepath.Join(dir, "replaced.db"), filepath.Join(dir, "fresh.db")
		p := payment("p1", "m1", t0, "failed")
		q := *p
		q.State = "created"
		s := storetest.MustOpenAt(t, replaced, store.Options{NoSync: true})
		put(t, s, p)
		put(t, s, &q)
		s.Close()
		f := storetest.MustOpenAt(t, fresh, store.Options{NoSync: true})
		put(t, f, &q)
		f.Close()
		if got, want := indexEntries(t, replaced), indexEntries(t, fresh); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("indexes after replacing:\n%v\nwant\n%v", got, want)
		}
	})
}

// TestPutOutboxMovesIndexes: as TestPutPaymentMovesIndexes, for outbox
// messages.
func TestPutOutboxMovesIndexes(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(m *store.OutboxMessage)
	}{
		{"attempt only", func(m *store.OutboxMessage) { m.Attempts++; m.LastError = "503" }},
		{"rescheduled", func(m *store.OutboxMessage) { m.NextAttempt = m.NextAttempt.Add(time.Second) }},
		{"delivered", func(m *store.OutboxMessage) { m.State, m.DeliveredAt = store.OutboxDelivered, t0 }},
		{"gave up", func(m *store.OutboxMessage) { m.State = store.OutboxGaveUp }},
		{"kind", func(m *store.OutboxMessage) { m.Kind = store.KindAcquirerNotice }},
		{"payment", func(m *store.OutboxMessage) { m.PaymentID = "p2" }},
		{"created", func(m *store.OutboxMessage) { m.CreatedAt = m.CreatedAt.Add(time.Millisecond) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			replaced, fresh := filepath.Join(dir, "replaced.db"), filepath.Join(dir, "fresh.db")
			m := &store.OutboxMessage{ID: "wh1", Kind: store.KindWebhook, PaymentID: "p1", CreatedAt: t0, NextAttempt: t0}
			q := *m
			q.State = store.OutboxPending
			tc.change(&q)
			s := storetest.MustOpenAt(t, replaced, store.Options{NoSync: true})
			err := s.Update(ctx, func(tx store.Tx) error {
				if err := tx.Enqueue(m); err != nil {
					return err
				}
				return tx.PutOutbox(&q)
			})
			if err != nil {
				t.Fatal(err)
			}
			s.Close()
			f := storetest.MustOpenAt(t, fresh, store.Options{NoSync: true})
			if err := f.Update(ctx, func(tx store.Tx) error { return tx.Enqueue(&q) }); err != nil {
				t.Fatal(err)
			}
			f.Close()
			if got, want := indexEntries(t, replaced), indexEntries(t, fresh); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("indexes after replacing:\n%v\nwant\n%v", got, want)
			}
		})
	}
}
