package ledger

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchd/switchd/plugins/internal/ledger/oldledger"
	"github.com/switchd/switchd/plugins/ledgerstate"
	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
)

// TestLostAnswerIsRepeated loses the records of each kind of answer (the
// host's commit failed, or it crashed after the plugin answered but the
// plugin lives on) and checks that the next answer about the operation
// carries them again, so that the host's records catch up with the
// ledger.
func TestLostAnswerIsRepeated(t *testing.T) {
	ctx := context.Background()
	tr := Transfer{PaymentID: "p1", Operation: OpDebit, From: "alice", To: "clearing:EUR", Amount: 300, Currency: "EUR"}
	tests := []struct {
		name   string
		lose   func(l *Ledger) // its writes are not committed
		repeat func(h *host) (Result, error)
		want   State
	}{
		{"debit, then status", func(l *Ledger) { l.Transfer(ctx, tr) },
			func(h *host) (Result, error) { return h.Status(ctx, "p1", OpDebit) }, StateApproved},
		{"debit, then retry", func(l *Ledger) { l.Transfer(ctx, tr) },
			func(h *host) (Result, error) { return h.Transfer(ctx, tr) }, StateApproved},
		{"debit and reversal, then status", func(l *Ledger) { l.Transfer(ctx, tr); l.Reverse(ctx, "p1", OpDebit) },
			func(h *host) (Result, error) { return h.Status(ctx, "p1", OpDebit) }, StateReversed},
		{"debit and reversal, then reversal", func(l *Ledger) { l.Transfer(ctx, tr); l.Reverse(ctx, "p1", OpDebit) },
			func(h *host) (Result, error) { return h.Reverse(ctx, "p1", OpDebit) }, StateReversed},
		{"declined, then retry", func(l *Ledger) { t := tr; t.Amount = 5000; l.Transfer(ctx, t) },
			func(h *host) (Result, error) { t := tr; t.Amount = 5000; return h.Transfer(ctx, t) }, StateDeclined},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := mustLoad(t, Opening{ID: "alice", Currency: "EUR", Balance: 1000})
			tt.lose(h.l)
			if len(h.records()) == len(h.l.Records()) {
				t.Fatal("nothing was lost")
			}
			r, err := tt.repeat(h)
			if err != nil || r.State != tt.want {
				t.Fatalf("repeat = %+v, %v; want %s", r, err, tt.want)
			}
			// The cleanup checks that the host now holds the whole state;
			// a restart from it gives the same balances.
			before := h.Balances()
			h.restart()
			if got := h.Balances()["alice"]; got != before["alice"] {
				t.Fatalf("alice after restart %+v, before %+v", got, before["alice"])
			}
		})
	}
	t.Run("voided reversal, then status", func(t *testing.T) {
		h := mustLoad(t, Opening{ID: "alice", Currency: "EUR", Balance: 1000})
		h.l.Reverse(ctx, "p1", OpDebit)
		r, ws, err := h.l.Status(ctx, "p1", OpDebit)
		if err != nil || r.State != StateNotFound || len(ws) != 1 {
			t.Fatalf("status = %+v %v %v; want not found with the tombstone", r, ws, err)
		}
		h.commit(ws)
		h.restart()
		if late, err := h.Transfer(ctx, tr); err != nil || late.DeclineCode != DeclineVoided {
			t.Fatalf("late debit after restart = %+v, %v", late, err)
		}
	})
}

// TestLostAnswerIsGone restarts from what the host committed when an
// answer was lost and nobody asked again: the operation is gone on both
// sides, and the payment can be made anew.
func TestLostAnswerIsGone(t *testing.T) {
	ctx := context.Background()
	h := mustLoad(t, Opening{ID: "alice", Currency: "EUR", Balance: 1000})
	tr := Transfer{PaymentID: "p1", Operation: OpDebit, From: "alice", To: "clearing:EUR", Amount: 300, Currency: "EUR"}
	if _, _, err := h.l.Transfer(ctx, tr); err != nil {
		t.Fatal(err)
	}
	h.restart()
	if st, err := h.Status(ctx, "p1", OpDebit); err != nil || st.State != StateNotFound {
		t.Fatalf("status = %+v, %v", st, err)
	}
	if got := balance(t, h, "alice"); got != 1000 {
		t.Fatalf("alice = %d", got)
	}
	r, err := h.Transfer(ctx, tr)
	if err != nil || r.State != StateApproved {
		t.Fatalf("debit again = %+v, %v", r, err)
	}
}

