// Package ledgerstate is the record format of the built-in ledger of the
// card and banktransfer plugins, whose durable state the switch keeps in its
// own database (capability host_state, records under the plugin and
// instance in switchd.db), and a reader of those records.
//
// Keys, by kind ("\x00" separates their parts; payment ids, operations and
// account ids never contain it):
//
//	a/<account>                           an account: id, currency, limit, unlimited
//	o/<payment>\x00<operation>             an operation's Result, voided tombstones included
//	j/<payment>\x00<operation>\x00transfer  the postings of an operation that moved money
//	j/<payment>\x00<operation>\x00reversal  the postings that put it back
//	j/seed\x00<account>                    the opening balance of an account
//
// Values are JSON. No record holds a balance: an account's balance is the
// sum of its postings, so records of different payments commute (they may
// be committed in either order) and a record may be written again with the
// same value. Keys sort by kind, then by payment or account.
//
// The reader (View) takes records in any order, applies each as a put (or,
// with an empty value, a delete), and answers balances, operations and the
// ledger's invariants (Check).
package ledgerstate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
)

// Key prefixes of the record kinds.
const (
	PrefixAccount   = "a/"
	PrefixOperation = "o/"
	PrefixJournal   = "j/"
)

// Journal entry kinds.
const (
	KindTransfer = "transfer"
	KindReversal = "reversal"
	KindSeed     = "seed"
)

// MaxKey is the longest key the host stores (store.MaxStateKey).
const MaxKey = 512

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

// Result is what happened to an operation: the value of its o/ record.
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

// Account is one account of the ledger. Its record holds everything but
// Balance, which View and the ledger compute from the postings.
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

// Entry is one journal entry. Kind, PaymentID, Operation and Account come
// from its key; only Postings are in its value.
type Entry struct {
	Kind      string
	PaymentID string // transfer and reversal
	Operation string // transfer and reversal
	Account   string // seed
	Postings  []Posting
}

type accountValue struct {
	ID        string `json:"id"`
	Currency  string `json:"currency"`
	Limit     int64  `json:"limit"`
	Unlimited bool   `json:"unlimited,omitempty"`
}

type entryValue struct {
	Postings []Posting `json:"postings"`
}

// AccountKey is the key of account id's record.
func AccountKey(id string) []byte { return []byte(PrefixAccount + id) }

// OperationKey is the key of the operation's Result.
func OperationKey(paymentID, operation string) []byte {
	return []byte(PrefixOperation + paymentID + "\x00" + operation)
}

// EntryKey is the key of the operation's journal entry of kind
// KindTransfer or KindReversal.
func EntryKey(paymentID, operation, kind string) []byte {
	return []byte(PrefixJournal + paymentID + "\x00" + operation + "\x00" + kind)
}

// SeedKey is the key of the opening-balance entry of account.
func SeedKey(account string) []byte { return []byte(PrefixJournal + KindSeed + "\x00" + account) }

// AccountRecord encodes a's record (its Balance is not part of it).
func AccountRecord(a Account) *pb.StateWrite {
	v, _ := json.Marshal(accountValue{ID: a.ID, Currency: a.Currency, Limit: a.Limit, Unlimited: a.Unlimited})
	return &pb.StateWrite{Key: AccountKey(a.ID), Value: v}
}

// OperationRecord encodes r's record.
func OperationRecord(r Result) *pb.StateWrite {
	v, _ := json.Marshal(r)
	return &pb.StateWrite{Key: OperationKey(r.PaymentID, r.Operation), Value: v}
}

// EntryRecord encodes e's record under the key its Kind calls for.
func EntryRecord(e Entry) *pb.StateWrite {
	v, _ := json.Marshal(entryValue{Postings: e.Postings})
	k := SeedKey(e.Account)
	if e.Kind != KindSeed {
		k = EntryKey(e.PaymentID, e.Operation, e.Kind)
	}
	return &pb.StateWrite{Key: k, Value: v}
}

// OperationRecords returns every record of the operation whose Result is r:
// the Result, and the entries its state implies (a transfer entry once
// approved, a reversal entry too once reversed). These are what an answer
// about the operation carries.
func OperationRecords(r Result) []*pb.StateWrite {
	out := []*pb.StateWrite{OperationRecord(r)}
	if r.State == StateApproved || r.State == StateReversed {
		out = append(out, EntryRecord(TransferEntry(r)))
	}
	if r.State == StateReversed {
		out = append(out, EntryRecord(ReversalEntry(r)))
	}
	return out
}

// TransferEntry is the entry of an approved operation: From pays To.
func TransferEntry(r Result) Entry {
	return Entry{Kind: KindTransfer, PaymentID: r.PaymentID, Operation: r.Operation,
		Postings: []Posting{{Account: r.From, Amount: -r.Amount}, {Account: r.To, Amount: r.Amount}}}
}

// ReversalEntry is the entry that reverses r: To pays From back.
func ReversalEntry(r Result) Entry {
	return Entry{Kind: KindReversal, PaymentID: r.PaymentID, Operation: r.Operation,
		Postings: []Posting{{Account: r.To, Amount: -r.Amount}, {Account: r.From, Amount: r.Amount}}}
}

