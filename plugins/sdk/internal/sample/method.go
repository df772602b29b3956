package sample

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"time"

	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
	"github.com/switchd/switchd/plugins/sdk"
)

// Method is a bank-transfer payment method over a JSON ledger kept in the
// instance's data dir. Its config is
//
//	{"account": [{"number": "12345678", "balance_minor": 100000, "currency": "EUR"}],
//	 "latency_ms": 0}
type Method struct {
	bank[*ledger]
}

var _ sdk.PaymentMethod = (*Method)(nil)

// NewMethod returns a payment method with the given flaws (0 for none).
func NewMethod(flaws Flaw) *Method {
	m := &Method{bank: newBank[*ledger](flaws)}
	m.blank = func() *instance[*ledger] {
		return &instance[*ledger]{tokens: map[string]string{},
			led: &ledger{Accounts: map[string]*account{}, Ops: map[string]*operation{}}}
	}
	return m
}

type methodConfig struct {
	Account []struct {
		Number       string `json:"number"`
		BalanceMinor int64  `json:"balance_minor"`
		Currency     string `json:"currency"`
	} `json:"account"`
	LatencyMS int64 `json:"latency_ms"`
}

// ledger is the persisted state of one instance.
type ledger struct {
	Accounts map[string]*account   `json:"accounts"`
	Ops      map[string]*operation `json:"ops"` // by opKey
	Seq      int                   `json:"seq"`
}

func (l *ledger) holds(number string) bool   { return l.Accounts[number] != nil }
func (l *ledger) ops() map[string]*operation { return l.Ops }

type account struct {
	BalanceMinor int64  `json:"balance_minor"`
	Currency     string `json:"currency"`
}

type operation struct {
	Account     string            `json:"account"`
	Sign        int64             `json:"sign"` // -1 debit, +1 credit
	State       pb.OperationState `json:"state"`
	DeclineCode string            `json:"decline_code,omitempty"`
	Reference   string            `json:"reference"`
	AmountMinor int64             `json:"amount_minor"`
	Currency    string            `json:"currency"`
}

func (op *operation) result() *pb.MoneyResult {
	return &pb.MoneyResult{State: op.State, DeclineCode: op.DeclineCode, Reference: op.Reference, AmountMinor: op.AmountMinor, Currency: op.Currency}
}

func opKey(op pb.Operation, paymentID string) string { return op.String() + "/" + paymentID }

var (
	digitsRe   = regexp.MustCompile(`^[0-9]{4,34}$`)
	currencyRe = regexp.MustCompile(`^[A-Z]{3}$`)
)

// GetInfo describes the plugin.
func (m *Method) GetInfo(context.Context, *pb.GetInfoRequest) (*pb.GetInfoResponse, error) {
	schema := &pb.Schema{
		Attributes: []*pb.Attribute{sdk.Attr("latency_ms", pb.AttributeType_ATTRIBUTE_TYPE_NUMBER, false, "simulated backend latency")},
		Blocks: []*pb.BlockType{{Name: "account", Labels: []string{"number"}, MinItems: 1, Description: "a payer or payee account",
			Body: &pb.Schema{Attributes: []*pb.Attribute{
				sdk.Attr("balance_minor", pb.AttributeType_ATTRIBUTE_TYPE_NUMBER, true, "opening balance in minor units"),
				sdk.Attr("currency", pb.AttributeType_ATTRIBUTE_TYPE_STRING, true, "ISO 4217 code"),
			}}}},
	}
	if m.flaws&BadSchema != 0 {
		schema.Attributes = append(schema.Attributes, &pb.Attribute{Name: "latency_ms"})
	}
	return &pb.GetInfoResponse{Name: "sample-method", Version: Version, Kinds: []pb.Kind{pb.Kind_KIND_PAYMENT_METHOD},
		ProtocolVersions: []uint32{sdk.ProtocolVersion}, Capabilities: []string{sdk.CapReverse},
		Methods: []pb.Method{pb.Method_METHOD_BANK_TRANSFER}, ConfigSchema: schema}, nil
}

