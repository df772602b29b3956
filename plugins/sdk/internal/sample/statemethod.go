package sample

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
	"github.com/switchd/switchd/plugins/sdk"
)

// StateMethod is the bank-transfer method of Method with its ledger kept in
// the host (the host_state capability) instead of a file: it opens no file,
// loads its records in LoadState and returns the records each answer
// changes as state_writes. Its config is Method's.
//
// Its records:
//
//	acct/<number>            {"currency": "EUR", "opening_minor": 100000}
//	op/<operation>/<payment> the operation (account, sign, state, amount, ...)
//
// A balance is the account's opening balance plus its approved
// operations, recomputed at LoadState: there is no running total, so two
// payments' records commute. References are derived from the payment id.
type StateMethod struct {
	bank[*stateLedger]
	state map[string]*stateLedger // by instance, from LoadState
}

var (
	_ sdk.PaymentMethod = (*StateMethod)(nil)
	_ sdk.StateHolder   = (*StateMethod)(nil)
)

// NewStateMethod returns a host_state payment method with the given flaws
// (0 for none).
func NewStateMethod(flaws Flaw) *StateMethod {
	return &StateMethod{bank: newBank[*stateLedger](flaws), state: map[string]*stateLedger{}}
}

// stateLedger is an instance's working state, built from its records.
type stateLedger struct {
	Accounts map[string]*stateAccount `json:"accounts"`
	Ops      map[string]*operation    `json:"ops"` // by opKey
	// Totals are the running totals the RunningTotal flaw keeps.
	Totals map[string]int64 `json:"totals,omitempty"`
}

func (l *stateLedger) holds(number string) bool   { return l.Accounts[number] != nil }
func (l *stateLedger) ops() map[string]*operation { return l.Ops }

type stateAccount struct {
	Currency     string `json:"currency"`
	OpeningMinor int64  `json:"opening_minor"`
	balance      int64
}

func newStateLedger() *stateLedger {
	return &stateLedger{Accounts: map[string]*stateAccount{}, Ops: map[string]*operation{}, Totals: map[string]int64{}}
}

const (
	acctPrefix  = "acct/"
	opPrefix    = "op/"
	totalPrefix = "total/"
)

func acctWrite(number string, a *stateAccount) *pb.StateWrite {
	b, _ := json.Marshal(a)
	return &pb.StateWrite{Key: []byte(acctPrefix + number), Value: b}
}

func opWrite(key string, op *operation) *pb.StateWrite {
	b, _ := json.Marshal(op)
	return &pb.StateWrite{Key: []byte(opPrefix + key), Value: b}
}

// recompute sets every account's balance from its opening balance and
// approved operations (or, with RunningTotal, from the last total written).
func (l *stateLedger) recompute(flaws Flaw) {
	for _, a := range l.Accounts {
		a.balance = a.OpeningMinor
	}
	for _, op := range l.Ops {
		if a := l.Accounts[op.Account]; a != nil && op.State == pb.OperationState_OPERATION_STATE_APPROVED {
			a.balance += op.Sign * op.AmountMinor
		}
	}
	if flaws&RunningTotal != 0 {
		for n, v := range l.Totals {
			if a := l.Accounts[n]; a != nil {
				a.balance = v
			}
		}
	}
}

// GetInfo describes the plugin: Method's, with the host_state capability.
func (m *StateMethod) GetInfo(ctx context.Context, req *pb.GetInfoRequest) (*pb.GetInfoResponse, error) {
	info, err := NewMethod(m.flaws).GetInfo(ctx, req)
	if err != nil {
		return nil, err
	}
	info.Name = "sample-state-method"
	info.Capabilities = append(info.Capabilities, sdk.CapHostState)
	return info, nil
}

// LoadState replaces an instance's working state with records.
func (m *StateMethod) LoadState(_ context.Context, instanceID string, records []*pb.StateWrite) error {
	led := newStateLedger()
	for _, r := range records {
		k := string(r.GetKey())
		switch {
		case strings.HasPrefix(k, acctPrefix):
			var a stateAccount
			if err := json.Unmarshal(r.GetValue(), &a); err != nil {
				return sdk.InvalidArgument("records", "record %q: %v", k, err)
			}
			led.Accounts[strings.TrimPrefix(k, acctPrefix)] = &a
		case strings.HasPrefix(k, opPrefix):
			var op operation
			if err := json.Unmarshal(r.GetValue(), &op); err != nil {
				return sdk.InvalidArgument("records", "record %q: %v", k, err)
			}
			led.Ops[strings.TrimPrefix(k, opPrefix)] = &op
		case strings.HasPrefix(k, totalPrefix):
			v, err := strconv.ParseInt(string(r.GetValue()), 10, 64)
			if err != nil {
				return sdk.InvalidArgument("records", "record %q: %v", k, err)
			}
			led.Totals[strings.TrimPrefix(k, totalPrefix)] = v
		default:
			return sdk.InvalidArgument("records", "unknown record %q", k)
		}
	}
	led.recompute(m.flaws)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.state[instanceID] = led
	delete(m.inst, instanceID) // configured again after the load
	return nil
}

