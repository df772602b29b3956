package ledger

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/switchd/switchd/plugins/ledgerstate"
	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
)

// State is the state of one operation.
type State = ledgerstate.State

// States of an operation.
const (
	// StateNotFound means the ledger has no record of the operation.
	StateNotFound = ledgerstate.StateNotFound
	// StateApproved means the money moved.
	StateApproved = ledgerstate.StateApproved
	// StateDeclined means the operation was refused; nothing moved.
	StateDeclined = ledgerstate.StateDeclined
	// StateReversed means the money moved and was put back.
	StateReversed = ledgerstate.StateReversed
)

// Decline codes the ledger itself records.
const (
	// DeclineInsufficientFunds is the default decline when the paying
	// account would go below its floor.
	DeclineInsufficientFunds = "insufficient_funds"
	// DeclineCurrency is recorded when the transfer's currency is not the
	// currency of both accounts.
	DeclineCurrency = "currency_not_supported"
	// DeclineVoided is recorded when an operation arrives after it was
	// already reversed (the reversal overtook it): it must not move money.
	DeclineVoided = "do_not_honor"
)

// Prefixes of the ledger's own accounts; the currency code follows.
const (
	ClearingPrefix = "clearing:"
	SeedPrefix     = "seed:"
)

// ClearingAccount returns the id of the clearing account of currency.
func ClearingAccount(currency string) string { return ClearingPrefix + currency }

// SeedAccount returns the id of the seed (equity) account of currency.
func SeedAccount(currency string) string { return SeedPrefix + currency }

// Limits on what a record holds, so that every key fits the host's
// (ledgerstate.MaxKey) and every value stays small.
const (
	// MaxID is the longest payment id, operation or account id.
	MaxID = 200
	// MaxCurrency is the longest currency code.
	MaxCurrency = 16
)

// Transfer asks to move Amount of Currency from one account to another,
// once, under the idempotency key (PaymentID, Operation).
type Transfer struct {
	PaymentID string
	Operation string
	From      string
	To        string
	Amount    int64
	Currency  string
	// ShortDecline is the decline code recorded when From would go below
	// its floor; DeclineInsufficientFunds when empty.
	ShortDecline string
}

// Result is what happened to an operation. It is stored with the operation
// and returned unchanged to every repeated call.
type Result = ledgerstate.Result

// Account is one account of the ledger.
type Account = ledgerstate.Account

// Posting is one leg of a journal entry.
type Posting = ledgerstate.Posting

// Core is what a payment-method plugin needs from a bank's books. *Ledger
// implements it in memory, its durable state kept by the host: each answer
// carries the records (state writes) that make it true. A bank can
// implement Core with calls to its own core system, which keeps its own
// durability and returns no records. Every method is idempotent.
type Core interface {
	// Transfer moves money once per (PaymentID, Operation) and returns the
	// result, or the stored result of the first call.
	Transfer(ctx context.Context, t Transfer) (Result, []*pb.StateWrite, error)
	// Reverse puts back an approved operation once. Reversing an operation
	// that never happened returns StateNotFound and moves nothing.
	Reverse(ctx context.Context, paymentID, operation string) (Result, []*pb.StateWrite, error)
	// Status returns what happened to an operation without changing it.
	Status(ctx context.Context, paymentID, operation string) (Result, []*pb.StateWrite, error)
}

// Ledger is the in-memory implementation of Core. Its state is what Load
// was given plus the changes since, each returned as records with the
// answer that made it. It is safe for concurrent use.
type Ledger struct {
	mu       sync.Mutex
	accounts map[string]*Account // Balance kept up to date
	ops      map[string]Result   // by opKey, voided tombstones included
	seeds    map[string]int64    // account -> opening balance posted
	seq      uint64              // the last reference number handed out
}

var _ Core = (*Ledger)(nil)

// New returns an empty ledger.
func New() *Ledger {
	return &Ledger{accounts: map[string]*Account{}, ops: map[string]Result{}, seeds: map[string]int64{}}
}

