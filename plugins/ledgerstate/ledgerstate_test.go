package ledgerstate

import (
	"errors"
	"math/rand"
	"strings"
	"testing"

	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
)

// book is a small consistent ledger: alice pays a shop 300 (p1, debit and
// credit), a debit of 200 that was reversed (p2), a declined debit (p3) and
// a voided tombstone (p4).
func book() []*pb.StateWrite {
	var recs []*pb.StateWrite
	for _, a := range []Account{
		{ID: "alice", Currency: "EUR", Limit: 100},
		{ID: "shop", Currency: "EUR"},
		{ID: "clearing:EUR", Currency: "EUR", Unlimited: true},
		{ID: "seed:EUR", Currency: "EUR", Unlimited: true},
	} {
		recs = append(recs, AccountRecord(a))
	}
	recs = append(recs, EntryRecord(SeedEntry("alice", "seed:EUR", 1000)))
	for _, r := range []Result{
		{PaymentID: "p1", Operation: "debit", State: StateApproved, Reference: "L000000000001", From: "alice", To: "clearing:EUR", Amount: 300, Currency: "EUR"},
		{PaymentID: "p1", Operation: "credit", State: StateApproved, Reference: "L000000000002", From: "clearing:EUR", To: "shop", Amount: 300, Currency: "EUR"},
		{PaymentID: "p2", Operation: "debit", State: StateReversed, Reference: "L000000000003", From: "alice", To: "clearing:EUR", Amount: 200, Currency: "EUR"},
		{PaymentID: "p3", Operation: "debit", State: StateDeclined, DeclineCode: "insufficient_funds", From: "alice", To: "clearing:EUR", Amount: 5000, Currency: "EUR"},
		{PaymentID: "p4", Operation: "debit", State: StateNotFound, Voided: true},
	} {
		recs = append(recs, OperationRecords(r)...)
	}
	return recs
}

func TestDecodeBalancesAndCheck(t *testing.T) {
	v, err := Decode(book())
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Check(); err != nil {
		t.Fatalf("Check: %v", err)
	}
	want := map[string]int64{"alice": 700, "shop": 300, "clearing:EUR": 0, "seed:EUR": -1000}
	got := v.Balances()
	if len(got) != len(want) {
		t.Fatalf("balances %v, want %v", got, want)
	}
	for id, b := range want {
		if got[id] != b || v.Accounts()[id].Balance != b {
			t.Errorf("%s: balance %d (account %d), want %d", id, got[id], v.Accounts()[id].Balance, b)
		}
	}
	if r, ok := v.Operation("p2", "debit"); !ok || r.State != StateReversed {
		t.Errorf("p2/debit = %+v, %v", r, ok)
	}
	if r, ok := v.Operation("p4", "debit"); !ok || !r.Voided {
		t.Errorf("p4/debit tombstone = %+v, %v", r, ok)
	}
	if _, ok := v.Operation("p9", "debit"); ok {
		t.Error("p9/debit found")
	}
	if n := len(v.Operations()); n != 5 {
		t.Errorf("%d operations, want 5", n)
	}
	if n := len(v.Entries()); n != 5 { // seed, p1 x2, p2 transfer and reversal
		t.Errorf("%d entries, want 5", n)
	}
}

func TestOrderDoesNotMatter(t *testing.T) {
	recs := book()
	want, err := Decode(recs)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewSource(1))
	for i := range 20 {
		shuffled := append([]*pb.StateWrite(nil), recs...)
		rng.Shuffle(len(shuffled), func(a, b int) { shuffled[a], shuffled[b] = shuffled[b], shuffled[a] })
		// A repeated answer writes the same records again.
		shuffled = append(shuffled, shuffled[:i%len(shuffled)]...)
		v, err := Decode(shuffled)
		if err != nil {
			t.Fatal(err)
		}
		if err := v.Check(); err != nil {
			t.Fatalf("order %d: %v", i, err)
		}
		for id, b := range want.Balances() {
			if v.Balances()[id] != b {
				t.Fatalf("order %d: %s = %d, want %d", i, id, v.Balances()[id], b)
			}
		}
		if !sameRecords(v.Records(), want.Records()) {
			t.Fatalf("order %d: records differ", i)
		}
	}
}

func sameRecords(a, b []*pb.StateWrite) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if string(a[i].GetKey()) != string(b[i].GetKey()) || string(a[i].GetValue()) != string(b[i].GetValue()) {
			return false
		}
	}
	return true
}

func TestRecordsRoundTrip(t *testing.T) {
	recs := book()
	v, err := Decode(recs)
	if err != nil {
		t.Fatal(err)
	}
	SortRecords(recs)
	if !sameRecords(v.Records(), recs) {
		t.Fatal("Records() is not the records decoded")
	}
	prev := ""
	for _, r := range v.Records() {
		if string(r.GetKey()) <= prev {
			t.Fatalf("records not in key order at %q", r.GetKey())
		}
		prev = string(r.GetKey())
	}
}