// ExportState exports the ledger that Method, the earlier version of this
// plugin, kept in dataDir: each account with the opening balance that its
// operations bring to the file's balance, and each operation as it was.
// It then renames the file to ledger.json.imported, and exports from that
// file until the host holds the records (it calls ExportState no more).
func (m *StateMethod) ExportState(_ context.Context, _, dataDir string) ([]*pb.StateWrite, error) {
	if dataDir == "" {
		return nil, nil
	}
	cur, imported := filepath.Join(dataDir, ledgerFile), filepath.Join(dataDir, ledgerFile+".imported")
	if _, err := os.Stat(cur); err == nil {
		if err := os.Rename(cur, imported); err != nil {
			return nil, sdk.Internal(fmt.Errorf("sample: %w", err))
		}
	} else if m.flaws&ExportsOnce != 0 {
		return nil, nil
	}
	b, err := os.ReadFile(imported)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, sdk.Internal(fmt.Errorf("sample: %w", err))
	}
	old := &ledger{}
	if err := json.Unmarshal(b, old); err != nil {
		return nil, sdk.Internal(fmt.Errorf("sample: %s: %w", imported, err))
	}
	opening := map[string]int64{}
	for n, a := range old.Accounts {
		opening[n] = a.BalanceMinor
	}
	var out []*pb.StateWrite
	for _, k := range slices.Sorted(maps.Keys(old.Ops)) {
		op := old.Ops[k]
		if op.State == pb.OperationState_OPERATION_STATE_APPROVED {
			opening[op.Account] -= op.Sign * op.AmountMinor
		}
		out = append(out, opWrite(k, op))
	}
	for _, n := range slices.Sorted(maps.Keys(old.Accounts)) {
		out = append(out, acctWrite(n, &stateAccount{Currency: old.Accounts[n].Currency, OpeningMinor: opening[n]}))
	}
	return out, nil
}

// Configure validates and applies an instance's config on its loaded
// state. Accounts the state does not hold yet are opened with their
// configured balance, and their records are returned as writes.
func (m *StateMethod) Configure(_ context.Context, req *pb.ConfigureRequest) (*pb.ConfigureResponse, error) {
	cfg, diags, err := checkMethodConfig(req.GetConfigJson(), m.flaws)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	led, ok := m.state[req.GetInstanceId()]
	if !ok && m.flaws&ConfiguresUnloaded != 0 {
		led, ok = newStateLedger(), true
		m.state[req.GetInstanceId()] = led
	}
	if !ok {
		return nil, sdk.FailedPrecondition("instance %q: its state was not loaded (LoadState comes before Configure)", req.GetInstanceId())
	}
	var writes []*pb.StateWrite
	for _, a := range cfg.Account {
		if _, ok := led.Accounts[a.Number]; !ok {
			writes = append(writes, acctWrite(a.Number, &stateAccount{Currency: a.Currency, OpeningMinor: a.BalanceMinor}))
		}
	}
	if sdk.HasErrors(diags) {
		if m.flaws&WritesOnError != 0 {
			return &pb.ConfigureResponse{Diagnostics: diags, StateWrites: writes}, nil
		}
		return &pb.ConfigureResponse{Diagnostics: diags}, nil
	}
	in := &instance[*stateLedger]{dataDir: req.GetDataDir(), latency: time.Duration(cfg.LatencyMS) * time.Millisecond, tokens: map[string]string{}, led: led}
	if m.flaws&KeepsOwnFile != 0 {
		if err := readOwnFile(in); err != nil {
			return nil, sdk.Internal(err)
		}
	}
	for _, a := range cfg.Account {
		if _, ok := led.Accounts[a.Number]; !ok {
			led.Accounts[a.Number] = &stateAccount{Currency: a.Currency, OpeningMinor: a.BalanceMinor, balance: a.BalanceMinor}
		}
		in.tokens[token(req.GetInstanceId(), a.Number)] = a.Number
	}
	m.inst[req.GetInstanceId()] = in
	return &pb.ConfigureResponse{Diagnostics: diags, StateWrites: writes}, nil
}

// Debit takes the order amount from the token's account.
func (m *StateMethod) Debit(ctx context.Context, req *pb.DebitRequest) (*pb.MoneyResult, error) {
	return m.move(ctx, req.GetInstanceId(), pb.Operation_OPERATION_DEBIT, req.GetOrder(), func(in *instance[*stateLedger]) string {
		return in.tokens[req.GetToken()]
	})
}

// Credit pays the order amount into the payee account.
func (m *StateMethod) Credit(ctx context.Context, req *pb.CreditRequest) (*pb.MoneyResult, error) {
	return m.move(ctx, req.GetInstanceId(), pb.Operation_OPERATION_CREDIT, req.GetOrder(), func(*instance[*stateLedger]) string {
		return req.GetPayeeAccount()
	})
}

// reference is the bank's reference of an operation, derived from the
// payment so that it needs no counter.
func reference(op pb.Operation, paymentID string) string {
	h := sha256.Sum256([]byte(opKey(op, paymentID)))
	return strings.TrimPrefix(op.String(), "OPERATION_") + "-" + hex.EncodeToString(h[:6])
}

