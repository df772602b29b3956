package ledger

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/switchd/switchd/plugins/internal/cpubench"
	"github.com/switchd/switchd/plugins/ledgerstate"
	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
)

// host plays the switch for one ledger: it commits the records of every
// answer, can load a new ledger from what it committed (a restart), and at
// the end of the test checks that what it holds is the ledger's whole
// state and keeps the invariants.
type host struct {
	tb        testing.TB
	l         *Ledger
	mu        sync.Mutex // committed, as a host commits concurrent answers
	committed map[string][]byte
}

// mustLoad starts a ledger as the host does: Load of no records, then
// Seed at Configure, its writes committed.
func mustLoad(tb testing.TB, seed ...Opening) *host {
	tb.Helper()
	h := &host{tb: tb, l: New(), committed: map[string][]byte{}}
	if err := h.l.Load(nil); err != nil {
		tb.Fatal(err)
	}
	if err := h.Seed(context.Background(), seed); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := h.Check(); err != nil {
			tb.Errorf("invariants after test: %v", err)
		}
		if !sameRecords(h.records(), h.l.Records()) {
			tb.Errorf("the host holds %d records, the ledger's state is %d records", len(h.records()), len(h.l.Records()))
		}
	})
	return h
}

func (h *host) commit(ws []*pb.StateWrite) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, w := range ws {
		if len(w.GetValue()) == 0 {
			delete(h.committed, string(w.GetKey()))
			continue
		}
		if len(w.GetKey()) > ledgerstate.MaxKey || len(w.GetValue()) > 64<<10 {
			h.tb.Fatalf("record %q does not fit the host's store", w.GetKey())
		}
		h.committed[string(w.GetKey())] = bytes.Clone(w.GetValue())
	}
}

// records returns what the host holds, in key order.
func (h *host) records() []*pb.StateWrite {
	h.mu.Lock()
	defer h.mu.Unlock()
	keys := make([]string, 0, len(h.committed))
	for k := range h.committed {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]*pb.StateWrite, len(keys))
	for i, k := range keys {
		out[i] = &pb.StateWrite{Key: []byte(k), Value: h.committed[k]}
	}
	return out
}

// restart loads a new ledger from the committed records.
func (h *host) restart() {
	h.tb.Helper()
	h.l = New()
	if err := h.l.Load(h.records()); err != nil {
		h.tb.Fatal(err)
	}
}

// restartShuffled loads a new ledger from the committed records in a
// random order, as they would be if committed in another order.
func (h *host) restartShuffled(rng *rand.Rand) {
	h.tb.Helper()
	recs := h.records()
	rng.Shuffle(len(recs), func(i, j int) { recs[i], recs[j] = recs[j], recs[i] })
	before := h.l.Balances()
	h.l = New()
	if err := h.l.Load(recs); err != nil {
		h.tb.Fatal(err)
	}
	if !sameRecords(h.l.Records(), h.records()) {
		h.tb.Fatal("the reloaded ledger's state is not the records it was loaded from")
	}
	after := h.l.Balances()
	if len(after) != len(before) {
		h.tb.Fatalf("%d accounts after reload, %d before", len(after), len(before))
	}
	for id, a := range before {
		if after[id] != a {
			h.tb.Fatalf("account %s: %+v after reload, %+v before", id, after[id], a)
		}
	}
}

func (h *host) Seed(ctx context.Context, o []Opening) error {
	ws, err := h.l.Seed(ctx, o)
	if err != nil && ws != nil {
		h.tb.Fatalf("an error with writes: %v", ws)
	}
	h.commit(ws)
	return err
}

func (h *host) Transfer(ctx context.Context, t Transfer) (Result, error) {
	r, ws, err := h.l.Transfer(ctx, t)
	return r, h.answer(r, ws, err)
}

func (h *host) Reverse(ctx context.Context, p, op string) (Result, error) {
	r, ws, err := h.l.Reverse(ctx, p, op)
	return r, h.answer(r, ws, err)
}

func (h *host) Status(ctx context.Context, p, op string) (Result, error) {
	r, ws, err := h.l.Status(ctx, p, op)
	return r, h.answer(r, ws, err)
}

