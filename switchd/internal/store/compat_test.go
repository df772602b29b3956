package store_test

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/switchd/switchd/switchd/internal/store"
	"github.com/switchd/switchd/switchd/internal/store/storetest"
)

// fullPayment is a payment with every field set, as after step D.
func fullPayment(id string, created time.Time, state string) *store.Payment {
	p := payment(id, "m1", created, state)
	p.IssuerID, p.Method, p.Description = "bank_a", "card", "two coffees"
	p.Lines = []store.Line{{Name: "Coffee", Quantity: 2, AmountMinor: 625}}
	p.ReturnURL, p.DeclineCode, p.Version = "https://shop.example/r", "", 6
	p.SellerSignature, p.SellerKeyID, p.SignedAtUnixMS = []byte{1, 2, 3}, "k1", created.UnixMilli()
	p.InstrumentToken, p.BIN, p.Last4, p.Display = "tok", "400000", "0002", "Visa •••• 0002"
	p.PayerRef, p.BankCode, p.Digest = "payer-1", "BANKA", []byte{9, 9, 9}
	p.Attestations = map[string][]byte{"B": {1}, "C": {2}, "D": {3}}
	p.DebitReference, p.CreditReference, p.Pending = "dr", "cr", "credit"
	p.PayerAuthFailures, p.ConfigGeneration = 1, 4
	p.UpdatedAt = created.Add(time.Second + 7)
	return p
}

