package banktransferplugin

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/switchd/switchd/plugins/card/cardplugin"
	"github.com/switchd/switchd/plugins/internal/ledger"
	"github.com/switchd/switchd/plugins/internal/ledger/oldledger"
	"github.com/switchd/switchd/plugins/ledgerstate"
	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
	"github.com/switchd/switchd/plugins/sdk"
)

// withCheckDigit appends the Luhn check digit to the digit string s.
func withCheckDigit(s string) string {
	for d := '0'; d <= '9'; d++ {
		if cardplugin.Luhn(s + string(d)) {
			return s + string(d)
		}
	}
	panic("unreachable")
}

var (
	aliceAcct = withCheckDigit("123456789") // 10 digits, Luhn
	shopAcct  = withCheckDigit("987654321")
	poorAcct  = withCheckDigit("555555555")
)

const testKey = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

// tokenOf is the token the test key gives account number n.
func tokenOf(n string) string {
	k, err := cardplugin.DecodeKey(testKey)
	if err != nil {
		panic(err)
	}
	return Tokenize(k, n)
}

func bankConfig() map[string]any {
	return map[string]any{
		"token_key": testKey,
		"account": []any{
			map[string]any{"number": aliceAcct, "holder": "alice", "balance": 1000, "currency": "EUR", "overdraft_limit": 200},
			map[string]any{"number": shopAcct, "holder": "shop-1", "currency": "EUR"},
			map[string]any{"number": poorAcct, "holder": "carol", "balance": 10, "currency": "EUR"},
		},
	}
}

