package ledger

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestGenerateFixture writes testdata/v1/ledger.db with the bbolt ledger of
// release v1 and testdata/v1/expected.json with what it answered.
func TestGenerateFixture(t *testing.T) {
	if os.Getenv("LEDGER_GEN_FIXTURE") == "" {
		t.Skip("set LEDGER_GEN_FIXTURE=1")
	}
	ctx := context.Background()
	dir := filepath.Join("testdata", "v1")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "ledger.db")
	_ = os.Remove(path)
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	l.now = func() time.Time { return time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC) }
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(l.Seed(ctx, []Opening{
		{ID: "card:tok_alice", Currency: "EUR", Limit: 100000},
		{ID: "acct:DE001", Currency: "EUR", Limit: 0, Balance: 50000},
		{ID: "merchant:shop", Currency: "EUR"},
		{ID: "acct:US001", Currency: "USD", Limit: 500, Balance: 1000},
	}))
	type op struct {
		Call   string
		Result Result
	}
	var ops []op
	tr := func(tt Transfer) {
		r, err := l.Transfer(ctx, tt)
		must(err)
		ops = append(ops, op{"transfer", r})
	}
	rev := func(p, o string) {
		r, err := l.Reverse(ctx, p, o)
		must(err)
		ops = append(ops, op{"reverse", r})
	}
	// p1: card debit and merchant credit, both approved.
	tr(Transfer{PaymentID: "p1", Operation: OpDebit, From: "card:tok_alice", To: "clearing:EUR", Amount: 2500, Currency: "EUR"})
	tr(Transfer{PaymentID: "p1", Operation: OpCredit, From: "clearing:EUR", To: "merchant:shop", Amount: 2500, Currency: "EUR"})
	// p2: bank debit approved, then reversed.
	tr(Transfer{PaymentID: "p2", Operation: OpDebit, From: "acct:DE001", To: "clearing:EUR", Amount: 3000, Currency: "EUR"})
	rev("p2", OpDebit)
	// p3: declined for funds.
	tr(Transfer{PaymentID: "p3", Operation: OpDebit, From: "acct:DE001", To: "clearing:EUR", Amount: 999999, Currency: "EUR", ShortDecline: "insufficient_funds"})
	// p4: reversal overtakes the debit (voided), the debit comes later.
	rev("p4", OpDebit)
	tr(Transfer{PaymentID: "p4", Operation: OpDebit, From: "acct:DE001", To: "clearing:EUR", Amount: 100, Currency: "EUR"})
	// p5: a reversal of something that never came (tombstone only).
	rev("p5", OpCredit)
	// p6: currency mismatch.
	tr(Transfer{PaymentID: "p6", Operation: OpDebit, From: "acct:US001", To: "clearing:EUR", Amount: 10, Currency: "EUR"})
	// p7: USD debit approved.
	tr(Transfer{PaymentID: "p7", Operation: OpDebit, From: "acct:US001", To: "clearing:USD", Amount: 1200, Currency: "USD"})
	must(l.Check())
	bal, err := l.Balances()
	must(err)
	statuses := map[string]Result{}
	for _, k := range [][2]string{{"p1", OpDebit}, {"p1", OpCredit}, {"p2", OpDebit}, {"p3", OpDebit}, {"p4", OpDebit}, {"p5", OpCredit}, {"p6", OpDebit}, {"p7", OpDebit}, {"p9", OpDebit}} {
		r, err := l.Status(ctx, k[0], k[1])
		must(err)
		statuses[k[0]+"/"+k[1]] = r
	}
	must(l.Close())
	out, err := json.MarshalIndent(map[string]any{"calls": ops, "balances": bal, "status": statuses}, "", "  ")
	must(err)
	must(os.WriteFile(filepath.Join(dir, "expected.json"), append(out, '\n'), 0o644))
}