// SeedEntry is the opening balance of account (of currency) posted from
// the currency's seed account.
func SeedEntry(account, seedAccount string, balance int64) Entry {
	return Entry{Kind: KindSeed, Account: account,
		Postings: []Posting{{Account: seedAccount, Amount: -balance}, {Account: account, Amount: balance}}}
}

// View is a ledger decoded from its records. Its zero value is not usable;
// call NewView or Decode. It is not safe for concurrent use.
type View struct {
	accounts   map[string]Account // Balance unset; see Accounts
	operations map[string]Result  // by paymentID + "\x00" + operation
	entries    map[string]Entry   // by record key
}

// NewView returns an empty view.
func NewView() *View {
	return &View{accounts: map[string]Account{}, operations: map[string]Result{}, entries: map[string]Entry{}}
}

// Decode returns the view of records, applied in order.
func Decode(records []*pb.StateWrite) (*View, error) {
	v := NewView()
	for _, r := range records {
		if err := v.Put(r.GetKey(), r.GetValue()); err != nil {
			return nil, err
		}
	}
	return v, nil
}

// Put applies one record: an empty value deletes key. It copies what it
// keeps, so key and value may be reused afterwards (it fits
// store.Tx.PluginState's callback). A key of no known kind or a value that
// does not decode is an error wrapping ErrBadRecord, and changes nothing.
func (v *View) Put(key, value []byte) error {
	k := string(key)
	switch {
	case strings.HasPrefix(k, PrefixAccount):
		id := k[len(PrefixAccount):]
		if id == "" {
			return badRecord(key, "no account id")
		}
		if len(value) == 0 {
			delete(v.accounts, id)
			return nil
		}
		var a accountValue
		if err := json.Unmarshal(value, &a); err != nil {
			return badRecord(key, "%v", err)
		}
		if a.ID != id {
			return badRecord(key, "holds account %q", a.ID)
		}
		v.accounts[id] = Account{ID: a.ID, Currency: a.Currency, Limit: a.Limit, Unlimited: a.Unlimited}
	case strings.HasPrefix(k, PrefixOperation):
		parts := strings.Split(k[len(PrefixOperation):], "\x00")
		if len(parts) != 2 || parts[0] == "" || parts[1] == "" {
			return badRecord(key, "want o/<payment>\\x00<operation>")
		}
		if len(value) == 0 {
			delete(v.operations, parts[0]+"\x00"+parts[1])
			return nil
		}
		var r Result
		if err := json.Unmarshal(value, &r); err != nil {
			return badRecord(key, "%v", err)
		}
		if r.PaymentID != parts[0] || r.Operation != parts[1] {
			return badRecord(key, "holds operation %q/%q", r.PaymentID, r.Operation)
		}
		v.operations[parts[0]+"\x00"+parts[1]] = r
	case strings.HasPrefix(k, PrefixJournal):
		parts := strings.Split(k[len(PrefixJournal):], "\x00")
		var e Entry
		switch {
		case len(parts) == 2 && parts[0] == KindSeed && parts[1] != "":
			e = Entry{Kind: KindSeed, Account: parts[1]}
		case len(parts) == 3 && parts[0] != "" && parts[1] != "" && (parts[2] == KindTransfer || parts[2] == KindReversal):
			e = Entry{Kind: parts[2], PaymentID: parts[0], Operation: parts[1]}
		default:
			return badRecord(key, "want j/<payment>\\x00<operation>\\x00transfer|reversal or j/seed\\x00<account>")
		}
		if len(value) == 0 {
			delete(v.entries, k)
			return nil
		}
		var ev entryValue
		if err := json.Unmarshal(value, &ev); err != nil {
			return badRecord(key, "%v", err)
		}
		e.Postings = ev.Postings
		v.entries[k] = e
	default:
		return badRecord(key, "unknown kind")
	}
	return nil
}

func badRecord(key []byte, format string, args ...any) error {
	return fmt.Errorf("%w %q: %s", ErrBadRecord, key, fmt.Sprintf(format, args...))
}

// Accounts returns every account by id, with its balance: the sum of its
// postings.
func (v *View) Accounts() map[string]Account {
	sums := v.sums()
	out := make(map[string]Account, len(v.accounts))
	for id, a := range v.accounts {
		a.Balance = sums[id]
		out[id] = a
	}
	return out
}

// Balances returns every account's balance by id.
func (v *View) Balances() map[string]int64 {
	sums := v.sums()
	out := make(map[string]int64, len(v.accounts))
	for id := range v.accounts {
		out[id] = sums[id]
	}
	return out
}

func (v *View) sums() map[string]int64 {
	sums := map[string]int64{}
	for _, e := range v.entries {
		for _, p := range e.Postings {
			sums[p.Account] += p.Amount
		}
	}
	return sums
}

// Operation returns the Result recorded for (paymentID, operation), voided
// tombstones included, and whether there is one.
func (v *View) Operation(paymentID, operation string) (Result, bool) {
	r, ok := v.operations[paymentID+"\x00"+operation]
	return r, ok
}