// answer commits an answer's records after checking rule 1 and 3: an error
// carries none, an operation the ledger holds comes with its record.
func (h *host) answer(r Result, ws []*pb.StateWrite, err error) error {
	h.tb.Helper()
	if err != nil {
		if ws != nil {
			h.tb.Fatalf("an error with writes: %v", ws)
		}
		return err
	}
	if r.State != StateNotFound && (len(ws) == 0 || string(ws[0].GetKey()) != string(ledgerstate.OperationKey(r.PaymentID, r.Operation))) {
		h.tb.Fatalf("answer %+v without its operation record: %v", r, ws)
	}
	h.commit(ws)
	return nil
}

func (h *host) Balances() map[string]Account { return h.l.Balances() }

// Check checks the ledger's memory and the committed records.
func (h *host) Check() error {
	if err := h.l.Check(); err != nil {
		return err
	}
	v, err := ledgerstate.Decode(h.records())
	if err != nil {
		return err
	}
	return v.Check()
}

func sameRecords(a, b []*pb.StateWrite) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i].GetKey(), b[i].GetKey()) || !bytes.Equal(a[i].GetValue(), b[i].GetValue()) {
			return false
		}
	}
	return true
}

func balance(tb testing.TB, l *host, id string) int64 {
	tb.Helper()
	a, ok := l.Balances()[id]
	if !ok {
		tb.Fatalf("no account %s", id)
	}
	return a.Balance
}

func TestTransfer(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name        string
		t           Transfer
		wantState   State
		wantDecline string
		wantErr     error
		wantPayer   int64
	}{
		{name: "approved", t: Transfer{PaymentID: "p1", Operation: "debit", From: "alice", To: "clearing:EUR", Amount: 300, Currency: "EUR"}, wantState: StateApproved, wantPayer: 700},
		{name: "into overdraft", t: Transfer{PaymentID: "p1", Operation: "debit", From: "alice", To: "clearing:EUR", Amount: 1200, Currency: "EUR"}, wantState: StateApproved, wantPayer: -200},
		{name: "exactly to floor", t: Transfer{PaymentID: "p1", Operation: "debit", From: "alice", To: "clearing:EUR", Amount: 1500, Currency: "EUR"}, wantState: StateApproved, wantPayer: -500},
		{name: "below floor", t: Transfer{PaymentID: "p1", Operation: "debit", From: "alice", To: "clearing:EUR", Amount: 1501, Currency: "EUR"}, wantState: StateDeclined, wantDecline: DeclineInsufficientFunds, wantPayer: 1000},
		{name: "below floor custom code", t: Transfer{PaymentID: "p1", Operation: "debit", From: "alice", To: "clearing:EUR", Amount: 1501, Currency: "EUR", ShortDecline: "limit_exceeded"}, wantState: StateDeclined, wantDecline: "limit_exceeded", wantPayer: 1000},
		{name: "wrong currency", t: Transfer{PaymentID: "p1", Operation: "debit", From: "alice", To: "clearing:EUR", Amount: 1, Currency: "USD"}, wantState: StateDeclined, wantDecline: DeclineCurrency, wantPayer: 1000},
		{name: "wrong currency, no such clearing", t: Transfer{PaymentID: "p1", Operation: "credit", From: "clearing:USD", To: "alice", Amount: 1, Currency: "USD"}, wantState: StateDeclined, wantDecline: DeclineCurrency, wantPayer: 1000},
		{name: "unknown account", t: Transfer{PaymentID: "p1", Operation: "debit", From: "bob", To: "clearing:EUR", Amount: 1, Currency: "EUR"}, wantErr: ErrUnknownAccount, wantPayer: 1000},
		{name: "zero amount", t: Transfer{PaymentID: "p1", Operation: "debit", From: "alice", To: "clearing:EUR", Amount: 0, Currency: "EUR"}, wantErr: ErrInvalidTransfer, wantPayer: 1000},
		{name: "negative amount", t: Transfer{PaymentID: "p1", Operation: "debit", From: "alice", To: "clearing:EUR", Amount: -5, Currency: "EUR"}, wantErr: ErrInvalidTransfer, wantPayer: 1000},
		{name: "no payment id", t: Transfer{Operation: "debit", From: "alice", To: "clearing:EUR", Amount: 5, Currency: "EUR"}, wantErr: ErrInvalidTransfer, wantPayer: 1000},
		{name: "same account", t: Transfer{PaymentID: "p1", Operation: "debit", From: "alice", To: "alice", Amount: 5, Currency: "EUR"}, wantErr: ErrInvalidTransfer, wantPayer: 1000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := mustLoad(t, Opening{ID: "alice", Currency: "EUR", Limit: 500, Balance: 1000})
			res, err := l.Transfer(ctx, tt.t)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
			} else {
				if err != nil {
					t.Fatal(err)
				}
				if res.State != tt.wantState || res.DeclineCode != tt.wantDecline {
					t.Fatalf("got %s/%q, want %s/%q", res.State, res.DeclineCode, tt.wantState, tt.wantDecline)
				}
				if (res.State == StateApproved) != (res.Reference != "") {
					t.Errorf("reference %q for state %s", res.Reference, res.State)
				}
			}
			if got := balance(t, l, "alice"); got != tt.wantPayer {
				t.Errorf("alice balance = %d, want %d", got, tt.wantPayer)
			}
		})
	}
}

