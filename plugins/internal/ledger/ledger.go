package ledger

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/switchd/switchd/internal/boltgroup"
)

// State is the state of one operation.
type State string

// States of an operation.
const (
	// StateNotFound means the ledger has no record of the operation.
	StateNotFound State = "not_found"
	// StateApproved means the money moved.
	StateApproved State = "approved"
	// StateDeclined means the operation was refused; nothing moved.
	StateDeclined State = "declined"
	// StateReversed means the money moved and was put back.
	StateReversed State = "reversed"
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
type Result struct {
	PaymentID   string `json:"payment_id"`
	Operation   string `json:"operation"`
	State       State  `json:"state"`
	DeclineCode string `json:"decline_code,omitempty"`
	// Reference is the ledger's own reference, set once money moved.
	Reference string `json:"reference,omitempty"`
	From      string `json:"from"`
	To        string `json:"to"`
	Amount    int64  `json:"amount"`
	Currency  string `json:"currency"`
	// Voided marks a reversal that arrived before its operation: the
	// operation is reported as not found, and declined if it comes later.
	Voided bool `json:"voided,omitempty"`
}

// Core is what a payment-method plugin needs from a bank's books. *Ledger
// implements it on bbolt; a bank can implement it with calls to its own core
// system. Every method is idempotent.
type Core interface {
	// Transfer moves money once per (PaymentID, Operation) and returns the
	// result, or the stored result of the first call.
	Transfer(ctx context.Context, t Transfer) (Result, error)
	// Reverse puts back an approved operation once. Reversing an operation
	// that never happened returns StateNotFound and moves nothing.
	Reverse(ctx context.Context, paymentID, operation string) (Result, error)
	// Status returns what happened to an operation without changing it.
	Status(ctx context.Context, paymentID, operation string) (Result, error)
}

// Account is one account of the ledger.
type Account struct {
	ID       string `json:"id"`
	Currency string `json:"currency"`
	// Limit is the credit limit or overdraft: Balance may not go below
	// -Limit. It is ignored when Unlimited is set.
	Limit int64 `json:"limit"`
	// Unlimited accounts (clearing and seed) have no floor.
	Unlimited bool  `json:"unlimited,omitempty"`
	Balance   int64 `json:"balance"`
}

// Posting is one leg of a journal entry.
type Posting struct {
	Account string `json:"account"`
	Amount  int64  `json:"amount"`
}

// entry is one journal entry; its postings sum to zero.
type entry struct {
	Kind      string    `json:"kind"` // "transfer", "reversal" or "seed"
	PaymentID string    `json:"payment_id,omitempty"`
	Operation string    `json:"operation,omitempty"`
	Postings  []Posting `json:"postings"`
	At        time.Time `json:"at"`
}

var (
	bucketAccounts   = []byte("accounts")
	bucketOperations = []byte("operations")
	bucketJournal    = []byte("journal")
)

// Ledger is the bbolt implementation of Core. It is safe for concurrent use.
// Its writes are group-committed (see package boltgroup): concurrent
// operations share a transaction and its fsync, so each write fn below may
// run more than once and sets its result afresh on every run.
type Ledger struct {
	db  *bolt.DB
	w   *boltgroup.Committer[*bolt.Tx]
	now func() time.Time
}

var _ Core = (*Ledger)(nil)

// Open opens (creating if needed) the ledger file at path and starts its
// committer. Commits are fsynced. Open waits at most 5 seconds for another
// process's lock.
//
// The file's free-page list is not written at each commit
// (bolt.Options.NoFreelistSync): Open rebuilds it by scanning the file
// instead, which saves a page write per commit. Files written either way
// open either way.
func Open(path string) (*Ledger, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second, NoFreelistSync: true})
	if err != nil {
		return nil, fmt.Errorf("ledger: open %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketAccounts, bucketOperations, bucketJournal} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("ledger: init %s: %w", path, err)
	}
	return &Ledger{db: db, w: boltgroup.New(db, boltgroup.Options{}), now: time.Now}, nil
}

// Path returns the ledger's file.
func (l *Ledger) Path() string { return l.db.Path() }

