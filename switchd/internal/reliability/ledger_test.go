package reliability

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// writeLedger writes a ledger file in the plugins' layout with the given
// accounts (id -> balance, EUR), journal entries (postings account ->
// amount) and operations.
func writeLedger(t *testing.T, accounts map[string]int64, journal []map[string]int64, ops []ledgerOp) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ledger.db")
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Update(func(tx *bolt.Tx) error {
		ab, _ := tx.CreateBucket([]byte("accounts"))
		jb, _ := tx.CreateBucket([]byte("journal"))
		ob, _ := tx.CreateBucket([]byte("operations"))
		for id, bal := range accounts {
			v, _ := json.Marshal(map[string]any{"id": id, "currency": "EUR", "balance": bal})
			ab.Put([]byte(id), v)
		}
		for i, e := range journal {
			var ps []map[string]any
			for acct, amt := range e {
				ps = append(ps, map[string]any{"account": acct, "amount": amt})
			}
			v, _ := json.Marshal(map[string]any{"kind": "transfer", "postings": ps})
			jb.Put([]byte{0, 0, 0, 0, 0, 0, 0, byte(i + 1)}, v)
		}
		for _, op := range ops {
			v, _ := json.Marshal(op)
			ob.Put([]byte(op.PaymentID+"\x00"+op.Operation), v)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return path
}

// TestReadLedger proves the ledger checks behind verify can fail: an
// entry that does not sum to zero, a balance that is not the replay of its
// postings and balances that do not sum to zero are each reported, and a
// sound ledger passes with its kept operations counted per payment.
func TestReadLedger(t *testing.T) {
	ops := []ledgerOp{{PaymentID: "p1", Operation: "debit", State: "approved", Amount: 100},
		{PaymentID: "p2", Operation: "debit", State: "reversed", Amount: 50},
		{PaymentID: "p3", Operation: "debit", State: "declined", Amount: 70}}
	for _, tc := range []struct {
		name     string
		accounts map[string]int64
		journal  []map[string]int64
		want     string // substring of the error; "" for a sound ledger
	}{
		{"sound", map[string]int64{"payer": -100, "clearing": 100}, []map[string]int64{{"payer": -100, "clearing": 100}}, ""},
		{"entry not summing to zero", map[string]int64{"payer": -100, "clearing": 90}, []map[string]int64{{"payer": -100, "clearing": 90}}, "sums to -10"},
		{"balance not the replay", map[string]int64{"payer": -100, "clearing": 100}, []map[string]int64{{"payer": -90, "clearing": 90}}, "postings -90"},
		{"money created", map[string]int64{"payer": 0, "clearing": 100}, []map[string]int64{{"payer": -100, "clearing": 100}}, "balances sum to 100"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := readLedger(writeLedger(t, tc.accounts, tc.journal, ops))
			if tc.want != "" {
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("error %v, want one containing %q", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			moved, twice := l.moved("debit")
			if twice != 0 || len(moved) != 1 || moved["p1"] != 100 {
				t.Fatalf("kept debits %v (twice %d), want only p1: 100", moved, twice)
			}
		})
	}
}