func TestIdempotency(t *testing.T) {
	ctx := context.Background()
	l := mustLoad(t, Opening{ID: "alice", Currency: "EUR", Balance: 1000})
	tr := Transfer{PaymentID: "p1", Operation: "debit", From: "alice", To: "clearing:EUR", Amount: 400, Currency: "EUR"}
	first, err := l.Transfer(ctx, tr)
	if err != nil {
		t.Fatal(err)
	}
	again, err := l.Transfer(ctx, tr)
	if err != nil {
		t.Fatal(err)
	}
	if again != first {
		t.Errorf("retry result %+v, want %+v", again, first)
	}
	if got := balance(t, l, "alice"); got != 600 {
		t.Fatalf("alice = %d after retry, want 600", got)
	}
	// The same key with other terms is refused, and moves nothing.
	other := tr
	other.Amount = 1
	if _, err := l.Transfer(ctx, other); !errors.Is(err, ErrConflict) {
		t.Fatalf("err = %v, want ErrConflict", err)
	}
	// A declined operation stays declined even when funds arrive later.
	big := Transfer{PaymentID: "p2", Operation: "debit", From: "alice", To: "clearing:EUR", Amount: 900, Currency: "EUR"}
	d, err := l.Transfer(ctx, big)
	if err != nil || d.State != StateDeclined {
		t.Fatalf("got %+v, %v; want declined", d, err)
	}
	if _, err := l.Reverse(ctx, "p1", "debit"); err != nil {
		t.Fatal(err)
	}
	d2, err := l.Transfer(ctx, big)
	if err != nil || d2 != d {
		t.Fatalf("retry of declined got %+v, %v; want %+v", d2, err, d)
	}
	if got := balance(t, l, "alice"); got != 1000 {
		t.Fatalf("alice = %d, want 1000", got)
	}
}