// Close waits for the writes under way to commit, then closes the file.
func (l *Ledger) Close() error {
	l.w.Close()
	if err := l.db.Close(); err != nil {
		return fmt.Errorf("ledger: close: %w", err)
	}
	return nil
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
// (it is live state) and takes the new Limit. All or nothing.
func (l *Ledger) Seed(ctx context.Context, accounts []Opening) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	err := l.w.Update(ctx, func(tx *bolt.Tx) error {
		s := store{tx}
		for _, o := range accounts {
			if o.ID == "" || o.Currency == "" || strings.HasPrefix(o.ID, ClearingPrefix) || strings.HasPrefix(o.ID, SeedPrefix) {
				return fmt.Errorf("%w: bad opening account %q", ErrInvalidTransfer, o.ID)
			}
			if o.Limit < 0 || o.Balance < -o.Limit {
				return fmt.Errorf("%w: opening of %q below its floor", ErrInvalidTransfer, o.ID)
			}
			for _, sys := range []string{ClearingAccount(o.Currency), SeedAccount(o.Currency)} {
				if _, ok, err := s.account(sys); err != nil {
					return err
				} else if !ok {
					if err := s.putAccount(Account{ID: sys, Currency: o.Currency, Unlimited: true}); err != nil {
						return err
					}
				}
			}
			a, ok, err := s.account(o.ID)
			if err != nil {
				return err
			}
			if ok {
				if a.Currency != o.Currency {
					return fmt.Errorf("%w: %q holds %s, not %s", ErrCurrencyMismatch, o.ID, a.Currency, o.Currency)
				}
				a.Limit = o.Limit
				if err := s.putAccount(a); err != nil {
					return err
				}
				continue
			}
			if err := s.putAccount(Account{ID: o.ID, Currency: o.Currency, Limit: o.Limit}); err != nil {
				return err
			}
			if o.Balance != 0 {
				seed, _, err := s.account(SeedAccount(o.Currency))
				if err != nil {
					return err
				}
				if err := s.post(entry{Kind: "seed", At: l.now()}, seed, Account{ID: o.ID, Currency: o.Currency, Limit: o.Limit}, o.Balance); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("ledger: seed: %w", err)
	}
	return nil
}

func opKey(paymentID, operation string) []byte {
	return []byte(paymentID + "\x00" + operation)
}

func checkKey(paymentID, operation string) error {
	if paymentID == "" || operation == "" || strings.ContainsRune(paymentID, 0) || strings.ContainsRune(operation, 0) {
		return fmt.Errorf("%w: payment id and operation must be set", ErrInvalidTransfer)
	}
	return nil
}

// Transfer implements Core.
func (l *Ledger) Transfer(ctx context.Context, t Transfer) (Result, error) {
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	if err := checkKey(t.PaymentID, t.Operation); err != nil {
		return Result{}, err
	}
	if t.Amount <= 0 || t.From == t.To || t.Currency == "" {
		return Result{}, fmt.Errorf("%w: amount must be positive, accounts distinct, currency set", ErrInvalidTransfer)
	}
	// A retry is answered from a read transaction, without a commit.
	var res Result
	var done bool
	err := l.db.View(func(tx *bolt.Tx) error {
		prev, ok, err := store{tx}.operation(opKey(t.PaymentID, t.Operation))
		if err != nil || !ok || prev.Voided {
			return err
		}
		if prev.From != t.From || prev.To != t.To || prev.Amount != t.Amount || prev.Currency != t.Currency {
			return ErrConflict
		}
		res, done = prev, true
		return nil
	})
	if err != nil || done {
		if err != nil {
			return Result{}, fmt.Errorf("ledger: %s of payment %s: %w", t.Operation, t.PaymentID, err)
		}
		return res, nil
	}
	err = l.w.Update(ctx, func(tx *bolt.Tx) error {
		s := store{tx}
		key := opKey(t.PaymentID, t.Operation)
		prev, ok, err := s.operation(key)
		if err != nil {
			return err
		}
		res = Result{PaymentID: t.PaymentID, Operation: t.Operation, From: t.From, To: t.To, Amount: t.Amount, Currency: t.Currency}
		if ok && !prev.Voided {
			if prev.From != t.From || prev.To != t.To || prev.Amount != t.Amount || prev.Currency != t.Currency {
				return ErrConflict
			}
			res = prev
			return nil
		}
		if ok && prev.Voided {
			res.State, res.DeclineCode = StateDeclined, DeclineVoided
			return s.putOperation(key, res)
		}
		from, fromOK, err := s.account(t.From)
		if err != nil {
			return err
		}
		to, toOK, err := s.account(t.To)
		if err != nil {
			return err
		}
		// A currency mismatch on a known side is a decline, even when the
		// other side (the clearing account of that currency) does not exist.
		switch {
		case (fromOK && from.Currency != t.Currency) || (toOK && to.Currency != t.Currency):
			res.State, res.DeclineCode = StateDeclined, DeclineCurrency
		case !fromOK:
			return fmt.Errorf("%w: %s", ErrUnknownAccount, t.From)
		case !toOK:
			return fmt.Errorf("%w: %s", ErrUnknownAccount, t.To)
		case !from.Unlimited && from.Balance-t.Amount < -from.Limit:
			res.State, res.DeclineCode = StateDeclined, t.ShortDecline
			if res.DeclineCode == "" {
				res.DeclineCode = DeclineInsufficientFunds
			}
		default:
			if err := s.post(entry{Kind: "transfer", PaymentID: t.PaymentID, Operation: t.Operation, At: l.now()}, from, to, t.Amount); err != nil {
				return err
			}
			seq, err := tx.Bucket(bucketOperations).NextSequence()
			if err != nil {
				return err
			}
			res.State, res.Reference = StateApproved, fmt.Sprintf("L%012d", seq)
		}
		return s.putOperation(key, res)
	})
	if err != nil {
		return Result{}, fmt.Errorf("ledger: %s of payment %s: %w", t.Operation, t.PaymentID, err)
	}
	return res, nil
}

// Reverse implements Core.
func (l *Ledger) Reverse(ctx context.Context, paymentID, operation string) (Result, error) {
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	if err := checkKey(paymentID, operation); err != nil {
		return Result{}, err
	}
	var res Result
	err := l.w.Update(ctx, func(tx *bolt.Tx) error {
		s := store{tx}
		key := opKey(paymentID, operation)
		res = Result{}
		prev, ok, err := s.operation(key)
		if err != nil {
			return err
		}
		if !ok {
			res = Result{PaymentID: paymentID, Operation: operation, State: StateNotFound, Voided: true}
			return s.putOperation(key, res)
		}
		res = prev
		if prev.State != StateApproved {
			return nil
		}
		to, ok, err := s.account(prev.To)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("%w: %s", ErrUnknownAccount, prev.To)
		}
		if !to.Unlimited && to.Balance-prev.Amount < -to.Limit {
			return fmt.Errorf("%w: %s", ErrBelowFloor, prev.To)
		}
		from, ok, err := s.account(prev.From)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("%w: %s", ErrUnknownAccount, prev.From)
		}
		if err := s.post(entry{Kind: "reversal", PaymentID: paymentID, Operation: operation, At: l.now()}, to, from, prev.Amount); err != nil {
			return err
		}
		res.State = StateReversed
		return s.putOperation(key, res)
	})
	if err != nil {
		return Result{}, fmt.Errorf("ledger: reversal of %s of payment %s: %w", operation, paymentID, err)
	}
	return public(res), nil
}

// Status implements Core.
func (l *Ledger) Status(ctx context.Context, paymentID, operation string) (Result, error) {
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	if err := checkKey(paymentID, operation); err != nil {
		return Result{}, err
	}
	var res Result
	err := l.db.View(func(tx *bolt.Tx) error {
		prev, ok, err := store{tx}.operation(opKey(paymentID, operation))
		if err != nil {
			return err
		}
		if !ok {
			res = Result{PaymentID: paymentID, Operation: operation, State: StateNotFound}
			return nil
		}
		res = prev
		return nil
	})
	if err != nil {
		return Result{}, fmt.Errorf("ledger: status: %w", err)
	}
	return public(res), nil
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
func (l *Ledger) Balances() (map[string]Account, error) {
	out := map[string]Account{}
	err := l.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketAccounts).ForEach(func(k, v []byte) error {
			var a Account
			if err := json.Unmarshal(v, &a); err != nil {
				return fmt.Errorf("account %q: %w", k, err)
			}
			out[a.ID] = a
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("ledger: balances: %w", err)
	}
	return out, nil
}

// Check verifies the ledger's invariants and returns every violation,
// wrapped in ErrInvariant: each journal entry sums to zero; the balances sum
// to zero per currency; every balance equals the sum of its postings; no
// account is below its floor; every approved or reversed operation has its
// postings in the journal.
func (l *Ledger) Check() error {
	var problems []error
	err := l.db.View(func(tx *bolt.Tx) error {
		replayed := map[string]int64{}
		posted := map[string]int{} // op key -> transfer minus reversal entries
		reversed := map[string]int{}
		err := tx.Bucket(bucketJournal).ForEach(func(k, v []byte) error {
			var e entry
			if err := json.Unmarshal(v, &e); err != nil {
				return fmt.Errorf("journal %x: %w", k, err)
			}
			var sum int64
			for _, p := range e.Postings {
				sum += p.Amount
				replayed[p.Account] += p.Amount
			}
			if sum != 0 {
				problems = append(problems, fmt.Errorf("journal entry %d sums to %d", binary.BigEndian.Uint64(k), sum))
			}
			switch e.Kind {
			case "transfer":
				posted[string(opKey(e.PaymentID, e.Operation))]++
			case "reversal":
				reversed[string(opKey(e.PaymentID, e.Operation))]++
			}
			return nil
		})
		if err != nil {
			return err
		}
		totals := map[string]int64{}
		err = tx.Bucket(bucketAccounts).ForEach(func(k, v []byte) error {
			var a Account
			if err := json.Unmarshal(v, &a); err != nil {
				return fmt.Errorf("account %q: %w", k, err)
			}
			totals[a.Currency] += a.Balance
			if replayed[a.ID] != a.Balance {
				problems = append(problems, fmt.Errorf("account %s: balance %d but postings sum to %d", a.ID, a.Balance, replayed[a.ID]))
			}
			if !a.Unlimited && a.Balance < -a.Limit {
				problems = append(problems, fmt.Errorf("account %s: balance %d below floor %d", a.ID, a.Balance, -a.Limit))
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, c := range sortedKeys(totals) {
			if totals[c] != 0 {
				problems = append(problems, fmt.Errorf("currency %s: balances sum to %d", c, totals[c]))
			}
		}
		return tx.Bucket(bucketOperations).ForEach(func(k, v []byte) error {
			var r Result
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("operation %q: %w", k, err)
			}
			wantPosted, wantReversed := 0, 0
			switch r.State {
			case StateApproved:
				wantPosted = 1
			case StateReversed:
				wantPosted, wantReversed = 1, 1
			}
			if posted[string(k)] != wantPosted || reversed[string(k)] != wantReversed {
				problems = append(problems, fmt.Errorf("operation %s/%s (%s): %d transfer and %d reversal entries", r.PaymentID, r.Operation, r.State, posted[string(k)], reversed[string(k)]))
			}
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("ledger: check: %w", err)
	}
	if len(problems) > 0 {
		return fmt.Errorf("ledger: %w: %w", ErrInvariant, errors.Join(problems...))
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// store wraps a bbolt transaction with the ledger's record types.
type store struct{ tx *bolt.Tx }

func (s store) account(id string) (Account, bool, error) {
	v := s.tx.Bucket(bucketAccounts).Get([]byte(id))
	if v == nil {
		return Account{}, false, nil
	}
	var a Account
	if err := json.Unmarshal(v, &a); err != nil {
		return Account{}, false, fmt.Errorf("account %q: %w", id, err)
	}
	return a, true, nil
}

func (s store) putAccount(a Account) error {
	v, err := json.Marshal(a)
	if err != nil {
		return err
	}
	return s.tx.Bucket(bucketAccounts).Put([]byte(a.ID), v)
}

func (s store) operation(key []byte) (Result, bool, error) {
	v := s.tx.Bucket(bucketOperations).Get(key)
	if v == nil {
		return Result{}, false, nil
	}
	var r Result
	if err := json.Unmarshal(v, &r); err != nil {
		return Result{}, false, fmt.Errorf("operation %q: %w", key, err)
	}
	return r, true, nil
}

func (s store) putOperation(key []byte, r Result) error {
	v, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return s.tx.Bucket(bucketOperations).Put(key, v)
}

// post journals e with the postings from → to of amount and updates both
// balances. from and to are the accounts as read in this transaction (the
// caller has read them to check them, so they are not read again); the
// caller has checked floors.
func (s store) post(e entry, from, to Account, amount int64) error {
	e.Postings = []Posting{{Account: from.ID, Amount: -amount}, {Account: to.ID, Amount: amount}}
	from.Balance -= amount
	to.Balance += amount
	if err := s.putAccount(from); err != nil {
		return err
	}
	if err := s.putAccount(to); err != nil {
		return err
	}
	b := s.tx.Bucket(bucketJournal)
	seq, err := b.NextSequence()
	if err != nil {
		return err
	}
	v, err := json.Marshal(e)
	if err != nil {
		return err
	}
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], seq)
	return b.Put(k[:], v)
}