func TestCheckFindsViolations(t *testing.T) {
	p1 := Result{PaymentID: "p1", Operation: "debit", State: StateApproved, From: "alice", To: "clearing:EUR", Amount: 300, Currency: "EUR"}
	tests := []struct {
		name   string
		change func([]*pb.StateWrite) []*pb.StateWrite
		want   string
	}{
		{"entry does not sum to zero", func(r []*pb.StateWrite) []*pb.StateWrite {
			return append(r, EntryRecord(Entry{Kind: KindSeed, Account: "shop", Postings: []Posting{{Account: "shop", Amount: 5}}}))
		}, "sums to 5"},
		{"approved without its entry", func(r []*pb.StateWrite) []*pb.StateWrite {
			return append(r, &pb.StateWrite{Key: EntryKey("p1", "debit", KindTransfer)})
		}, "has no transfer entry"},
		{"declined with an entry", func(r []*pb.StateWrite) []*pb.StateWrite {
			d := p1
			d.PaymentID, d.State = "p3", StateDeclined
			return append(r, EntryRecord(TransferEntry(d)))
		}, "(declined) has a transfer entry"},
		{"reversed without reversal", func(r []*pb.StateWrite) []*pb.StateWrite {
			return append(r, &pb.StateWrite{Key: EntryKey("p2", "debit", KindReversal)})
		}, "has no reversal entry"},
		{"entry of another amount", func(r []*pb.StateWrite) []*pb.StateWrite {
			o := p1
			o.Amount = 301
			return append(r, OperationRecord(o))
		}, "does not match"},
		{"orphan entry", func(r []*pb.StateWrite) []*pb.StateWrite {
			return append(r, &pb.StateWrite{Key: OperationKey("p1", "credit")})
		}, "has no operation"},
		{"below floor", func(r []*pb.StateWrite) []*pb.StateWrite {
			return append(r, AccountRecord(Account{ID: "seed:EUR", Currency: "EUR"}))
		}, "below floor"},
		{"unknown account", func(r []*pb.StateWrite) []*pb.StateWrite {
			return append(r, &pb.StateWrite{Key: AccountKey("shop")})
		}, "unknown account shop"},
		{"entry across currencies", func(r []*pb.StateWrite) []*pb.StateWrite {
			return append(r, AccountRecord(Account{ID: "clearing:EUR", Currency: "USD", Unlimited: true}))
		}, "mixes EUR and USD"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := Decode(tt.change(book()))
			if err != nil {
				t.Fatal(err)
			}
			err = v.Check()
			if !errors.Is(err, ErrInvariant) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Check = %v, want ErrInvariant with %q", err, tt.want)
			}
		})
	}
}

func TestPutRefusesBadRecords(t *testing.T) {
	tests := []struct {
		name       string
		key, value string
	}{
		{"unknown kind", "x/1", "{}"},
		{"account without id", "a/", `{"id":""}`},
		{"account of another id", "a/alice", `{"id":"bob","currency":"EUR"}`},
		{"account not json", "a/alice", `{`},
		{"operation key without operation", "o/p1", `{}`},
		{"operation of another payment", "o/p1\x00debit", `{"payment_id":"p2","operation":"debit"}`},
		{"journal kind", "j/p1\x00debit\x00other", `{"postings":[]}`},
		{"journal key parts", "j/p1", `{"postings":[]}`},
		{"journal value", "j/seed\x00alice", `[]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := NewView()
			if err := v.Put([]byte(tt.key), []byte(tt.value)); !errors.Is(err, ErrBadRecord) {
				t.Fatalf("Put = %v, want ErrBadRecord", err)
			}
			if len(v.Records()) != 0 {
				t.Fatal("a refused record changed the view")
			}
		})
	}
}

func TestPutCopies(t *testing.T) {
	v := NewView()
	key := []byte("a/alice")
	val := []byte(`{"id":"alice","currency":"EUR","limit":5}`)
	if err := v.Put(key, val); err != nil {
		t.Fatal(err)
	}
	copy(key, "a/xxxxx")
	copy(val, `{"id":"xxxxx"`)
	if a, ok := v.Accounts()["alice"]; !ok || a.Limit != 5 {
		t.Fatalf("accounts %v after the caller reused its buffers", v.Accounts())
	}
}

// TestCheckJournalLeavesOutFloors: a limit lowered below what an account
// owes is reported by Check, not by CheckJournal, which loads must pass.
func TestCheckJournalLeavesOutFloors(t *testing.T) {
	recs := append(book(), AccountRecord(Account{ID: "alice", Currency: "EUR"}))
	recs = append(recs, EntryRecord(TransferEntry(Result{PaymentID: "p5", Operation: "debit", From: "alice", To: "clearing:EUR", Amount: 800})),
		OperationRecord(Result{PaymentID: "p5", Operation: "debit", State: StateApproved, From: "alice", To: "clearing:EUR", Amount: 800, Currency: "EUR"}))
	v, err := Decode(recs)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.CheckJournal(); err != nil {
		t.Fatalf("CheckJournal = %v", err)
	}
	if err := v.Check(); !errors.Is(err, ErrInvariant) || !strings.Contains(err.Error(), "alice: balance -100 below floor 0") {
		t.Fatalf("Check = %v", err)
	}
	// Anything else CheckJournal reports.
	v2, err := Decode(append(recs, &pb.StateWrite{Key: EntryKey("p1", "debit", KindTransfer)}))
	if err != nil {
		t.Fatal(err)
	}
	if err := v2.CheckJournal(); !errors.Is(err, ErrInvariant) {
		t.Fatalf("CheckJournal of a missing entry = %v", err)
	}
}