func TestReverse(t *testing.T) {
	ctx := context.Background()
	l := mustLoad(t, Opening{ID: "alice", Currency: "EUR", Balance: 1000}, Opening{ID: "shop", Currency: "EUR"})
	if _, err := l.Transfer(ctx, Transfer{PaymentID: "p1", Operation: "debit", From: "alice", To: "clearing:EUR", Amount: 250, Currency: "EUR"}); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		r, err := l.Reverse(ctx, "p1", "debit")
		if err != nil {
			t.Fatal(err)
		}
		if r.State != StateReversed || r.Amount != 250 {
			t.Fatalf("reverse #%d = %+v", i, r)
		}
		if got := balance(t, l, "alice"); got != 1000 {
			t.Fatalf("reverse #%d: alice = %d, want 1000", i, got)
		}
	}
	st, err := l.Status(ctx, "p1", "debit")
	if err != nil || st.State != StateReversed {
		t.Fatalf("status = %+v, %v", st, err)
	}

	t.Run("never happened", func(t *testing.T) {
		r, err := l.Reverse(ctx, "p9", "debit")
		if err != nil || r.State != StateNotFound {
			t.Fatalf("got %+v, %v; want not_found", r, err)
		}
		st, err := l.Status(ctx, "p9", "debit")
		if err != nil || st.State != StateNotFound {
			t.Fatalf("status = %+v, %v", st, err)
		}
		// The operation that the reversal overtook must not move money.
		late, err := l.Transfer(ctx, Transfer{PaymentID: "p9", Operation: "debit", From: "alice", To: "clearing:EUR", Amount: 10, Currency: "EUR"})
		if err != nil || late.State != StateDeclined || late.DeclineCode != DeclineVoided {
			t.Fatalf("late debit = %+v, %v", late, err)
		}
		if got := balance(t, l, "alice"); got != 1000 {
			t.Fatalf("alice = %d, want 1000", got)
		}
	})

	t.Run("money already spent", func(t *testing.T) {
		if _, err := l.Transfer(ctx, Transfer{PaymentID: "p3", Operation: "credit", From: "clearing:EUR", To: "shop", Amount: 100, Currency: "EUR"}); err != nil {
			t.Fatal(err)
		}
		if _, err := l.Transfer(ctx, Transfer{PaymentID: "p4", Operation: "debit", From: "shop", To: "clearing:EUR", Amount: 100, Currency: "EUR"}); err != nil {
			t.Fatal(err)
		}
		if _, err := l.Reverse(ctx, "p3", "credit"); !errors.Is(err, ErrBelowFloor) {
			t.Fatalf("err = %v, want ErrBelowFloor", err)
		}
		if st, _ := l.Status(ctx, "p3", "credit"); st.State != StateApproved {
			t.Fatalf("state after refused reversal = %s", st.State)
		}
	})
}

func TestSeedKeepsLiveBalance(t *testing.T) {
	ctx := context.Background()
	l := mustLoad(t, Opening{ID: "alice", Currency: "EUR", Balance: 1000})
	if _, err := l.Transfer(ctx, Transfer{PaymentID: "p1", Operation: "debit", From: "alice", To: "clearing:EUR", Amount: 300, Currency: "EUR"}); err != nil {
		t.Fatal(err)
	}
	// Re-seeding (a reload) keeps the live balance and takes the new limit.
	if err := l.Seed(ctx, []Opening{{ID: "alice", Currency: "EUR", Limit: 50, Balance: 1000}}); err != nil {
		t.Fatal(err)
	}
	b := l.Balances()
	if b["alice"].Balance != 700 || b["alice"].Limit != 50 {
		t.Fatalf("alice = %+v", b["alice"])
	}
	if err := l.Seed(ctx, []Opening{{ID: "alice", Currency: "USD"}}); !errors.Is(err, ErrCurrencyMismatch) {
		t.Fatalf("err = %v, want ErrCurrencyMismatch", err)
	}
	if err := l.Seed(ctx, []Opening{{ID: "bob", Currency: "EUR", Balance: -10}}); !errors.Is(err, ErrInvalidTransfer) {
		t.Fatalf("err = %v, want ErrInvalidTransfer", err)
	}
	if _, ok := l.Balances()["bob"]; ok {
		t.Fatal("a failed seed created an account")
	}
}

// TestRestartRetry loads a new ledger from the records the host committed
// between a call and its retry, as after a restart: the retry must return
// the stored result and the same records, and move nothing.
func TestRestartRetry(t *testing.T) {
	ctx := context.Background()
	l := mustLoad(t, Opening{ID: "alice", Currency: "EUR", Balance: 1000})
	tr := Transfer{PaymentID: "p1", Operation: "debit", From: "alice", To: "clearing:EUR", Amount: 400, Currency: "EUR"}
	first, firstW, err := l.l.Transfer(ctx, tr)
	if err != nil {
		t.Fatal(err)
	}
	l.commit(firstW)
	l.restart()
	if err := l.Seed(ctx, []Opening{{ID: "alice", Currency: "EUR", Balance: 1000}}); err != nil {
		t.Fatal(err)
	}
	again, againW, err := l.l.Transfer(ctx, tr)
	if err != nil {
		t.Fatal(err)
	}
	if again != first || !sameRecords(againW, firstW) {
		t.Fatalf("after restart got %+v %v, want %+v %v", again, againW, first, firstW)
	}
	if got := balance(t, l, "alice"); got != 600 {
		t.Fatalf("alice = %d, want 600", got)
	}
	if _, err := l.Reverse(ctx, "p1", "debit"); err != nil {
		t.Fatal(err)
	}
	l.restart()
	r, err := l.Reverse(ctx, "p1", "debit")
	if err != nil || r.State != StateReversed {
		t.Fatalf("reverse after restart = %+v, %v", r, err)
	}
	if got := balance(t, l, "alice"); got != 1000 {
		t.Fatalf("alice = %d, want 1000", got)
	}
}