// Configure validates and applies an instance's config, keeping the
// balances and operations already in its ledger.
func (m *Method) Configure(_ context.Context, req *pb.ConfigureRequest) (*pb.ConfigureResponse, error) {
	cfg, diags, err := checkMethodConfig(req.GetConfigJson(), m.flaws)
	if err != nil {
		return nil, err
	}
	if sdk.HasErrors(diags) {
		return &pb.ConfigureResponse{Diagnostics: diags}, nil
	}
	if req.GetDataDir() == "" {
		return nil, sdk.InvalidArgument("data_dir", "required")
	}
	led, err := loadLedger(req.GetDataDir())
	if err != nil {
		return nil, sdk.Internal(err)
	}
	in := &instance[*ledger]{dataDir: req.GetDataDir(), latency: time.Duration(cfg.LatencyMS) * time.Millisecond, tokens: map[string]string{}, led: led}
	for _, a := range cfg.Account {
		if _, ok := led.Accounts[a.Number]; !ok {
			led.Accounts[a.Number] = &account{BalanceMinor: a.BalanceMinor, Currency: a.Currency}
		}
		in.tokens[token(req.GetInstanceId(), a.Number)] = a.Number
	}
	if err := led.save(in.dataDir); err != nil {
		return nil, sdk.Internal(err)
	}
	m.mu.Lock()
	m.inst[req.GetInstanceId()] = in
	m.mu.Unlock()
	return &pb.ConfigureResponse{Diagnostics: diags}, nil
}

// checkMethodConfig decodes and checks a payment method's config; it
// returns an error only when the config does not decode.
func checkMethodConfig(raw []byte, flaws Flaw) (methodConfig, []*pb.Diagnostic, error) {
	var cfg methodConfig
	if err := sdk.DecodeConfig(raw, &cfg); err != nil && flaws&AcceptsBadConfig == 0 {
		return cfg, nil, err
	}
	var diags []*pb.Diagnostic
	if flaws&AcceptsBadConfig != 0 {
		return cfg, nil, nil
	}
	if len(cfg.Account) == 0 {
		diags = append(diags, sdk.ErrorDiag([]string{"account"}, "No accounts", "declare at least one account block"))
	}
	if cfg.LatencyMS < 0 {
		diags = append(diags, sdk.ErrorDiag([]string{"latency_ms"}, "Negative latency", "latency_ms must be 0 or more, got %d", cfg.LatencyMS))
	}
	for _, a := range cfg.Account {
		if !digitsRe.MatchString(a.Number) {
			diags = append(diags, sdk.ErrorDiag([]string{"account", a.Number}, "Bad account number", "an account number is 4 to 34 digits"))
			continue
		}
		if a.BalanceMinor < 0 {
			diags = append(diags, sdk.ErrorDiag([]string{"account", a.Number, "balance_minor"}, "Negative balance", "balance_minor must be 0 or more"))
		}
		if !currencyRe.MatchString(a.Currency) {
			diags = append(diags, sdk.ErrorDiag([]string{"account", a.Number, "currency"}, "Bad currency", "currency must be an ISO 4217 code such as EUR, got %q", a.Currency))
		}
	}
	return cfg, diags, nil
}

func token(instance, number string) string {
	h := sha256.Sum256([]byte("sample-token\x00" + instance + "\x00" + number))
	return "tok_" + hex.EncodeToString(h[:12])
}

// Debit takes the order amount from the token's account.
func (m *Method) Debit(ctx context.Context, req *pb.DebitRequest) (*pb.MoneyResult, error) {
	return m.move(ctx, req.GetInstanceId(), pb.Operation_OPERATION_DEBIT, req.GetOrder(), func(in *instance[*ledger]) (string, bool) {
		n, ok := in.tokens[req.GetToken()]
		return n, ok
	})
}

// Credit pays the order amount into the payee account.
func (m *Method) Credit(ctx context.Context, req *pb.CreditRequest) (*pb.MoneyResult, error) {
	return m.move(ctx, req.GetInstanceId(), pb.Operation_OPERATION_CREDIT, req.GetOrder(), func(in *instance[*ledger]) (string, bool) {
		_, ok := in.led.Accounts[req.GetPayeeAccount()]
		return req.GetPayeeAccount(), ok
	})
}