func configureReq(tb testing.TB, dir string, cfg map[string]any) *pb.ConfigureRequest {
	tb.Helper()
	b, err := json.Marshal(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return &pb.ConfigureRequest{
		InstanceId: "bank-a", Kind: pb.Kind_KIND_PAYMENT_METHOD, Method: pb.Method_METHOD_BANK_TRANSFER,
		ConfigJson: b, DataDir: dir,
		Institution: &pb.InstitutionInfo{Id: "bank-a", BankCode: "0011", Roles: []string{"issuer", "acquirer"}},
	}
}

// loaded returns a plugin whose instance "bank-a" has its (empty) state
// loaded, as the host does before the first Configure.
func loaded(tb testing.TB) *Plugin {
	tb.Helper()
	p := New()
	if err := p.LoadState(context.Background(), "bank-a", nil); err != nil {
		tb.Fatal(err)
	}
	return p
}

// MustConfigure returns a plugin with instance "bank-a" configured from cfg
// and checks its ledger invariants when the test ends.
func MustConfigure(tb testing.TB, cfg map[string]any) (*Plugin, string) {
	tb.Helper()
	p := loaded(tb)
	dir := tb.TempDir()
	res, err := p.Configure(context.Background(), configureReq(tb, dir, cfg))
	if err != nil {
		tb.Fatal(err)
	}
	if sdk.HasErrors(res.GetDiagnostics()) {
		tb.Fatalf("diagnostics: %v", res.GetDiagnostics())
	}
	tb.Cleanup(func() {
		if _, err := p.instance("bank-a"); err == nil {
			if err := p.Check("bank-a"); err != nil {
				tb.Errorf("ledger invariants: %v", err)
			}
		}
		if err := p.Close(); err != nil {
			tb.Error(err)
		}
	})
	return p, dir
}

func TestValidateAccount(t *testing.T) {
	def := format{pattern: regexp.MustCompile(DefaultAccountPattern), checkDigit: CheckLuhn}
	iban := format{pattern: regexp.MustCompile(`^[A-Z]{2}[0-9]{6}$`), checkDigit: CheckNone}
	tests := []struct {
		name   string
		f      format
		number string
		want   error
	}{
		{name: "valid", f: def, number: aliceAcct},
		{name: "check digit", f: def, number: "1234567890", want: ErrCheckDigit},
		{name: "too short", f: def, number: withCheckDigit("12345678"), want: ErrAccountFormat},
		{name: "too long", f: def, number: withCheckDigit("1234567890"), want: ErrAccountFormat},
		{name: "letters", f: def, number: "12345678x0", want: ErrAccountFormat},
		{name: "spaces", f: def, number: " " + aliceAcct, want: ErrAccountFormat},
		{name: "custom ok", f: iban, number: "DE123456"},
		{name: "custom bad", f: iban, number: "de123456", want: ErrAccountFormat},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.f.ValidateAccount(tt.number); !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestGetInfo(t *testing.T) {
	info, err := New().GetInfo(context.Background(), &pb.GetInfoRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if info.GetName() != "banktransfer" || !slices.Equal(info.GetMethods(), []pb.Method{pb.Method_METHOD_BANK_TRANSFER}) ||
		!slices.Equal(info.GetKinds(), []pb.Kind{pb.Kind_KIND_PAYMENT_METHOD}) || !slices.Contains(info.GetCapabilities(), sdk.CapReverse) || !slices.Contains(info.GetCapabilities(), sdk.CapHostState) ||
		!slices.Equal(info.GetProtocolVersions(), []uint32{1}) {
		t.Fatalf("info = %v", info)
	}
	var names []string
	for _, a := range info.GetConfigSchema().GetAttributes() {
		names = append(names, a.GetName())
	}
	b := info.GetConfigSchema().GetBlocks()
	if !slices.Equal(names, []string{"token_key", "account_pattern", "check_digit"}) || len(b) != 1 || b[0].GetName() != "account" || !slices.Equal(b[0].GetLabels(), []string{"number"}) {
		t.Fatalf("schema = %v", info.GetConfigSchema())
	}
}

func TestConfigureDiagnostics(t *testing.T) {
	first := func(c map[string]any) map[string]any { return c["account"].([]any)[0].(map[string]any) }
	tests := []struct {
		name     string
		edit     func(c map[string]any)
		wantPath []string
		wantSev  pb.Severity
	}{
		{name: "bad key", edit: func(c map[string]any) { c["token_key"] = "short" }, wantPath: []string{"token_key"}, wantSev: pb.Severity_SEVERITY_ERROR},
		{name: "no key", edit: func(c map[string]any) { delete(c, "token_key") }, wantPath: []string{"token_key"}, wantSev: pb.Severity_SEVERITY_ERROR},
		{name: "bad pattern", edit: func(c map[string]any) { c["account_pattern"] = "^[0-9" }, wantPath: []string{"account_pattern"}, wantSev: pb.Severity_SEVERITY_ERROR},
		{name: "bad scheme", edit: func(c map[string]any) { c["check_digit"] = "mod97" }, wantPath: []string{"check_digit"}, wantSev: pb.Severity_SEVERITY_ERROR},
		{name: "check digit", edit: func(c map[string]any) { first(c)["number"] = "1234567890" }, wantPath: []string{"account", "1234567890"}, wantSev: pb.Severity_SEVERITY_ERROR},
		{name: "pattern", edit: func(c map[string]any) { first(c)["number"] = "12-34" }, wantPath: []string{"account", "12-34"}, wantSev: pb.Severity_SEVERITY_ERROR},
		{name: "no holder", edit: func(c map[string]any) { first(c)["holder"] = "" }, wantPath: []string{"account", aliceAcct, "holder"}, wantSev: pb.Severity_SEVERITY_ERROR},
		{name: "currency", edit: func(c map[string]any) { first(c)["currency"] = "E" }, wantPath: []string{"account", aliceAcct, "currency"}, wantSev: pb.Severity_SEVERITY_ERROR},
		{name: "negative overdraft", edit: func(c map[string]any) { first(c)["overdraft_limit"] = -5 }, wantPath: []string{"account", aliceAcct, "overdraft_limit"}, wantSev: pb.Severity_SEVERITY_ERROR},
		{name: "balance below overdraft", edit: func(c map[string]any) { first(c)["balance"] = -201 }, wantPath: []string{"account", aliceAcct, "balance"}, wantSev: pb.Severity_SEVERITY_ERROR},
		{name: "duplicate", edit: func(c map[string]any) {
			c["account"] = append(c["account"].([]any), map[string]any{"number": aliceAcct, "holder": "x", "currency": "EUR"})
		}, wantPath: []string{"account", aliceAcct}, wantSev: pb.Severity_SEVERITY_ERROR},
		{name: "fractional balance", edit: func(c map[string]any) { first(c)["balance"] = 1.5 }, wantPath: nil, wantSev: pb.Severity_SEVERITY_ERROR},
		{name: "custom pattern fits", edit: func(c map[string]any) {
			c["account_pattern"], c["check_digit"] = "^[0-9]{6}$", "none"
			c["account"] = []any{map[string]any{"number": "123456", "holder": "x", "currency": "EUR"}}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := bankConfig()
			tt.edit(cfg)
			p := loaded(t)
			defer p.Close()
			dir := t.TempDir()
			res, err := p.Configure(context.Background(), configureReq(t, dir, cfg))
			if err != nil {
				t.Fatal(err)
			}
			if tt.wantSev == pb.Severity_SEVERITY_UNSPECIFIED {
				if sdk.HasErrors(res.GetDiagnostics()) {
					t.Fatalf("unexpected diagnostics %v", res.GetDiagnostics())
				}
				return
			}
			if !slices.ContainsFunc(res.GetDiagnostics(), func(d *pb.Diagnostic) bool {
				return slices.Equal(d.GetPath(), tt.wantPath) && d.GetSeverity() == tt.wantSev
			}) {
				t.Fatalf("want %s at %v, got %v", tt.wantSev, tt.wantPath, res.GetDiagnostics())
			}
			if _, err := p.instance("bank-a"); err == nil {
				t.Error("a rejected configuration was applied")
			}
			if len(res.GetStateWrites()) != 0 {
				t.Errorf("a rejected configuration wrote records: %v", res.GetStateWrites())
			}
		})
	}
}

func resolve(tb testing.TB, p *Plugin, bank, number string) (*pb.ResolveInstrumentResponse, error) {
	tb.Helper()
	return p.ResolveInstrument(context.Background(), &pb.ResolveInstrumentRequest{
		InstanceId: "bank-a", PaymentId: "pay-r",
		Instrument: &pb.ResolveInstrumentRequest_Account{Account: &pb.AccountInstrument{BankCode: bank, AccountNumber: number}},
	})
}

func TestResolveInstrument(t *testing.T) {
	p, _ := MustConfigure(t, bankConfig())
	tests := []struct {
		name        string
		bank        string
		number      string
		wantDecline string
		wantCode    sdk.Code
		wantErr     bool
	}{
		{name: "approved", bank: "0011", number: aliceAcct},
		{name: "other bank", bank: "0022", number: aliceAcct, wantDecline: sdk.DeclineNotIssuedHere},
		{name: "no bank code", bank: "", number: aliceAcct, wantDecline: sdk.DeclineNotIssuedHere},
		{name: "unknown account", bank: "0011", number: withCheckDigit("111111111"), wantDecline: sdk.DeclineUnknownAccount},
		{name: "check digit", bank: "0011", number: "1234567890", wantErr: true, wantCode: sdk.CodeInvalidArgument},
		{name: "format", bank: "0011", number: "12345", wantErr: true, wantCode: sdk.CodeInvalidArgument},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := resolve(t, p, tt.bank, tt.number)
			if tt.wantErr {
				if sdk.CodeOf(err) != tt.wantCode {
					t.Fatalf("err = %v, want %s", err, tt.wantCode)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.wantDecline != "" {
				if res.GetVerdict() != pb.Verdict_VERDICT_DECLINED || res.GetDeclineCode() != tt.wantDecline {
					t.Fatalf("got %v, want %s", res, tt.wantDecline)
				}
				return
			}
			if strings.Contains(res.GetToken(), aliceAcct) {
				t.Errorf("token %q contains the account number", res.GetToken())
			}
			want := &pb.ResolveInstrumentResponse{Verdict: pb.Verdict_VERDICT_APPROVED, Token: tokenOf(aliceAcct), Display: "···· " + aliceAcct[6:], Last4: aliceAcct[6:], PayerRef: "alice"}
			if res.String() != want.String() {
				t.Fatalf("got %v, want %v", res, want)
			}
		})
	}
	t.Run("card instrument", func(t *testing.T) {
		_, err := p.ResolveInstrument(context.Background(), &pb.ResolveInstrumentRequest{InstanceId: "bank-a", Instrument: &pb.ResolveInstrumentRequest_Card{Card: &pb.CardInstrument{Pan: "4111111111111111"}}})
		if sdk.CodeOf(err) != sdk.CodeInvalidArgument {
			t.Fatalf("err = %v", err)
		}
	})
}

func testOrder(id string, amount int64) *pb.Order {
	return &pb.Order{PaymentId: id, MerchantId: "shop-1", AcquirerId: "bank-a", IssuerId: "bank-a", AmountMinor: amount, Currency: "EUR", Method: pb.Method_METHOD_BANK_TRANSFER}
}

func TestMoneyFlow(t *testing.T) {
	ctx := context.Background()
	p, _ := MustConfigure(t, bankConfig())
	debit := func(id, token string, amount int64) *pb.MoneyResult {
		t.Helper()
		r, err := p.Debit(ctx, &pb.DebitRequest{InstanceId: "bank-a", Order: testOrder(id, amount), Token: token})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	bal := func(number string) int64 {
		t.Helper()
		b, err := p.Balances("bank-a")
		if err != nil {
			t.Fatal(err)
		}
		return b[ledgerAccount(number)].Balance
	}

	d := debit("pay-1", tokenOf(aliceAcct), 1100) // into the 200 overdraft
	if d.GetState() != pb.OperationState_OPERATION_STATE_APPROVED || bal(aliceAcct) != -100 {
		t.Fatalf("debit = %v, balance %d", d, bal(aliceAcct))
	}
	if again := debit("pay-1", tokenOf(aliceAcct), 1100); again.String() != d.String() || bal(aliceAcct) != -100 {
		t.Fatalf("retried debit moved money again: %v, balance %d", again, bal(aliceAcct))
	}
	short := debit("pay-2", tokenOf(poorAcct), 11)
	if short.GetState() != pb.OperationState_OPERATION_STATE_DECLINED || short.GetDeclineCode() != sdk.DeclineInsufficientFunds || bal(poorAcct) != 10 {
		t.Fatalf("short debit = %v, balance %d", short, bal(poorAcct))
	}
	wrongCur := testOrder("pay-3", 1)
	wrongCur.Currency = "USD"
	if r, err := p.Debit(ctx, &pb.DebitRequest{InstanceId: "bank-a", Order: wrongCur, Token: tokenOf(aliceAcct)}); err != nil || r.GetDeclineCode() != ledger.DeclineCurrency {
		t.Fatalf("debit in USD = %v, %v", r, err)
	}
	if _, err := p.Debit(ctx, &pb.DebitRequest{InstanceId: "bank-a", Order: testOrder("pay-4", 0), Token: tokenOf(aliceAcct)}); sdk.CodeOf(err) != sdk.CodeInvalidArgument {
		t.Fatalf("zero debit: %v", err)
	}

	c, err := p.Credit(ctx, &pb.CreditRequest{InstanceId: "bank-a", Order: testOrder("pay-1", 1100), PayeeAccount: shopAcct})
	if err != nil || c.GetState() != pb.OperationState_OPERATION_STATE_APPROVED || bal(shopAcct) != 1100 {
		t.Fatalf("credit = %v, %v, balance %d", c, err, bal(shopAcct))
	}
	if r, err := p.Credit(ctx, &pb.CreditRequest{InstanceId: "bank-a", Order: wrongCur, PayeeAccount: shopAcct}); err != nil || r.GetDeclineCode() != ledger.DeclineCurrency {
		t.Fatalf("credit in USD = %v, %v", r, err)
	}
	if r, err := p.Credit(ctx, &pb.CreditRequest{InstanceId: "bank-a", Order: testOrder("pay-5", 5), PayeeAccount: "0000000000"}); err != nil || r.GetDeclineCode() != sdk.DeclineUnknownAccount {
		t.Fatalf("credit to unknown = %v, %v", r, err)
	}

	for _, op := range []pb.Operation{pb.Operation_OPERATION_CREDIT, pb.Operation_OPERATION_DEBIT, pb.Operation_OPERATION_DEBIT} {
		r, err := p.Reverse(ctx, &pb.ReverseRequest{InstanceId: "bank-a", PaymentId: "pay-1", Operation: op, Reason: "cancelled"})
		if err != nil || r.GetState() != pb.OperationState_OPERATION_STATE_REVERSED {
			t.Fatalf("reverse %s = %v, %v", op, r, err)
		}
	}
	if bal(aliceAcct) != 1000 || bal(shopAcct) != 0 {
		t.Fatalf("after reversal alice %d shop %d", bal(aliceAcct), bal(shopAcct))
	}
	if r, err := p.Reverse(ctx, &pb.ReverseRequest{InstanceId: "bank-a", PaymentId: "pay-2", Operation: pb.Operation_OPERATION_DEBIT}); err != nil || r.GetState() != pb.OperationState_OPERATION_STATE_DECLINED {
		t.Fatalf("reverse of a declined debit = %v, %v", r, err)
	}
	st, err := p.GetOperationStatus(ctx, &pb.OperationStatusRequest{InstanceId: "bank-a", PaymentId: "pay-9", Operation: pb.Operation_OPERATION_CREDIT})
	if err != nil || st.GetState() != pb.OperationState_OPERATION_STATE_NOT_FOUND {
		t.Fatalf("status of nothing = %v, %v", st, err)
	}
}

func TestReconfigureKeepsBalances(t *testing.T) {
	ctx := context.Background()
	p, dir := MustConfigure(t, bankConfig())
	if r, err := p.Debit(ctx, &pb.DebitRequest{InstanceId: "bank-a", Order: testOrder("pay-1", 300), Token: tokenOf(aliceAcct)}); err != nil || r.GetState() != pb.OperationState_OPERATION_STATE_APPROVED {
		t.Fatalf("debit = %v, %v", r, err)
	}
	bad := bankConfig()
	bad["check_digit"] = "bogus"
	if res, err := p.Configure(ctx, configureReq(t, dir, bad)); err != nil || !sdk.HasErrors(res.GetDiagnostics()) {
		t.Fatalf("bad reload = %v, %v", res, err)
	}
	if _, err := resolve(t, p, "0011", aliceAcct); err != nil {
		t.Fatalf("old settings lost after a refused reload: %v", err)
	}
	// The same opening balance again must not be posted twice.
	if res, err := p.Configure(ctx, configureReq(t, dir, bankConfig())); err != nil || sdk.HasErrors(res.GetDiagnostics()) {
		t.Fatalf("reload = %v, %v", res, err)
	}
	b, _ := p.Balances("bank-a")
	if b[ledgerAccount(aliceAcct)].Balance != 700 {
		t.Fatalf("alice after reload = %d, want 700", b[ledgerAccount(aliceAcct)].Balance)
	}
}

// TestHostState plays the host: it loads nothing, configures, pays and
// reverses, committing every answer's state_writes, then starts a new
// plugin from the committed records. The new plugin's balances and
// answers are the old one's, and Configure before LoadState is refused.
func TestHostState(t *testing.T) {
	ctx := context.Background()
	committed := map[string][]byte{}
	commit := func(ws []*pb.StateWrite) {
		for _, w := range ws {
			committed[string(w.GetKey())] = w.GetValue()
		}
	}
	records := func() []*pb.StateWrite {
		var out []*pb.StateWrite
		for k, v := range committed {
			out = append(out, &pb.StateWrite{Key: []byte(k), Value: v})
		}
		return out
	}

	fresh := New()
	if _, err := fresh.Configure(ctx, configureReq(t, t.TempDir(), bankConfig())); sdk.CodeOf(err) != sdk.CodeFailedPrecondition {
		t.Fatalf("Configure before LoadState: %v", err)
	}

	p := loaded(t)
	res, err := p.Configure(ctx, configureReq(t, t.TempDir(), bankConfig()))
	if err != nil || sdk.HasErrors(res.GetDiagnostics()) {
		t.Fatalf("Configure = %v, %v", res, err)
	}
	commit(res.GetStateWrites())
	d, err := p.Debit(ctx, &pb.DebitRequest{InstanceId: "bank-a", Order: testOrder("pay-1", 300), Token: tokenOf(aliceAcct)})
	if err != nil || len(d.GetStateWrites()) == 0 {
		t.Fatalf("debit = %v, %v", d, err)
	}
	commit(d.GetStateWrites())
	c, err := p.Credit(ctx, &pb.CreditRequest{InstanceId: "bank-a", Order: testOrder("pay-1", 300), PayeeAccount: shopAcct})
	if err != nil {
		t.Fatal(err)
	}
	commit(c.GetStateWrites())
	// This debit's answer is lost; GetOperationStatus repeats its records.
	if _, err := p.Debit(ctx, &pb.DebitRequest{InstanceId: "bank-a", Order: testOrder("pay-2", 50), Token: tokenOf(aliceAcct)}); err != nil {
		t.Fatal(err)
	}
	st, err := p.GetOperationStatus(ctx, &pb.OperationStatusRequest{InstanceId: "bank-a", PaymentId: "pay-2", Operation: pb.Operation_OPERATION_DEBIT})
	if err != nil || st.GetState() != pb.OperationState_OPERATION_STATE_APPROVED {
		t.Fatalf("status = %v, %v", st, err)
	}
	commit(st.GetStateWrites())
	r, err := p.Reverse(ctx, &pb.ReverseRequest{InstanceId: "bank-a", PaymentId: "pay-2", Operation: pb.Operation_OPERATION_DEBIT})
	if err != nil {
		t.Fatal(err)
	}
	commit(r.GetStateWrites())

	v, err := ledgerstate.Decode(records())
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Check(); err != nil {
		t.Fatal(err)
	}
	want, _ := p.Balances("bank-a")
	for id, a := range want {
		if v.Balances()[id] != a.Balance {
			t.Errorf("records give %s = %d, the plugin says %d", id, v.Balances()[id], a.Balance)
		}
	}

	// A restart: a new process loads what the host committed.
	p2 := New()
	if err := p2.LoadState(ctx, "bank-a", records()); err != nil {
		t.Fatal(err)
	}
	res, err = p2.Configure(ctx, configureReq(t, t.TempDir(), bankConfig()))
	if err != nil || sdk.HasErrors(res.GetDiagnostics()) {
		t.Fatalf("Configure after restart = %v, %v", res, err)
	}
	got, _ := p2.Balances("bank-a")
	if got[ledgerAccount(aliceAcct)] != want[ledgerAccount(aliceAcct)] || got[ledgerAccount(aliceAcct)].Balance != 700 || got[ledgerAccount(shopAcct)].Balance != 300 {
		t.Fatalf("after restart %v, before %v", got, want)
	}
	again, err := p2.Debit(ctx, &pb.DebitRequest{InstanceId: "bank-a", Order: testOrder("pay-1", 300), Token: tokenOf(aliceAcct)})
	if err != nil || again.GetReference() != d.GetReference() || got[ledgerAccount(aliceAcct)].Balance != 700 {
		t.Fatalf("retried debit after restart = %v, %v; first %v", again, err, d)
	}
}

// TestExportState exports a ledger.db written by release 1.0.0's ledger
// (package oldledger) from an instance's data dir, as the host
// does once, and starts from it.
func TestExportState(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	if err := oldledger.Write(dir); err != nil {
		t.Fatal(err)
	}
	p := New()
	recs, err := p.ExportState(ctx, "bank-a", dir)
	if err != nil || len(recs) == 0 {
		t.Fatalf("ExportState = %d records, %v", len(recs), err)
	}
	if _, err := os.Stat(filepath.Join(dir, "ledger.db.imported")); err != nil {
		t.Fatalf("ledger.db not renamed: %v", err)
	}
	again, err := p.ExportState(ctx, "bank-a", dir)
	if err != nil || len(again) != len(recs) {
		t.Fatalf("second ExportState = %d records, %v; want %d", len(again), err, len(recs))
	}
	if err := p.LoadState(ctx, "bank-a", recs); err != nil {
		t.Fatal(err)
	}
	if res, err := p.Configure(ctx, configureReq(t, dir, bankConfig())); err != nil || sdk.HasErrors(res.GetDiagnostics()) {
		t.Fatalf("Configure = %v, %v", res, err)
	}
	b, _ := p.Balances("bank-a")
	if b["acct:DE001"].Balance != 50000 || b[ledgerAccount(aliceAcct)].Balance != 1000 {
		t.Fatalf("balances %v", b)
	}
	if err := p.Check("bank-a"); err != nil {
		t.Fatal(err)
	}
}