// TestRandomizedInvariants runs a seeded random sequence of payments between
// an issuer's and an acquirer's ledger: debits, credits, reversals, and
// retries of every kind of call. After every step it checks each ledger's
// invariants, that money is conserved across both ledgers (the two clearing
// accounts differ only by the money in flight), and that balances match a
// model in which every operation moves money at most once.
func TestRandomizedInvariants(t *testing.T) {
	ctx := context.Background()
	rng := rand.New(rand.NewSource(20261125))
	payers := []Opening{
		{ID: "payer-a", Currency: "EUR", Balance: 5000},
		{ID: "payer-b", Currency: "EUR", Limit: 3000}, // a credit card
		{ID: "payer-c", Currency: "EUR", Balance: 200, Limit: 100},
	}
	merchants := []Opening{{ID: "shop-1", Currency: "EUR"}, {ID: "shop-2", Currency: "EUR"}}
	iss := mustLoad(t, payers...)
	acq := mustLoad(t, merchants...)

	model := map[string]int64{}
	for _, o := range append(append([]Opening{}, payers...), merchants...) {
		model[o.ID] = o.Balance
	}
	var seeded int64
	for _, v := range model {
		seeded += v
	}

	type payment struct {
		id            string
		debit, credit Transfer
		debited       bool // debit approved and not reversed
		credited      bool // credit approved and not reversed
		debitTried    bool
		creditTried   bool
	}
	var pays []*payment
	inFlight := int64(0) // debited minus credited, not reversed

	step := func(i int) {
		switch op := rng.Intn(10); {
		case op < 4 || len(pays) == 0: // a new payment's debit
			p := &payment{id: fmt.Sprintf("pay-%d", i)}
			payer := payers[rng.Intn(len(payers))]
			shop := merchants[rng.Intn(len(merchants))]
			amt := int64(1 + rng.Intn(2500))
			p.debit = Transfer{PaymentID: p.id, Operation: "debit", From: payer.ID, To: ClearingAccount("EUR"), Amount: amt, Currency: "EUR"}
			p.credit = Transfer{PaymentID: p.id, Operation: "credit", From: ClearingAccount("EUR"), To: shop.ID, Amount: amt, Currency: "EUR"}
			res, err := iss.Transfer(ctx, p.debit)
			if err != nil {
				t.Fatalf("step %d debit: %v", i, err)
			}
			p.debitTried = true
			wantOK := model[payer.ID]-amt >= -payer.Limit
			if (res.State == StateApproved) != wantOK {
				t.Fatalf("step %d: debit of %d from %s (balance %d) = %s", i, amt, payer.ID, model[payer.ID], res.State)
			}
			if wantOK {
				model[payer.ID] -= amt
				p.debited = true
				inFlight += amt
			}
			pays = append(pays, p)
		case op < 7: // credit a debited payment, or retry it
			p := pays[rng.Intn(len(pays))]
			before, _ := acq.Status(ctx, p.id, "credit")
			res, err := acq.Transfer(ctx, p.credit)
			if err != nil {
				t.Fatalf("step %d credit: %v", i, err)
			}
			if before.State != StateNotFound && res != before {
				t.Fatalf("step %d: retried credit gave %+v, first was %+v", i, res, before)
			}
			if !p.creditTried {
				p.creditTried = true
				if res.State != StateApproved {
					t.Fatalf("step %d: credit = %s", i, res.State)
				}
				model[p.credit.To] += p.credit.Amount
				p.credited = true
				// Clearing balances: the issuer holds what it debited, the
				// acquirer owes what it credited.
				inFlight -= p.credit.Amount
			}
		case op < 8: // reverse the debit (the credit failed, or the payment expired)
			p := pays[rng.Intn(len(pays))]
			if _, err := iss.Reverse(ctx, p.id, "debit"); err != nil {
				t.Fatalf("step %d reverse debit: %v", i, err)
			}
			if p.debited {
				model[p.debit.From] += p.debit.Amount
				p.debited = false
				inFlight -= p.debit.Amount
			}
			p.debitTried = true
		case op < 9: // reverse the credit
			p := pays[rng.Intn(len(pays))]
			_, err := acq.Reverse(ctx, p.id, "credit")
			if errors.Is(err, ErrBelowFloor) {
				break
			}
			if err != nil {
				t.Fatalf("step %d reverse credit: %v", i, err)
			}
			if p.credited {
				model[p.credit.To] -= p.credit.Amount
				p.credited = false
				inFlight += p.credit.Amount
			}
			p.creditTried = true
		default: // retry an earlier debit
			p := pays[rng.Intn(len(pays))]
			before, _ := iss.Status(ctx, p.id, "debit")
			res, err := iss.Transfer(ctx, p.debit)
			if err != nil {
				t.Fatalf("step %d retry: %v", i, err)
			}
			if before.State != StateNotFound && res != before {
				t.Fatalf("step %d: retry gave %+v, first was %+v", i, res, before)
			}
		}
	}

	check := func(i int) {
		for name, l := range map[string]*host{"issuer": iss, "acquirer": acq} {
			if err := l.Check(); err != nil {
				t.Fatalf("step %d: %s: %v", i, name, err)
			}
		}
		ib, ab := iss.Balances(), acq.Balances()
		var customers int64
		for id, want := range model {
			a, ok := ib[id]
			if !ok {
				a = ab[id]
			}
			if a.Balance != want {
				t.Fatalf("step %d: %s = %d, model says %d", i, id, a.Balance, want)
			}
			if !a.Unlimited && a.Balance < -a.Limit {
				t.Fatalf("step %d: %s below floor", i, id)
			}
			customers += a.Balance
		}
		clearing := ib[ClearingAccount("EUR")].Balance + ab[ClearingAccount("EUR")].Balance
		if clearing != inFlight {
			t.Fatalf("step %d: clearing accounts sum to %d, in flight %d", i, clearing, inFlight)
		}
		if customers+clearing != seeded {
			t.Fatalf("step %d: customers %d + clearing %d != seeded %d", i, customers, clearing, seeded)
		}
	}
	for i := range 600 {
		step(i)
		check(i)
		if i%97 == 96 { // a restart of both plugins, from their records committed in another order
			iss.restartShuffled(rng)
			acq.restartShuffled(rng)
			check(i)
		}
	}
}