func (m *Method) move(ctx context.Context, id string, op pb.Operation, o *pb.Order, acctOf func(*instance[*ledger]) (string, bool)) (*pb.MoneyResult, error) {
	return m.moving(ctx, id, op, o, func(in *instance[*ledger], key string) (*pb.MoneyResult, error) {
		if prev, ok := in.led.Ops[key]; ok && !(op == pb.Operation_OPERATION_DEBIT && m.flaws&NonIdempotentDebit != 0) {
			return prev.result(), nil
		}
		res := &pb.MoneyResult{AmountMinor: o.GetAmountMinor(), Currency: o.GetCurrency()}
		n, ok := acctOf(in)
		a, known := in.led.Accounts[n]
		if !known {
			a = &account{}
		}
		s := sign(op)
		if res.State, res.DeclineCode = decide(ok && known, a.Currency, a.BalanceMinor, s, o); res.State == pb.OperationState_OPERATION_STATE_APPROVED {
			a.BalanceMinor += s * o.GetAmountMinor()
		}
		in.led.Seq++
		res.Reference = fmt.Sprintf("%s-%d", op.String()[len("OPERATION_"):], in.led.Seq)
		in.led.Ops[key] = &operation{Account: n, Sign: s, State: res.State, DeclineCode: res.DeclineCode, Reference: res.Reference, AmountMinor: res.AmountMinor, Currency: res.Currency}
		if err := in.led.save(in.dataDir); err != nil {
			return nil, sdk.Internal(err)
		}
		return res, nil
	})
}

// Reverse puts back an approved operation once.
func (m *Method) Reverse(_ context.Context, req *pb.ReverseRequest) (*pb.MoneyResult, error) {
	return m.withOperation(req.GetInstanceId(), req.GetOperation(), req.GetPaymentId(), func(in *instance[*ledger], _ string, prev *operation) (*pb.MoneyResult, error) {
		switch {
		case prev.State == pb.OperationState_OPERATION_STATE_APPROVED,
			prev.State == pb.OperationState_OPERATION_STATE_REVERSED && m.flaws&DoubleReverse != 0:
			in.led.Accounts[prev.Account].BalanceMinor -= prev.Sign * prev.AmountMinor
			prev.State = pb.OperationState_OPERATION_STATE_REVERSED
			if err := in.led.save(in.dataDir); err != nil {
				return nil, sdk.Internal(err)
			}
		}
		return prev.result(), nil
	})
}

// GetOperationStatus reports an operation's last result.
func (m *Method) GetOperationStatus(_ context.Context, req *pb.OperationStatusRequest) (*pb.MoneyResult, error) {
	return m.withOperation(req.GetInstanceId(), req.GetOperation(), req.GetPaymentId(), func(_ *instance[*ledger], _ string, prev *operation) (*pb.MoneyResult, error) {
		return prev.result(), nil
	})
}

const ledgerFile = "ledger.json"

func loadLedger(dir string) (*ledger, error) {
	l := &ledger{Accounts: map[string]*account{}, Ops: map[string]*operation{}}
	b, err := os.ReadFile(filepath.Join(dir, ledgerFile))
	if os.IsNotExist(err) {
		return l, nil
	}
	if err != nil {
		return nil, fmt.Errorf("sample: %w", err)
	}
	if err := json.Unmarshal(b, l); err != nil {
		return nil, fmt.Errorf("sample: ledger: %w", err)
	}
	return l, nil
}

// save writes the ledger to dir; an instance without a dir (only the
// ServesUnconfigured flaw makes one) is kept in memory.
func (l *ledger) save(dir string) error {
	if dir == "" {
		return nil
	}
	b, err := json.Marshal(l)
	if err != nil {
		return fmt.Errorf("sample: %w", err)
	}
	tmp := filepath.Join(dir, ledgerFile+".tmp")
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("sample: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, ledgerFile)); err != nil {
		return fmt.Errorf("sample: %w", err)
	}
	return nil
}

// Balance reads an account's balance from the ledger in dataDir. It is
// how tests observe money movement, including for a plugin subprocess.
func Balance(dataDir, number string) (int64, error) {
	l, err := loadLedger(dataDir)
	if err != nil {
		return 0, err
	}
	a, ok := l.Accounts[number]
	if !ok {
		return 0, fmt.Errorf("%w: account %s", ErrNoLedger, number)
	}
	return a.BalanceMinor, nil
}