func TestReferencesContinueAfterLoad(t *testing.T) {
	ctx := context.Background()
	h := mustLoad(t, Opening{ID: "alice", Currency: "EUR", Balance: 1000})
	refs := map[string]bool{}
	for i, p := range []string{"p1", "p2", "p3"} {
		r, err := h.Transfer(ctx, Transfer{PaymentID: p, Operation: OpDebit, From: "alice", To: "clearing:EUR", Amount: 1, Currency: "EUR"})
		if err != nil {
			t.Fatal(err)
		}
		refs[r.Reference] = true
		if i == 1 {
			h.restart()
		}
	}
	h.restart()
	r, err := h.Transfer(ctx, Transfer{PaymentID: "p4", Operation: OpDebit, From: "alice", To: "clearing:EUR", Amount: 1, Currency: "EUR"})
	if err != nil {
		t.Fatal(err)
	}
	if refs[r.Reference] || len(refs) != 3 || r.Reference != "L000000000004" {
		t.Fatalf("reference %q after %v", r.Reference, refs)
	}
}

func TestSeedRecords(t *testing.T) {
	ctx := context.Background()
	l := New()
	ws, err := l.Seed(ctx, []Opening{{ID: "alice", Currency: "EUR", Limit: 10, Balance: 100}, {ID: "shop", Currency: "EUR"}})
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]bool{}
	for _, w := range ws {
		if keys[string(w.GetKey())] {
			t.Errorf("key %q twice", w.GetKey())
		}
		keys[string(w.GetKey())] = true
	}
	for _, k := range []string{"a/alice", "a/shop", "a/clearing:EUR", "a/seed:EUR", "j/seed\x00alice"} {
		if !keys[k] {
			t.Errorf("no record %q in %v", k, keys)
		}
	}
	if len(keys) != 5 {
		t.Errorf("%d records, want 5", len(keys))
	}
	// Seeding again repeats the records, with the new limit.
	ws2, err := l.Seed(ctx, []Opening{{ID: "alice", Currency: "EUR", Limit: 20, Balance: 999}})
	if err != nil {
		t.Fatal(err)
	}
	v, err := ledgerstate.Decode(append(ws, ws2...))
	if err != nil {
		t.Fatal(err)
	}
	if a := v.Accounts()["alice"]; a.Limit != 20 || a.Balance != 100 {
		t.Fatalf("alice = %+v, want limit 20 balance 100", a)
	}
	if err := v.Check(); err != nil {
		t.Fatal(err)
	}
	// A refused seed returns nothing and changes nothing.
	for _, bad := range [][]Opening{
		{{ID: "bob", Currency: "EUR"}, {ID: "alice", Currency: "USD"}},
		{{ID: "bob", Currency: "EUR"}, {ID: strings.Repeat("x", MaxID+1), Currency: "EUR"}},
		{{ID: "bob", Currency: "EUR"}, {ID: "clearing:EUR", Currency: "EUR"}},
		{{ID: "bob\x00", Currency: "EUR"}},
	} {
		before := l.Records()
		ws, err := l.Seed(ctx, bad)
		if err == nil || ws != nil {
			t.Fatalf("Seed(%v) = %v, %v; want an error", bad, ws, err)
		}
		if !sameRecords(before, l.Records()) {
			t.Fatalf("a refused Seed(%v) changed the ledger", bad)
		}
	}
}