// TestConcurrentRetries sends the same debit from many goroutines at once,
// as a host retrying over several connections would: it moves money once
// and every caller gets the same result.
func TestConcurrentRetries(t *testing.T) {
	ctx := context.Background()
	l := mustLoad(t, Opening{ID: "alice", Currency: "EUR", Balance: 1000})
	tr := Transfer{PaymentID: "p1", Operation: "debit", From: "alice", To: "clearing:EUR", Amount: 100, Currency: "EUR"}
	const n = 16
	results := make(chan Result, n)
	errs := make(chan error, n)
	for range n {
		go func() {
			r, err := l.Transfer(ctx, tr)
			results <- r
			errs <- err
		}()
	}
	var first Result
	for i := range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
		r := <-results
		if i == 0 {
			first = r
		} else if r != first {
			t.Fatalf("results differ: %+v vs %+v", r, first)
		}
	}
	if got := balance(t, l, "alice"); got != 900 {
		t.Fatalf("alice = %d, want 900", got)
	}
}

// TestConcurrentDebitsKeepTheFloor sends many distinct debits at once, some
// naming an unknown account (an error that rolls back the shared group
// commit and re-runs the others): exactly as many are approved as the
// balance allows, the rest are declined, the bad ones fail alone.
func TestConcurrentDebitsKeepTheFloor(t *testing.T) {
	ctx := context.Background()
	l := mustLoad(t, Opening{ID: "alice", Currency: "EUR", Balance: 1000})
	const n = 50
	type outcome struct {
		r   Result
		err error
	}
	out := make(chan outcome, n)
	for i := range n {
		go func() {
			tr := Transfer{PaymentID: fmt.Sprint("p", i), Operation: "debit", From: "alice", To: "clearing:EUR", Amount: 100, Currency: "EUR"}
			if i%5 == 0 {
				tr.From = "mallory"
			}
			r, err := l.Transfer(ctx, tr)
			out <- outcome{r, err}
		}()
	}
	approved, declined := 0, 0
	for range n {
		o := <-out
		switch {
		case errors.Is(o.err, ErrUnknownAccount):
		case o.err != nil:
			t.Fatal(o.err)
		case o.r.State == StateApproved:
			approved++
		case o.r.State == StateDeclined && o.r.DeclineCode == DeclineInsufficientFunds:
			declined++
		default:
			t.Fatalf("unexpected result %+v", o.r)
		}
	}
	if approved != 10 || declined != 30 {
		t.Errorf("%d approved, %d declined; want 10 and 30", approved, declined)
	}
	if got := balance(t, l, "alice"); got != 0 {
		t.Errorf("alice = %d, want 0", got)
	}
	for i := 0; i < n; i += 5 {
		if st, _ := l.Status(ctx, fmt.Sprint("p", i), "debit"); st.State != StateNotFound {
			t.Errorf("failed transfer p%d was recorded: %+v", i, st)
		}
	}
}