// answer is an operation's result with its records, unless the
// ForgetsRecords flaw drops them from answers about an existing operation.
func (m *StateMethod) answer(in *instance[*stateLedger], key string, op *operation, repeat bool) *pb.MoneyResult {
	res := op.result()
	if repeat && m.flaws&ForgetsRecords != 0 {
		return res
	}
	res.StateWrites = []*pb.StateWrite{opWrite(key, op)}
	if a := in.led.Accounts[op.Account]; a != nil && m.flaws&RunningTotal != 0 {
		res.StateWrites = append(res.StateWrites, &pb.StateWrite{Key: []byte(totalPrefix + op.Account),
			Value: strconv.AppendInt(nil, a.balance, 10)})
	}
	return res
}

func (m *StateMethod) move(ctx context.Context, id string, op pb.Operation, o *pb.Order, acctOf func(*instance[*stateLedger]) string) (*pb.MoneyResult, error) {
	return m.moving(ctx, id, op, o, func(in *instance[*stateLedger], key string) (*pb.MoneyResult, error) {
		if prev, ok := in.led.Ops[key]; ok {
			return m.answer(in, key, prev, true), nil
		}
		rec := &operation{Reference: reference(op, o.GetPaymentId()), AmountMinor: o.GetAmountMinor(), Currency: o.GetCurrency(), Sign: sign(op)}
		rec.Account = acctOf(in)
		a, known := in.led.Accounts[rec.Account]
		if !known {
			a = &stateAccount{}
		}
		if rec.State, rec.DeclineCode = decide(known, a.Currency, a.balance, rec.Sign, o); rec.State == pb.OperationState_OPERATION_STATE_APPROVED {
			a.balance += rec.Sign * o.GetAmountMinor()
		}
		in.led.Ops[key] = rec
		return m.commit(in, key, rec)
	})
}

// commit keeps a changed operation (in the data dir too with the
// KeepsOwnFile flaw) and answers with its records.
func (m *StateMethod) commit(in *instance[*stateLedger], key string, rec *operation) (*pb.MoneyResult, error) {
	if err := writeOwnFile(in, m.flaws); err != nil {
		return nil, sdk.Internal(err)
	}
	return m.answer(in, key, rec, false), nil
}

// Reverse puts back an approved operation once.
func (m *StateMethod) Reverse(_ context.Context, req *pb.ReverseRequest) (*pb.MoneyResult, error) {
	return m.withOperation(req.GetInstanceId(), req.GetOperation(), req.GetPaymentId(), func(in *instance[*stateLedger], key string, prev *operation) (*pb.MoneyResult, error) {
		if prev.State != pb.OperationState_OPERATION_STATE_APPROVED {
			return m.answer(in, key, prev, true), nil
		}
		in.led.Accounts[prev.Account].balance -= prev.Sign * prev.AmountMinor
		prev.State = pb.OperationState_OPERATION_STATE_REVERSED
		return m.commit(in, key, prev)
	})
}

// GetOperationStatus reports an operation's result and repeats its
// records.
func (m *StateMethod) GetOperationStatus(_ context.Context, req *pb.OperationStatusRequest) (*pb.MoneyResult, error) {
	return m.withOperation(req.GetInstanceId(), req.GetOperation(), req.GetPaymentId(), func(in *instance[*stateLedger], key string, prev *operation) (*pb.MoneyResult, error) {
		return m.answer(in, key, prev, true), nil
	})
}

// Balance returns an account's balance in the instance's working state.
func (m *StateMethod) Balance(instance, number string) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	led, ok := m.state[instance]
	if !ok {
		return 0, fmt.Errorf("%w: instance %s", ErrNoLedger, instance)
	}
	a, ok := led.Accounts[number]
	if !ok {
		return 0, fmt.Errorf("%w: account %s", ErrNoLedger, number)
	}
	return a.balance, nil
}

// ownFile is where the KeepsOwnFile flaw keeps a copy of the state.
const ownFile = "state.json"

// writeOwnFile saves the working state in the data dir when the plugin has
// the KeepsOwnFile flaw.
func writeOwnFile(in *instance[*stateLedger], flaws Flaw) error {
	if flaws&KeepsOwnFile == 0 || in.dataDir == "" {
		return nil
	}
	b, err := json.Marshal(in.led)
	if err != nil {
		return fmt.Errorf("sample: %w", err)
	}
	return os.WriteFile(filepath.Join(in.dataDir, ownFile), b, 0o600)
}

// readOwnFile replaces the loaded state with the data dir's copy, as the
// KeepsOwnFile flaw does.
func readOwnFile(in *instance[*stateLedger]) error {
	b, err := os.ReadFile(filepath.Join(in.dataDir, ownFile))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("sample: %w", err)
	}
	led := newStateLedger()
	if err := json.Unmarshal(b, led); err != nil {
		return fmt.Errorf("sample: %w", err)
	}
	*in.led = *led
	in.led.recompute(0)
	return nil
}