func TestLoadRefusesBadRecords(t *testing.T) {
	ctx := context.Background()
	good := mustLoad(t, Opening{ID: "alice", Currency: "EUR", Balance: 1000})
	if _, err := good.Transfer(ctx, Transfer{PaymentID: "p1", Operation: OpDebit, From: "alice", To: "clearing:EUR", Amount: 1, Currency: "EUR"}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		extra *pb.StateWrite
		want  error
	}{
		{"unknown kind", &pb.StateWrite{Key: []byte("z/1"), Value: []byte("{}")}, ledgerstate.ErrBadRecord},
		{"not json", &pb.StateWrite{Key: []byte("a/bob"), Value: []byte("{")}, ledgerstate.ErrBadRecord},
		{"entry without its operation", ledgerstate.EntryRecord(ledgerstate.Entry{Kind: ledgerstate.KindTransfer, PaymentID: "p9", Operation: OpDebit,
			Postings: []Posting{{Account: "alice", Amount: -5}, {Account: "clearing:EUR", Amount: 5}}}), ErrInvariant},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := New()
			if err := l.Load(good.records()); err != nil {
				t.Fatal(err)
			}
			before := l.Records()
			if err := l.Load(append(good.records(), tt.extra)); !errors.Is(err, tt.want) {
				t.Fatalf("Load = %v, want %v", err, tt.want)
			}
			if !sameRecords(before, l.Records()) {
				t.Fatal("a refused Load changed the ledger")
			}
		})
	}
}