func TestCancelledContext(t *testing.T) {
	l := mustLoad(t, Opening{ID: "alice", Currency: "EUR", Balance: 1000})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := l.Transfer(ctx, Transfer{PaymentID: "p1", Operation: "debit", From: "alice", To: "clearing:EUR", Amount: 1, Currency: "EUR"}); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	if st, _ := l.Status(context.Background(), "p1", "debit"); st.State != StateNotFound {
		t.Fatalf("a cancelled call was recorded: %+v", st)
	}
}

// BenchmarkTransfer measures one transfer in memory with its records, one
// at a time.
func BenchmarkTransfer(b *testing.B) {
	ctx := context.Background()
	l := New()
	if _, err := l.Seed(ctx, []Opening{{ID: "alice", Currency: "EUR", Limit: 1 << 60}}); err != nil {
		b.Fatal(err)
	}
	done := cpubench.Start(b)
	for i := 0; i < b.N; i++ {
		if _, _, err := l.Transfer(ctx, Transfer{PaymentID: fmt.Sprint("p", i), Operation: "debit", From: "alice", To: "clearing:EUR", Amount: 1, Currency: "EUR"}); err != nil {
			b.Fatal(err)
		}
	}
	done()
}

// BenchmarkTransferParallel measures transfers from 64 goroutines, which
// share the ledger's lock.
func BenchmarkTransferParallel(b *testing.B) {
	ctx := context.Background()
	l := New()
	if _, err := l.Seed(ctx, []Opening{{ID: "alice", Currency: "EUR", Limit: 1 << 60}}); err != nil {
		b.Fatal(err)
	}
	var n atomic.Int64
	b.SetParallelism((64 + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
	done := cpubench.Start(b)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, _, err := l.Transfer(ctx, Transfer{PaymentID: fmt.Sprint("p", n.Add(1)), Operation: "debit", From: "alice", To: "clearing:EUR", Amount: 1, Currency: "EUR"}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	done()
}

// BenchmarkLoad measures loading 10,000 payments' records (a debit and a
// credit each), as at a plugin's start.
func BenchmarkLoad(b *testing.B) {
	ctx := context.Background()
	l := New()
	if _, err := l.Seed(ctx, []Opening{{ID: "alice", Currency: "EUR", Limit: 1 << 60}, {ID: "shop", Currency: "EUR"}}); err != nil {
		b.Fatal(err)
	}
	for i := range 10000 {
		id := fmt.Sprint("p", i)
		if _, _, err := l.Transfer(ctx, Transfer{PaymentID: id, Operation: OpDebit, From: "alice", To: "clearing:EUR", Amount: 1, Currency: "EUR"}); err != nil {
			b.Fatal(err)
		}
		if _, _, err := l.Transfer(ctx, Transfer{PaymentID: id, Operation: OpCredit, From: "clearing:EUR", To: "shop", Amount: 1, Currency: "EUR"}); err != nil {
			b.Fatal(err)
		}
	}
	recs := l.Records()
	for b.Loop() {
		if err := New().Load(recs); err != nil {
			b.Fatal(err)
		}
	}
}