// Operations returns every recorded Result, sorted by payment id and
// operation.
func (v *View) Operations() []Result {
	keys := sortedKeys(v.operations)
	out := make([]Result, len(keys))
	for i, k := range keys {
		out[i] = v.operations[k]
	}
	return out
}

// Entries returns every journal entry, sorted by key.
func (v *View) Entries() []Entry {
	keys := sortedKeys(v.entries)
	out := make([]Entry, len(keys))
	for i, k := range keys {
		out[i] = v.entries[k]
	}
	return out
}

// Records returns the view as records, sorted by key: what a ledger with
// this state would hand the host.
func (v *View) Records() []*pb.StateWrite {
	var out []*pb.StateWrite
	for _, id := range sortedKeys(v.accounts) {
		out = append(out, AccountRecord(v.accounts[id]))
	}
	for _, k := range sortedKeys(v.operations) {
		out = append(out, OperationRecord(v.operations[k]))
	}
	for _, k := range sortedKeys(v.entries) {
		out = append(out, EntryRecord(v.entries[k]))
	}
	SortRecords(out)
	return out
}

// SortRecords sorts records by key.
func SortRecords(records []*pb.StateWrite) {
	sort.Slice(records, func(i, j int) bool { return bytes.Compare(records[i].GetKey(), records[j].GetKey()) < 0 })
}

// Check verifies the ledger's invariants and returns every violation,
// wrapped in ErrInvariant: those of CheckJournal, and no account with a
// floor is below it.
func (v *View) Check() error {
	return v.check(true)
}

// CheckJournal verifies the invariants that records committed by a correct
// ledger always keep, and returns every violation wrapped in ErrInvariant:
// each journal entry sums to zero and posts only to known accounts of one
// currency; the balances sum to zero per currency; every approved
// operation has exactly its transfer entry, every reversed one its
// transfer and reversal entries, and no other operation (declined,
// voided) has any; no entry lacks its operation. It leaves out the floors:
// an operator who lowers a limit below what an account already owes
// leaves that account below its floor, which Check reports but which is
// no reason to refuse the records.
func (v *View) CheckJournal() error {
	return v.check(false)
}

func (v *View) check(floors bool) error {
	var problems []error
	sums := v.sums()
	for _, k := range sortedKeys(v.entries) {
		e := v.entries[k]
		var sum int64
		cur := ""
		for _, p := range e.Postings {
			sum += p.Amount
			a, ok := v.accounts[p.Account]
			if !ok {
				problems = append(problems, fmt.Errorf("journal entry %q posts to unknown account %s", k, p.Account))
				continue
			}
			if cur != "" && a.Currency != cur {
				problems = append(problems, fmt.Errorf("journal entry %q mixes %s and %s", k, cur, a.Currency))
			}
			cur = a.Currency
		}
		if sum != 0 {
			problems = append(problems, fmt.Errorf("journal entry %q sums to %d", k, sum))
		}
		if e.Kind == KindSeed {
			continue
		}
		if _, ok := v.operations[e.PaymentID+"\x00"+e.Operation]; !ok {
			problems = append(problems, fmt.Errorf("journal entry %q has no operation", k))
		}
	}
	totals := map[string]int64{}
	for _, id := range sortedKeys(v.accounts) {
		a := v.accounts[id]
		totals[a.Currency] += sums[id]
		if floors && !a.Unlimited && sums[id] < -a.Limit {
			problems = append(problems, fmt.Errorf("account %s: balance %d below floor %d", id, sums[id], -a.Limit))
		}
	}
	for _, c := range sortedKeys(totals) {
		if totals[c] != 0 {
			problems = append(problems, fmt.Errorf("currency %s: balances sum to %d", c, totals[c]))
		}
	}
	for _, k := range sortedKeys(v.operations) {
		r := v.operations[k]
		want := map[string]Entry{}
		switch r.State {
		case StateApproved:
			want[KindTransfer] = TransferEntry(r)
		case StateReversed:
			want[KindTransfer], want[KindReversal] = TransferEntry(r), ReversalEntry(r)
		}
		for _, kind := range []string{KindTransfer, KindReversal} {
			got, has := v.entries[string(EntryKey(r.PaymentID, r.Operation, kind))]
			w, wanted := want[kind]
			switch {
			case has && !wanted:
				problems = append(problems, fmt.Errorf("operation %s/%s (%s) has a %s entry", r.PaymentID, r.Operation, r.State, kind))
			case !has && wanted:
				problems = append(problems, fmt.Errorf("operation %s/%s (%s) has no %s entry", r.PaymentID, r.Operation, r.State, kind))
			case has && !samePostings(got.Postings, w.Postings):
				problems = append(problems, fmt.Errorf("operation %s/%s: %s entry %v does not match %d from %s to %s", r.PaymentID, r.Operation, kind, got.Postings, r.Amount, r.From, r.To))
			}
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("ledger: %w: %w", ErrInvariant, errors.Join(problems...))
	}
	return nil
}

func samePostings(a, b []Posting) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