func TestLongKeysAreRefused(t *testing.T) {
	ctx := context.Background()
	h := mustLoad(t, Opening{ID: "alice", Currency: "EUR", Balance: 1000})
	long := strings.Repeat("p", MaxID+1)
	for _, tr := range []Transfer{
		{PaymentID: long, Operation: OpDebit, From: "alice", To: "clearing:EUR", Amount: 1, Currency: "EUR"},
		{PaymentID: "p1", Operation: long, From: "alice", To: "clearing:EUR", Amount: 1, Currency: "EUR"},
		{PaymentID: "p1", Operation: OpDebit, From: "alice", To: "clearing:EUR", Amount: 1, Currency: strings.Repeat("E", MaxCurrency+1)},
	} {
		if _, err := h.Transfer(ctx, tr); !errors.Is(err, ErrInvalidTransfer) {
			t.Fatalf("err = %v, want ErrInvalidTransfer", err)
		}
	}
	if _, err := h.Reverse(ctx, long, OpDebit); !errors.Is(err, ErrInvalidTransfer) {
		t.Fatalf("err = %v, want ErrInvalidTransfer", err)
	}
	// The longest accepted ids make keys the host stores (the host
	// harness fails the test otherwise).
	max := strings.Repeat("p", MaxID)
	if _, err := h.Transfer(ctx, Transfer{PaymentID: max, Operation: max, From: "alice", To: "clearing:EUR", Amount: 1, Currency: "EUR"}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Reverse(ctx, max, max); err != nil {
		t.Fatal(err)
	}
}

// expected is what the bbolt ledger of release 1.0.0 answered when it wrote
// oldledger's ledger.db.
type expected struct {
	Balances map[string]Account `json:"balances"`
	Status   map[string]Result  `json:"status"`
}

func readExpected(t *testing.T) expected {
	t.Helper()
	var e expected
	if err := json.Unmarshal(oldledger.Expected, &e); err != nil {
		t.Fatal(err)
	}
	return e
}

// copyOld puts the old ledger file of release 1.0.0 in a new data dir.
func copyOld(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := oldledger.Write(dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestExportOldFile exports a ledger.db written by the bbolt ledger of
// release 1.0.0 (package oldledger) and loads the records: the balances and
// every operation's answer are what that ledger gave, and the ledger goes
// on from there.
func TestExportOldFile(t *testing.T) {
	ctx := context.Background()
	want := readExpected(t)
	dir := copyOld(t)
	recs, err := Export(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, OldFile)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("ledger.db still there after export: %v", err)
	}
	l := New()
	if err := l.Load(recs); err != nil {
		t.Fatal(err)
	}
	got := l.Balances()
	if len(got) != len(want.Balances) {
		t.Fatalf("%d accounts, want %d", len(got), len(want.Balances))
	}
	for id, a := range want.Balances {
		if got[id] != a {
			t.Errorf("%s = %+v, want %+v", id, got[id], a)
		}
	}
	for k, w := range want.Status {
		p, op, _ := strings.Cut(k, "/")
		r, _, err := l.Status(ctx, p, op)
		if err != nil || r != w {
			t.Errorf("status %s = %+v, %v; want %+v", k, r, err, w)
		}
	}
	if err := l.Check(); err != nil {
		t.Fatal(err)
	}
	// Reversed operations are not reversed again, voided ones stay
	// voided, references go on above the old ones.
	if r, _, err := l.Reverse(ctx, "p2", OpDebit); err != nil || r.State != StateReversed || l.Balances()["acct:DE001"].Balance != 50000 {
		t.Fatalf("reverse p2 again = %+v, %v", r, err)
	}
	if r, _, err := l.Transfer(ctx, Transfer{PaymentID: "p5", Operation: OpCredit, From: "clearing:EUR", To: "merchant:shop", Amount: 1, Currency: "EUR"}); err != nil || r.DeclineCode != DeclineVoided {
		t.Fatalf("late credit of p5 = %+v, %v", r, err)
	}
	if r, _, err := l.Transfer(ctx, Transfer{PaymentID: "p8", Operation: OpDebit, From: "card:tok_alice", To: "clearing:EUR", Amount: 1, Currency: "EUR"}); err != nil || r.Reference != "L000000000005" {
		t.Fatalf("new debit = %+v, %v", r, err)
	}

	// Until the host holds the records it may ask again: the same records
	// come from the renamed file.
	again, err := Export(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !sameRecords(again, recs) {
		t.Fatal("the second export differs from the first")
	}
}

func TestExportCases(t *testing.T) {
	t.Run("no file", func(t *testing.T) {
		recs, err := Export(t.TempDir())
		if err != nil || recs != nil {
			t.Fatalf("Export = %v, %v; want nothing", recs, err)
		}
	})
	t.Run("both files", func(t *testing.T) {
		dir := copyOld(t)
		b, _ := os.ReadFile(filepath.Join(dir, OldFile))
		if err := os.WriteFile(filepath.Join(dir, ImportedFile), b, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := Export(dir); !errors.Is(err, ErrOldFile) {
			t.Fatalf("err = %v, want ErrOldFile", err)
		}
		if _, err := os.Stat(filepath.Join(dir, OldFile)); err != nil {
			t.Fatal("ledger.db was moved")
		}
	})
	t.Run("not a ledger", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, OldFile), []byte("not a bbolt file"), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := Export(dir); !errors.Is(err, ErrOldFile) {
			t.Fatalf("err = %v, want ErrOldFile", err)
		}
		if _, err := os.Stat(filepath.Join(dir, OldFile)); err != nil {
			t.Fatal("a file that was not exported was renamed")
		}
	})
}

// TestLoweredLimitStillLoads lowers a card's limit below what it owes:
// the records still load after a restart (the account is below its floor,
// which Check reports, but the ledger must start), and new debits are
// declined until it is back above.
func TestLoweredLimitStillLoads(t *testing.T) {
	ctx := context.Background()
	h := mustLoad(t, Opening{ID: "card", Currency: "EUR", Limit: 1000})
	if r, err := h.Transfer(ctx, Transfer{PaymentID: "p1", Operation: OpDebit, From: "card", To: "clearing:EUR", Amount: 700, Currency: "EUR"}); err != nil || r.State != StateApproved {
		t.Fatalf("debit = %+v, %v", r, err)
	}
	if err := h.Seed(ctx, []Opening{{ID: "card", Currency: "EUR", Limit: 500}}); err != nil {
		t.Fatal(err)
	}
	h.restart()
	if err := h.l.Check(); !errors.Is(err, ErrInvariant) {
		t.Fatalf("Check with the card below its floor = %v", err)
	}
	if r, err := h.Transfer(ctx, Transfer{PaymentID: "p2", Operation: OpDebit, From: "card", To: "clearing:EUR", Amount: 1, Currency: "EUR"}); err != nil || r.State != StateDeclined {
		t.Fatalf("debit below the floor = %+v, %v", r, err)
	}
	if err := h.Seed(ctx, []Opening{{ID: "card", Currency: "EUR", Limit: 1000}}); err != nil {
		t.Fatal(err)
	}
}
