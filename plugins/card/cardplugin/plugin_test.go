package cardplugin

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/switchd/switchd/plugins/internal/ledger"
	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
	"github.com/switchd/switchd/plugins/sdk"
)

const (
	testKey  = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
	alicePAN = "4111111111111111"
)

// bobPAN is in range and Luhn-valid; bob's card is seeded expired.
var bobPAN = withCheckDigit("411111999999999")

var fixedNow = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func issuerConfig() map[string]any {
	return map[string]any{
		"token_key": testKey,
		"card": []any{
			map[string]any{"label": "alice-visa", "pan": alicePAN, "expiry": "12/29", "holder": "alice", "credit_limit": 1000, "currency": "EUR"},
		},
		"merchant_account": []any{
			map[string]any{"account": "shop-1", "currency": "EUR"},
		},
	}
}

func configureReq(tb testing.TB, id, dir string, cfg map[string]any) *pb.ConfigureRequest {
	tb.Helper()
	b, err := json.Marshal(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return &pb.ConfigureRequest{
		InstanceId:  id,
		Kind:        pb.Kind_KIND_PAYMENT_METHOD,
		Method:      pb.Method_METHOD_CARD,
		ConfigJson:  b,
		DataDir:     dir,
		Institution: &pb.InstitutionInfo{Id: id, BinRanges: []string{"411111-411119"}, Roles: []string{"issuer", "acquirer"}},
	}
}

// loaded returns a plugin whose instance "bank-a" has its (empty) state
// loaded, as the host does before the first Configure.
func loaded(tb testing.TB) *Plugin {
	tb.Helper()
	p := New()
	p.now = func() time.Time { return fixedNow }
	if err := p.LoadState(context.Background(), "bank-a", nil); err != nil {
		tb.Fatal(err)
	}
	return p
}

// MustConfigure returns a plugin with instance "bank-a" configured from
// cfg, and checks its ledger invariants when the test ends.
func MustConfigure(tb testing.TB, cfg map[string]any) (*Plugin, string) {
	tb.Helper()
	p := loaded(tb)
	dir := tb.TempDir()
	res, err := p.Configure(context.Background(), configureReq(tb, "bank-a", dir, cfg))
	if err != nil {
		tb.Fatal(err)
	}
	if sdk.HasErrors(res.GetDiagnostics()) {
		tb.Fatalf("diagnostics: %v", res.GetDiagnostics())
	}
	if len(res.GetStateWrites()) == 0 {
		tb.Fatal("Configure returned no records of the accounts it created")
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

func TestGetInfo(t *testing.T) {
	info, err := New().GetInfo(context.Background(), &pb.GetInfoRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if info.GetName() != "card" || !slices.Equal(info.GetKinds(), []pb.Kind{pb.Kind_KIND_PAYMENT_METHOD}) ||
		!slices.Equal(info.GetMethods(), []pb.Method{pb.Method_METHOD_CARD}) || !slices.Contains(info.GetCapabilities(), sdk.CapReverse) || !slices.Contains(info.GetCapabilities(), sdk.CapHostState) ||
		!slices.Equal(info.GetProtocolVersions(), []uint32{1}) {
		t.Fatalf("info = %v", info)
	}
	sensitive := map[string]bool{}
	var walk func(prefix string, s *pb.Schema)
	walk = func(prefix string, s *pb.Schema) {
		for _, a := range s.GetAttributes() {
			sensitive[prefix+a.GetName()] = a.GetSensitive()
		}
		for _, b := range s.GetBlocks() {
			walk(prefix+b.GetName()+".", b.GetBody())
		}
	}
	walk("", info.GetConfigSchema())
	want := map[string]bool{"token_key": true, "card.pan": true, "card.expiry": false, "card.holder": false, "card.credit_limit": false, "card.currency": false, "merchant_account.currency": false}
	for k, v := range want {
		got, ok := sensitive[k]
		if !ok || got != v {
			t.Errorf("schema %s: present %v sensitive %v, want sensitive %v", k, ok, got, v)
		}
	}
	if len(sensitive) != len(want) {
		t.Errorf("schema has %v, want %v", sensitive, want)
	}
}

func TestConfigureDiagnostics(t *testing.T) {
	tests := []struct {
		name     string
		edit     func(cfg map[string]any)
		wantPath []string
		wantSev  pb.Severity
	}{
		{name: "bad key", edit: func(c map[string]any) { c["token_key"] = "nope" }, wantPath: []string{"token_key"}, wantSev: pb.Severity_SEVERITY_ERROR},
		{name: "short key", edit: func(c map[string]any) { c["token_key"] = "00112233" }, wantPath: []string{"token_key"}, wantSev: pb.Severity_SEVERITY_ERROR},
		{name: "luhn", edit: func(c map[string]any) { firstCard(c)["pan"] = "4111111111111112" }, wantPath: []string{"card", "alice-visa", "pan"}, wantSev: pb.Severity_SEVERITY_ERROR},
		{name: "not digits", edit: func(c map[string]any) { firstCard(c)["pan"] = "4111 1111 1111 1111" }, wantPath: []string{"card", "alice-visa", "pan"}, wantSev: pb.Severity_SEVERITY_ERROR},
		{name: "bin elsewhere", edit: func(c map[string]any) { firstCard(c)["pan"] = "5555555555554444" }, wantPath: []string{"card", "alice-visa", "pan"}, wantSev: pb.Severity_SEVERITY_ERROR},
		{name: "expiry form", edit: func(c map[string]any) { firstCard(c)["expiry"] = "2029-12" }, wantPath: []string{"card", "alice-visa", "expiry"}, wantSev: pb.Severity_SEVERITY_ERROR},
		{name: "expired", edit: func(c map[string]any) { firstCard(c)["expiry"] = "01/20" }, wantPath: []string{"card", "alice-visa", "expiry"}, wantSev: pb.Severity_SEVERITY_WARNING},
		{name: "no holder", edit: func(c map[string]any) { firstCard(c)["holder"] = "" }, wantPath: []string{"card", "alice-visa", "holder"}, wantSev: pb.Severity_SEVERITY_ERROR},
		{name: "negative limit", edit: func(c map[string]any) { firstCard(c)["credit_limit"] = -1 }, wantPath: []string{"card", "alice-visa", "credit_limit"}, wantSev: pb.Severity_SEVERITY_ERROR},
		{name: "currency", edit: func(c map[string]any) { firstCard(c)["currency"] = "euro" }, wantPath: []string{"card", "alice-visa", "currency"}, wantSev: pb.Severity_SEVERITY_ERROR},
		{name: "duplicate pan", edit: func(c map[string]any) {
			c["card"] = append(c["card"].([]any), map[string]any{"label": "again", "pan": alicePAN, "expiry": "12/29", "holder": "x", "credit_limit": 1, "currency": "EUR"})
		}, wantPath: []string{"card", "again", "pan"}, wantSev: pb.Severity_SEVERITY_ERROR},
		{name: "merchant currency", edit: func(c map[string]any) {
			c["merchant_account"].([]any)[0].(map[string]any)["currency"] = ""
		}, wantPath: []string{"merchant_account", "shop-1", "currency"}, wantSev: pb.Severity_SEVERITY_ERROR},
		{name: "pan typed as a number", edit: func(c map[string]any) { firstCard(c)["credit_limit"] = json.Number(alicePAN + ".5") }, wantPath: nil, wantSev: pb.Severity_SEVERITY_ERROR},
		{name: "unknown attribute", edit: func(c map[string]any) { c["colour"] = "blue" }, wantPath: nil, wantSev: pb.Severity_SEVERITY_ERROR},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := issuerConfig()
			tt.edit(cfg)
			p := loaded(t)
			dir := t.TempDir()
			res, err := p.Configure(context.Background(), configureReq(t, "bank-a", dir, cfg))
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			var found *pb.Diagnostic
			for _, d := range res.GetDiagnostics() {
				if slices.Equal(d.GetPath(), tt.wantPath) {
					found = d
				}
				if strings.Contains(d.String(), alicePAN) || strings.Contains(d.String(), testKey) {
					t.Errorf("diagnostic leaks a secret: %v", d)
				}
			}
			if found == nil || found.GetSeverity() != tt.wantSev {
				t.Fatalf("want %s at %v, got %v", tt.wantSev, tt.wantPath, res.GetDiagnostics())
			}
			_, herr := p.Health(context.Background(), &pb.HealthRequest{InstanceId: "bank-a"})
			if herr != nil {
				t.Fatal(herr)
			}
			configured := p.Check("bank-a") == nil
			if configured != (tt.wantSev == pb.Severity_SEVERITY_WARNING) {
				t.Errorf("configured = %v after %s", configured, tt.wantSev)
			}
			if tt.wantSev == pb.Severity_SEVERITY_ERROR {
				if len(res.GetStateWrites()) != 0 {
					t.Errorf("a rejected configuration wrote records: %v", res.GetStateWrites())
				}
			}
		})
	}
}

func firstCard(cfg map[string]any) map[string]any { return cfg["card"].([]any)[0].(map[string]any) }

func TestReconfigure(t *testing.T) {
	ctx := context.Background()
	p, dir := MustConfigure(t, issuerConfig())
	tok := resolve(t, p, alicePAN, 12, 2029).GetToken()
	debit(t, p, "pay-1", tok, 400)

	// A bad reload is refused and the old settings keep serving.
	bad := issuerConfig()
	bad["token_key"] = "zz"
	res, err := p.Configure(ctx, configureReq(t, "bank-a", dir, bad))
	if err != nil || !sdk.HasErrors(res.GetDiagnostics()) {
		t.Fatalf("bad reload: %v, %v", res, err)
	}
	if got := resolve(t, p, alicePAN, 12, 2029); got.GetToken() != tok {
		t.Fatalf("after a refused reload the card resolves to %v", got)
	}

	// A good reload replaces the settings and keeps live balances.
	good := issuerConfig()
	firstCard(good)["credit_limit"] = 5000
	good["merchant_account"] = append(good["merchant_account"].([]any), map[string]any{"account": "shop-2", "currency": "EUR"})
	res, err = p.Configure(ctx, configureReq(t, "bank-a", dir, good))
	if err != nil || sdk.HasErrors(res.GetDiagnostics()) {
		t.Fatalf("good reload: %v, %v", res, err)
	}
	b, err := p.Balances("bank-a")
	if err != nil {
		t.Fatal(err)
	}
	if a := b["card:"+tok]; a.Balance != -400 || a.Limit != 5000 {
		t.Fatalf("card account after reload = %+v", a)
	}
	if _, ok := b["merchant:shop-2"]; !ok {
		t.Fatal("new merchant account not created")
	}
}

func resolve(tb testing.TB, p *Plugin, pan string, month, year uint32) *pb.ResolveInstrumentResponse {
	tb.Helper()
	res, err := p.ResolveInstrument(context.Background(), &pb.ResolveInstrumentRequest{
		InstanceId: "bank-a", PaymentId: "pay-r",
		Instrument: &pb.ResolveInstrumentRequest_Card{Card: &pb.CardInstrument{Pan: pan, ExpiryMonth: month, ExpiryYear: year}},
	})
	if err != nil {
		tb.Fatal(err)
	}
	return res
}

func testOrder(paymentID string, amount int64) *pb.Order {
	return &pb.Order{PaymentId: paymentID, MerchantId: "m1", AcquirerId: "bank-a", IssuerId: "bank-a", AmountMinor: amount, Currency: "EUR", Method: pb.Method_METHOD_CARD, ExpiresAtUnix: fixedNow.Unix() + 600}
}

func debit(tb testing.TB, p *Plugin, paymentID, token string, amount int64) *pb.MoneyResult {
	tb.Helper()
	res, err := p.Debit(context.Background(), &pb.DebitRequest{InstanceId: "bank-a", Order: testOrder(paymentID, amount), Token: token})
	if err != nil {
		tb.Fatal(err)
	}
	return res
}

func TestResolveInstrument(t *testing.T) {
	cfg := issuerConfig()
	cfg["card"] = append(cfg["card"].([]any), map[string]any{"label": "bob-old", "pan": bobPAN, "expiry": "10/26", "holder": "bob", "credit_limit": 10, "currency": "EUR"})
	p, _ := MustConfigure(t, cfg)
	tests := []struct {
		name        string
		pan         string
		month, year uint32
		wantDecline string
	}{
		{name: "approved", pan: alicePAN, month: 12, year: 2029},
		{name: "luhn", pan: "4111111111111112", month: 12, year: 2029, wantDecline: sdk.DeclineInvalidCard},
		{name: "short", pan: "41111111", month: 12, year: 2029, wantDecline: sdk.DeclineInvalidCard},
		{name: "letters", pan: "4111a11111111111", month: 12, year: 2029, wantDecline: sdk.DeclineInvalidCard},
		{name: "month 13", pan: alicePAN, month: 13, year: 2029, wantDecline: sdk.DeclineInvalidCard},
		{name: "other issuer", pan: "5555555555554444", month: 12, year: 2029, wantDecline: sdk.DeclineNotIssuedHere},
		{name: "expired", pan: bobPAN, month: 10, year: 2026, wantDecline: sdk.DeclineCardExpired},
		{name: "wrong expiry", pan: alicePAN, month: 11, year: 2029, wantDecline: sdk.DeclineInvalidCard},
		{name: "unknown card in range", pan: withCheckDigit("411111000000000"), month: 12, year: 2029, wantDecline: sdk.DeclineInvalidCard},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := resolve(t, p, tt.pan, tt.month, tt.year)
			if strings.Contains(res.String(), tt.pan) {
				t.Errorf("response holds the card number: %v", res)
			}
			if tt.wantDecline != "" {
				if res.GetVerdict() != pb.Verdict_VERDICT_DECLINED || res.GetDeclineCode() != tt.wantDecline {
					t.Fatalf("got %v, want decline %s", res, tt.wantDecline)
				}
				return
			}
			want := &pb.ResolveInstrumentResponse{Verdict: pb.Verdict_VERDICT_APPROVED, Token: Tokenize(mustKey(t), alicePAN), Display: "VISA ···· 1111", Bin: "411111", Last4: "1111", PayerRef: "alice"}
			if res.String() != want.String() {
				t.Fatalf("got %v, want %v", res, want)
			}
		})
	}
	t.Run("account instrument", func(t *testing.T) {
		_, err := p.ResolveInstrument(context.Background(), &pb.ResolveInstrumentRequest{InstanceId: "bank-a", Instrument: &pb.ResolveInstrumentRequest_Account{Account: &pb.AccountInstrument{AccountNumber: "1"}}})
		if sdk.CodeOf(err) != sdk.CodeInvalidArgument {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("unconfigured instance", func(t *testing.T) {
		_, err := p.ResolveInstrument(context.Background(), &pb.ResolveInstrumentRequest{InstanceId: "bank-z"})
		if sdk.CodeOf(err) != sdk.CodeFailedPrecondition {
			t.Fatalf("err = %v", err)
		}
	})
}

func mustKey(tb testing.TB) []byte {
	k, err := DecodeKey(testKey)
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

func TestMoneyFlow(t *testing.T) {
	ctx := context.Background()
	p, dir := MustConfigure(t, issuerConfig())
	tok := resolve(t, p, alicePAN, 12, 2029).GetToken()

	d := debit(t, p, "pay-1", tok, 600)
	if d.GetState() != pb.OperationState_OPERATION_STATE_APPROVED || d.GetReference() == "" || d.GetAmountMinor() != 600 || d.GetCurrency() != "EUR" {
		t.Fatalf("debit = %v", d)
	}
	if again := debit(t, p, "pay-1", tok, 600); again.String() != d.String() {
		t.Fatalf("retried debit = %v, first %v", again, d)
	}
	if over := debit(t, p, "pay-2", tok, 401); over.GetState() != pb.OperationState_OPERATION_STATE_DECLINED || over.GetDeclineCode() != sdk.DeclineLimitExceeded {
		t.Fatalf("debit over the limit = %v", over)
	}
	if _, err := p.Debit(ctx, &pb.DebitRequest{InstanceId: "bank-a", Order: testOrder("pay-3", 1), Token: "ctok_unknown"}); sdk.CodeOf(err) != sdk.CodeNotFound {
		t.Fatalf("unknown token: %v", err)
	}
	if _, err := p.Debit(ctx, &pb.DebitRequest{InstanceId: "bank-a", Order: testOrder("pay-1", 999), Token: tok}); sdk.CodeOf(err) != sdk.CodeFailedPrecondition {
		t.Fatalf("retry with another amount: %v", err)
	}

	c, err := p.Credit(ctx, &pb.CreditRequest{InstanceId: "bank-a", Order: testOrder("pay-1", 600), PayeeAccount: "shop-1", DebitReference: d.GetReference()})
	if err != nil || c.GetState() != pb.OperationState_OPERATION_STATE_APPROVED {
		t.Fatalf("credit = %v, %v", c, err)
	}
	unknown, err := p.Credit(ctx, &pb.CreditRequest{InstanceId: "bank-a", Order: testOrder("pay-9", 5), PayeeAccount: "nobody"})
	if err != nil || unknown.GetState() != pb.OperationState_OPERATION_STATE_DECLINED || unknown.GetDeclineCode() != sdk.DeclineUnknownAccount {
		t.Fatalf("credit to unknown payee = %v, %v", unknown, err)
	}

	b, _ := p.Balances("bank-a")
	if b["card:"+tok].Balance != -600 || b["merchant:shop-1"].Balance != 600 || b[ledger.ClearingAccount("EUR")].Balance != 0 {
		t.Fatalf("balances = %+v", b)
	}

	for _, op := range []pb.Operation{pb.Operation_OPERATION_CREDIT, pb.Operation_OPERATION_DEBIT} {
		for range 2 {
			r, err := p.Reverse(ctx, &pb.ReverseRequest{InstanceId: "bank-a", PaymentId: "pay-1", Operation: op, Reason: "test"})
			if err != nil || r.GetState() != pb.OperationState_OPERATION_STATE_REVERSED {
				t.Fatalf("reverse %s = %v, %v", op, r, err)
			}
		}
	}
	b, _ = p.Balances("bank-a")
	if b["card:"+tok].Balance != 0 || b["merchant:shop-1"].Balance != 0 {
		t.Fatalf("balances after reversal = %+v", b)
	}
	st, err := p.GetOperationStatus(ctx, &pb.OperationStatusRequest{InstanceId: "bank-a", PaymentId: "pay-1", Operation: pb.Operation_OPERATION_DEBIT})
	if err != nil || st.GetState() != pb.OperationState_OPERATION_STATE_REVERSED {
		t.Fatalf("status = %v, %v", st, err)
	}
	none, err := p.Reverse(ctx, &pb.ReverseRequest{InstanceId: "bank-a", PaymentId: "never", Operation: pb.Operation_OPERATION_DEBIT})
	if err != nil || none.GetState() != pb.OperationState_OPERATION_STATE_NOT_FOUND {
		t.Fatalf("reverse of nothing = %v, %v", none, err)
	}
	if _, err := p.Reverse(ctx, &pb.ReverseRequest{InstanceId: "bank-a", PaymentId: "pay-1"}); sdk.CodeOf(err) != sdk.CodeInvalidArgument {
		t.Fatalf("reverse without operation: %v", err)
	}

	// The ledger's records (what the host stores) hold the token, never
	// the card number.
	if err := p.Check("bank-a"); err != nil {
		t.Fatal(err)
	}
	var db strings.Builder
	for _, r := range mustLedger(t, p).Records() {
		db.Write(r.GetKey())
		db.Write(r.GetValue())
	}
	if strings.Contains(db.String(), alicePAN) {
		t.Fatal("ledger records hold the card number")
	}
	if !strings.Contains(db.String(), tok) {
		t.Fatal("ledger records do not hold the token (is the scan looking at the right records?)")
	}
	if _, err := os.Stat(filepath.Join(dir, "ledger.db")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the plugin wrote a ledger file (stat: %v)", err)
	}
}

// mustLedger returns the ledger of instance "bank-a".
func mustLedger(tb testing.TB, p *Plugin) *ledger.Ledger {
	tb.Helper()
	in, err := p.insts.Get("bank-a")
	if err != nil {
		tb.Fatal(err)
	}
	return in.Ledger
}