// writeJSONFile writes records the way versions before the binary format
// did, with bbolt directly: JSON values, and each payment's events in a
// bucket of its own under "events". The index entries are written by the
// store itself first (their layout has not changed), then every record
// value is replaced by its JSON form.
func writeJSONFile(t *testing.T, path string, ps []*store.Payment, evs []*store.Event, ms []*store.OutboxMessage) {
	t.Helper()
	s, err := store.Open(path, store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Update(ctx, func(tx store.Tx) error {
		for _, p := range ps {
			if err := tx.PutPayment(p); err != nil {
				return err
			}
		}
		for _, m := range ms {
			if err := tx.Enqueue(m); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Update(func(tx *bolt.Tx) error {
		put := func(bucket []byte, key string, v any) error {
			js, err := json.Marshal(v)
			if err != nil {
				return err
			}
			return tx.Bucket(bucket).Put([]byte(key), js)
		}
		for _, p := range ps {
			if err := put([]byte("payments"), p.ID, p); err != nil {
				return err
			}
		}
		for _, m := range ms {
			if err := put([]byte("outbox"), m.ID, m); err != nil {
				return err
			}
		}
		for _, e := range evs {
			b, err := tx.Bucket([]byte("events")).CreateBucketIfNotExists([]byte(e.PaymentID))
			if err != nil {
				return err
			}
			seq, err := b.NextSequence()
			if err != nil {
				return err
			}
			e.Seq = int64(seq)
			js, err := json.Marshal(e)
			if err != nil {
				return err
			}
			if err := b.Put(binary.BigEndian.AppendUint64(nil, seq), js); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// rawFormat returns the first byte of each named record in the file.
func rawFormat(t *testing.T, path string, bucket string, keys ...string) []byte {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var out []byte
	err = db.View(func(tx *bolt.Tx) error {
		for _, k := range keys {
			v := tx.Bucket([]byte(bucket)).Get([]byte(k))
			if len(v) == 0 {
				return errors.New("no record " + k)
			}
			out = append(out, v[0])
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestReadsJSONRecords: a data file written before the binary format (JSON
// records, events in a bucket per payment) is read back identically, and
// its indexes are maintained when its records are replaced; a replaced
// record is rewritten in the binary format.
func TestReadsJSONRecords(t *testing.T) {
	path := filepath.Join(t.TempDir(), "switchd.db")
	t1 := t0.Add(123456789)
	active := fullPayment("p1", t1, "paid")
	done := fullPayment("p2", t1.Add(time.Minute), "approved")
	evs := []*store.Event{
		{PaymentID: "p1", At: t1, Type: "payment.created", To: "created"},
		{PaymentID: "p1", At: t1.Add(time.Second), Type: "payment.method_chosen", From: "created", To: "method_chosen", Detail: "bank_a"},
	}
	msg := &store.OutboxMessage{ID: "an_p1", Kind: store.KindAcquirerNotice, PaymentID: "p1", MerchantID: "m1",
		EventType: "payment.paid", Body: []byte(`{"x":1}`), CreatedAt: t1, State: store.OutboxPending, NextAttempt: t1}
	writeJSONFile(t, path, []*store.Payment{active, done}, evs, []*store.OutboxMessage{msg})
	if got := rawFormat(t, path, "payments", "p1", "p2"); string(got) != "{{" {
		t.Fatalf("test setup: records start with %q, want JSON", got)
	}

	s := storetest.MustOpenAt(t, path, store.Options{NoSync: true})
	err := s.View(ctx, func(tx store.Tx) error {
		for _, want := range []*store.Payment{active, done} {
			got, err := tx.GetPayment(want.ID)
			if err != nil {
				return err
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("payment %s:\n got %+v\nwant %+v", want.ID, got, want)
			}
		}
		if p, err := tx.PaymentByToken(active.TokenHash); err != nil || p.ID != "p1" {
			t.Errorf("by token: %v %v", p, err)
		}
		list, _, err := tx.ListPayments("m1", "", 10)
		if err != nil || !reflect.DeepEqual(ids(list), []string{"p2", "p1"}) {
			t.Errorf("list: %v %v", ids(list), err)
		}
		act, err := tx.ActivePayments(10)
		if err != nil || !reflect.DeepEqual(ids(act), []string{"p1"}) {
			t.Errorf("active: %v %v", ids(act), err)
		}
		gotEvs, err := tx.Events("p1")
		if err != nil || !reflect.DeepEqual(gotEvs, evs) {
			t.Errorf("events: %+v %v", gotEvs, err)
		}
		m, err := tx.GetOutbox("an_p1")
		if err != nil || !reflect.DeepEqual(m, msg) {
			t.Errorf("outbox: %+v %v", m, err)
		}
		due, err := tx.DueOutbox(t1, 10)
		if err != nil || len(due) != 1 || due[0].ID != "an_p1" {
			t.Errorf("due: %v %v", due, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// Replace the JSON records: the payment leaves the active set and
	// changes token and expiry; the message is delivered.
	changed := *active
	changed.State, changed.TokenHash, changed.ExpiresAt, changed.Version = "approved", "th-new", t1.Add(time.Hour), 7
	delivered := *msg
	delivered.State, delivered.Attempts, delivered.DeliveredAt = store.OutboxDelivered, 1, t1.Add(time.Second)
	third := &store.Event{PaymentID: "p1", At: t1.Add(2 * time.Second), Type: "payment.approved", From: "paid", To: "approved"}
	err = s.Update(ctx, func(tx store.Tx) error {
		if err := tx.PutPayment(&changed); err != nil {
			return err
		}
		if err := tx.PutOutbox(&delivered); err != nil {
			return err
		}
		return tx.AppendEvent(third)
	})
	if err != nil {
		t.Fatal(err)
	}
	if third.Seq != 3 {
		t.Errorf("appended event has seq %d, want 3", third.Seq)
	}
	err = s.View(ctx, func(tx store.Tx) error {
		got, err := tx.GetPayment("p1")
		if err != nil || !reflect.DeepEqual(got, &changed) {
			t.Errorf("rewritten payment: %+v %v", got, err)
		}
		if _, err := tx.PaymentByToken(active.TokenHash); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("old token still found: %v", err)
		}
		if p, err := tx.PaymentByToken("th-new"); err != nil || p.ID != "p1" {
			t.Errorf("new token: %v %v", p, err)
		}
		if act, err := tx.ActivePayments(10); err != nil || len(act) != 0 {
			t.Errorf("active after approval: %v %v", ids(act), err)
		}
		if list, _, err := tx.ListPayments("m1", "", 10); err != nil || !reflect.DeepEqual(ids(list), []string{"p2", "p1"}) {
			t.Errorf("list after rewrite: %v %v", ids(list), err)
		}
		if due, err := tx.DueOutbox(t1.Add(time.Hour), 10); err != nil || len(due) != 0 {
			t.Errorf("due after delivery: %v %v", due, err)
		}
		if ms, err := tx.OutboxFor("p1"); err != nil || len(ms) != 1 || !reflect.DeepEqual(ms[0], &delivered) {
			t.Errorf("outbox of p1: %+v %v", ms, err)
		}
		gotEvs, err := tx.Events("p1")
		if err != nil || !reflect.DeepEqual(gotEvs, append(evs[:2:2], third)) {
			t.Errorf("events after append: %+v %v", gotEvs, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if got := rawFormat(t, path, "payments", "p1", "p2"); string(got) != "\x01{" {
		t.Errorf("after rewrite payments start with %q, want binary then untouched JSON", got)
	}
	if got := rawFormat(t, path, "outbox", "an_p1"); string(got) != "\x01" {
		t.Errorf("after rewrite the message starts with %q, want binary", got)
	}
}