// Load replaces the ledger's state with records (as committed, in any
// order): accounts, operations, and balances summed from the journal.
// References continue above the highest one loaded. Records that do not
// decode, or whose journal is not consistent (see
// ledgerstate.View.CheckJournal), are an error and change nothing.
func (l *Ledger) Load(records []*pb.StateWrite) error {
	v, err := ledgerstate.Decode(records)
	if err != nil {
		return fmt.Errorf("ledger: load: %w", err)
	}
	if err := v.CheckJournal(); err != nil {
		return fmt.Errorf("ledger: load: %w", err)
	}
	accounts := map[string]*Account{}
	for id, a := range v.Accounts() {
		accounts[id] = &a
	}
	ops := map[string]Result{}
	var seq uint64
	for _, r := range v.Operations() {
		ops[opKey(r.PaymentID, r.Operation)] = r
		if n, ok := referenceNumber(r.Reference); ok && n > seq {
			seq = n
		}
	}
	seeds := map[string]int64{}
	for _, e := range v.Entries() {
		if e.Kind != ledgerstate.KindSeed {
			continue
		}
		for _, p := range e.Postings {
			if p.Account == e.Account {
				seeds[e.Account] += p.Amount
			}
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.accounts, l.ops, l.seeds, l.seq = accounts, ops, seeds, seq
	return nil
}

func reference(n uint64) string { return fmt.Sprintf("L%012d", n) }

func referenceNumber(ref string) (uint64, bool) {
	if !strings.HasPrefix(ref, "L") {
		return 0, false
	}
	n, err := strconv.ParseUint(ref[1:], 10, 64)
	return n, err == nil
}

// Opening is an account to create with its opening balance.
type Opening struct {
	ID       string
	Currency string
	Limit    int64
	Balance  int64
}

// Seed creates the accounts that do not exist yet, posting each opening
// balance from the currency's seed account, and creates the clearing and
// seed accounts of each currency. An account that exists keeps its balance
// (it is live state) and takes the new Limit. All or nothing. It returns
// the records of every account named (and of its currency's clearing and
// seed accounts) and their opening entries, whether new or not, so a
// Configure whose writes were lost writes them again.
func (l *Ledger) Seed(ctx context.Context, accounts []Opening) ([]*pb.StateWrite, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	currency := map[string]string{}
	for _, o := range accounts {
		if err := checkID("account", o.ID); err != nil {
			return nil, fmt.Errorf("ledger: seed: %w", err)
		}
		if o.Currency == "" || len(o.Currency) > MaxCurrency || strings.HasPrefix(o.ID, ClearingPrefix) || strings.HasPrefix(o.ID, SeedPrefix) {
			return nil, fmt.Errorf("ledger: seed: %w: bad opening account %q", ErrInvalidTransfer, o.ID)
		}
		if o.Limit < 0 || o.Balance < -o.Limit {
			return nil, fmt.Errorf("ledger: seed: %w: opening of %q below its floor", ErrInvalidTransfer, o.ID)
		}
		have, ok := currency[o.ID]
		if a := l.accounts[o.ID]; a != nil && !ok {
			have, ok = a.Currency, true
		}
		if ok && have != o.Currency {
			return nil, fmt.Errorf("ledger: seed: %w: %q holds %s, not %s", ErrCurrencyMismatch, o.ID, have, o.Currency)
		}
		currency[o.ID] = o.Currency
	}
	var out []*pb.StateWrite
	for _, o := range accounts {
		for _, sys := range []string{ClearingAccount(o.Currency), SeedAccount(o.Currency)} {
			if l.accounts[sys] == nil {
				l.accounts[sys] = &Account{ID: sys, Currency: o.Currency, Unlimited: true}
			}
			out = append(out, ledgerstate.AccountRecord(*l.accounts[sys]))
		}
		a := l.accounts[o.ID]
		if a == nil {
			a = &Account{ID: o.ID, Currency: o.Currency}
			l.accounts[o.ID] = a
			if o.Balance != 0 {
				l.seeds[o.ID] = o.Balance
				a.Balance += o.Balance
				l.accounts[SeedAccount(o.Currency)].Balance -= o.Balance
			}
		}
		a.Limit = o.Limit
		out = append(out, ledgerstate.AccountRecord(*a))
		if b, ok := l.seeds[o.ID]; ok {
			out = append(out, ledgerstate.EntryRecord(ledgerstate.SeedEntry(o.ID, SeedAccount(o.Currency), b)))
		}
	}
	return dedupe(out), nil
}

// dedupe keeps the last record of each key.
func dedupe(recs []*pb.StateWrite) []*pb.StateWrite {
	last := map[string]int{}
	for i, r := range recs {
		last[string(r.GetKey())] = i
	}
	out := recs[:0:0]
	for i, r := range recs {
		if last[string(r.GetKey())] == i {
			out = append(out, r)
		}
	}
	return out
}

func opKey(paymentID, operation string) string { return paymentID + "\x00" + operation }

func checkID(what, id string) error {
	if id == "" || len(id) > MaxID || strings.ContainsRune(id, 0) {
		return fmt.Errorf("%w: %s must be 1 to %d bytes without NUL", ErrInvalidTransfer, what, MaxID)
	}
	return nil
}

func checkKey(paymentID, operation string) error {
	if err := checkID("payment id", paymentID); err != nil {
		return err
	}
	return checkID("operation", operation)
}

// Transfer implements Core. A new operation's records are its Result and,
// when approved, its journal entry; a repeated one returns the records of
// the first.
func (l *Ledger) Transfer(ctx context.Context, t Transfer) (Result, []*pb.StateWrite, error) {
	res, err := l.transfer(ctx, t)
	if err != nil {
		return Result{}, nil, fmt.Errorf("ledger: %s of payment %s: %w", t.Operation, t.PaymentID, err)
	}
	return res, ledgerstate.OperationRecords(res), nil
}

func (l *Ledger) transfer(ctx context.Context, t Transfer) (Result, error) {
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	if err := checkKey(t.PaymentID, t.Operation); err != nil {
		return Result{}, err
	}
	if t.Amount <= 0 || t.From == t.To || t.Currency == "" || len(t.Currency) > MaxCurrency || len(t.From) > MaxID || len(t.To) > MaxID || len(t.ShortDecline) > MaxID {
		return Result{}, fmt.Errorf("%w: amount must be positive, accounts distinct, currency set", ErrInvalidTransfer)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	key := opKey(t.PaymentID, t.Operation)
	prev, ok := l.ops[key]
	if ok && !prev.Voided {
		if prev.From != t.From || prev.To != t.To || prev.Amount != t.Amount || prev.Currency != t.Currency {
			return Result{}, ErrConflict
		}
		return prev, nil
	}
	res := Result{PaymentID: t.PaymentID, Operation: t.Operation, From: t.From, To: t.To, Amount: t.Amount, Currency: t.Currency}
	if ok && prev.Voided {
		res.State, res.DeclineCode = StateDeclined, DeclineVoided
		l.ops[key] = res
		return res, nil
	}
	from, to := l.accounts[t.From], l.accounts[t.To]
	// A currency mismatch on a known side is a decline, even when the
	// other side (the clearing account of that currency) does not exist.
	switch {
	case (from != nil && from.Currency != t.Currency) || (to != nil && to.Currency != t.Currency):
		res.State, res.DeclineCode = StateDeclined, DeclineCurrency
	case from == nil:
		return Result{}, fmt.Errorf("%w: %s", ErrUnknownAccount, t.From)
	case to == nil:
		return Result{}, fmt.Errorf("%w: %s", ErrUnknownAccount, t.To)
	case !from.Unlimited && from.Balance-t.Amount < -from.Limit:
		res.State, res.DeclineCode = StateDeclined, t.ShortDecline
		if res.DeclineCode == "" {
			res.DeclineCode = DeclineInsufficientFunds
		}
	default:
		from.Balance -= t.Amount
		to.Balance += t.Amount
		l.seq++
		res.State, res.Reference = StateApproved, reference(l.seq)
	}
	l.ops[key] = res
	return res, nil
}

// Reverse implements Core. Its records are the operation's: its Result
// (reversed, or the tombstone of a reversal that came first) and entries.
func (l *Ledger) Reverse(ctx context.Context, paymentID, operation string) (Result, []*pb.StateWrite, error) {
	res, err := l.reverse(ctx, paymentID, operation)
	if err != nil {
		return Result{}, nil, fmt.Errorf("ledger: reversal of %s of payment %s: %w", operation, paymentID, err)
	}
	return public(res), ledgerstate.OperationRecords(res), nil
}

func (l *Ledger) reverse(ctx context.Context, paymentID, operation string) (Result, error) {
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	if err := checkKey(paymentID, operation); err != nil {
		return Result{}, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	key := opKey(paymentID, operation)
	prev, ok := l.ops[key]
	if !ok {
		res := Result{PaymentID: paymentID, Operation: operation, State: StateNotFound, Voided: true}
		l.ops[key] = res
		return res, nil
	}
	if prev.State != StateApproved {
		return prev, nil
	}
	to, from := l.accounts[prev.To], l.accounts[prev.From]
	switch {
	case to == nil:
		return Result{}, fmt.Errorf("%w: %s", ErrUnknownAccount, prev.To)
	case from == nil:
		return Result{}, fmt.Errorf("%w: %s", ErrUnknownAccount, prev.From)
	case !to.Unlimited && to.Balance-prev.Amount < -to.Limit:
		return Result{}, fmt.Errorf("%w: %s", ErrBelowFloor, prev.To)
	}
	to.Balance -= prev.Amount
	from.Balance += prev.Amount
	prev.State = StateReversed
	l.ops[key] = prev
	return prev, nil
}

// Status implements Core. An operation it knows comes with its records,
// as every answer about it does; an unknown one with none.
func (l *Ledger) Status(ctx context.Context, paymentID, operation string) (Result, []*pb.StateWrite, error) {
	if err := ctx.Err(); err != nil {
		return Result{}, nil, err
	}
	if err := checkKey(paymentID, operation); err != nil {
		return Result{}, nil, fmt.Errorf("ledger: status: %w", err)
	}
	l.mu.Lock()
	res, ok := l.ops[opKey(paymentID, operation)]
	l.mu.Unlock()
	if !ok {
		return Result{PaymentID: paymentID, Operation: operation, State: StateNotFound}, nil, nil
	}
	return public(res), ledgerstate.OperationRecords(res), nil
}

// public hides the tombstone flag from callers: a voided operation is
// simply not found.
func public(r Result) Result {
	if r.Voided {
		return Result{PaymentID: r.PaymentID, Operation: r.Operation, State: StateNotFound}
	}
	return r
}

// Balances returns every account by id.
func (l *Ledger) Balances() map[string]Account {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string]Account, len(l.accounts))
	for id, a := range l.accounts {
		out[id] = *a
	}
	return out
}

// Records returns the ledger's whole state as records, in key order: what
// the host holds once every answer's records are committed.
func (l *Ledger) Records() []*pb.StateWrite {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []*pb.StateWrite
	for _, a := range l.accounts {
		out = append(out, ledgerstate.AccountRecord(*a))
	}
	for _, r := range l.ops {
		out = append(out, ledgerstate.OperationRecords(r)...)
	}
	for id, b := range l.seeds {
		out = append(out, ledgerstate.EntryRecord(ledgerstate.SeedEntry(id, SeedAccount(l.accounts[id].Currency), b)))
	}
	ledgerstate.SortRecords(out)
	return out
}

// Check verifies the ledger's invariants and returns every violation,
// wrapped in ErrInvariant: those of its records (ledgerstate.View.Check:
// entries sum to zero, balances per currency too, no account below its
// floor, every approved or reversed operation has exactly its entries),
// and that every balance in memory is the sum of its postings.
func (l *Ledger) Check() error {
	v, err := ledgerstate.Decode(l.Records())
	if err != nil {
		return fmt.Errorf("ledger: check: %w", err)
	}
	var problems []error
	if err := v.Check(); err != nil {
		problems = append(problems, err)
	}
	replayed := v.Balances()
	for id, a := range l.Balances() {
		if replayed[id] != a.Balance {
			problems = append(problems, fmt.Errorf("account %s: balance %d but postings sum to %d", id, a.Balance, replayed[id]))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("ledger: %w: %w", ErrInvariant, errors.Join(problems...))
	}
	return nil
}
