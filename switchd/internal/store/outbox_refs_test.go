package store_test

import (
	"bytes"
	"path/filepath"
	"testing"
	"time"

	"github.com/switchd/switchd/switchd/internal/store"
	"github.com/switchd/switchd/switchd/internal/store/storetest"
	bolt "go.etcd.io/bbolt"
)

// DueOutboxRefs must name exactly the messages DueOutbox returns, with
// their kinds and next attempts, and follow them as they are rescheduled
// and delivered.
func TestDueOutboxRefs(t *testing.T) {
	s := storetest.MustOpen(t)
	msgs := []*store.OutboxMessage{
		{ID: "w1", Kind: store.KindWebhook, PaymentID: "p1", CreatedAt: t0, NextAttempt: t0.Add(time.Minute)},
		{ID: "n1", Kind: store.KindAcquirerNotice, PaymentID: "p1", CreatedAt: t0, NextAttempt: t0.Add(123 * time.Nanosecond)},
		{ID: "w2", Kind: store.KindWebhook, PaymentID: "p2", CreatedAt: t0, NextAttempt: t0.Add(time.Hour)},
	}
	mustUpdate(t, s, func(tx store.Tx) error {
		for _, m := range msgs {
			if err := tx.Enqueue(m); err != nil {
				return err
			}
		}
		return nil
	})
	refs := func(now time.Time, limit int) []store.OutboxRef {
		t.Helper()
		var out []store.OutboxRef
		err := s.View(ctx, func(tx store.Tx) (err error) {
			out, err = tx.DueOutboxRefs(now, limit)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	got := refs(t0.Add(time.Minute), 10)
	want := []store.OutboxRef{
		{ID: "n1", Kind: store.KindAcquirerNotice, NextAttempt: t0.Add(123 * time.Nanosecond)},
		{ID: "w1", Kind: store.KindWebhook, NextAttempt: t0.Add(time.Minute)},
	}
	if len(got) != len(want) {
		t.Fatalf("refs at +1m = %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i].ID != want[i].ID || got[i].Kind != want[i].Kind || !got[i].NextAttempt.Equal(want[i].NextAttempt) {
			t.Errorf("ref %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	if got := refs(t0.Add(time.Minute), 1); len(got) != 1 || got[0].ID != "n1" {
		t.Errorf("limit 1 = %+v, want only n1", got)
	}
	if got := refs(t0.Add(-time.Second), 10); len(got) != 0 {
		t.Errorf("refs before anything is due = %+v", got)
	}

	// Delivered messages leave the index; rescheduled ones move in it.
	mustUpdate(t, s, func(tx store.Tx) error {
		n, err := tx.GetOutbox("n1")
		if err != nil {
			return err
		}
		n.State = store.OutboxDelivered
		if err := tx.PutOutbox(n); err != nil {
			return err
		}
		w, err := tx.GetOutbox("w2")
		if err != nil {
			return err
		}
		w.NextAttempt = t0.Add(time.Second)
		return tx.PutOutbox(w)
	})
	got = refs(t0.Add(time.Minute), 10)
	if len(got) != 2 || got[0].ID != "w2" || got[1].ID != "w1" || !got[0].NextAttempt.Equal(t0.Add(time.Second)) {
		t.Errorf("after delivery and reschedule = %+v, want [w2@+1s w1@+1m]", got)
	}
}

func mustUpdate(t *testing.T, s store.Store, fn func(store.Tx) error) {
	t.Helper()
	if err := s.Update(ctx, fn); err != nil {
		t.Fatal(err)
	}
}

// A due index entry written by an older switchd has no kind; the kind is
// then read from the message itself.
func TestDueOutboxRefsOldIndexEntry(t *testing.T) {
	path := filepath.Join(t.TempDir(), "switchd.db")
	s, err := store.Open(path, store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	mustUpdate(t, s, func(tx store.Tx) error {
		return tx.Enqueue(&store.OutboxMessage{ID: "n1", Kind: store.KindAcquirerNotice, PaymentID: "p1", CreatedAt: t0, NextAttempt: t0})
	})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("outbox_due"))
		k, v := b.Cursor().First()
		if string(v) != store.KindAcquirerNotice {
			t.Errorf("due index value = %q, want the kind", v)
		}
		return b.Put(bytes.Clone(k), nil)
	})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	s = storetest.MustOpenAt(t, path, store.Options{NoSync: true})
	var got []store.OutboxRef
	err = s.View(ctx, func(tx store.Tx) (err error) {
		got, err = tx.DueOutboxRefs(t0, 10)
		return err
	})
	if err != nil || len(got) != 1 || got[0].Kind != store.KindAcquirerNotice {
		t.Fatalf("refs = %+v, %v; want n1 with its kind", got, err)
	}
}
