package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"

	"github.com/switchd/switchd/internal/testbin"
	"github.com/switchd/switchd/plugins/internal/ledgerset/hosttest"
	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
	"github.com/switchd/switchd/plugins/sdk"
	"github.com/switchd/switchd/plugins/sdk/order"
)

const (
	testPAN = "4111111111111111"
	testKey = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
)

func configure(tb testing.TB, h *hosttest.Host, c *sdk.Client, id, dir string, roles []string, cfg map[string]any) {
	tb.Helper()
	b, _ := json.Marshal(cfg)
	h.Configure(tb, c, &pb.ConfigureRequest{
		InstanceId: id, Kind: pb.Kind_KIND_PAYMENT_METHOD, Method: pb.Method_METHOD_CARD, ConfigJson: b, DataDir: dir,
		Institution: &pb.InstitutionInfo{Id: id, Roles: roles, BinRanges: []string{"411111-411111"}},
	})
}

var (
	issuerCfg = map[string]any{
		"token_key": testKey,
		"card":      []any{map[string]any{"label": "alice-visa", "pan": testPAN, "expiry": "12/39", "holder": "alice", "credit_limit": 1000, "currency": "EUR"}},
	}
	acquirerCfg = map[string]any{
		"token_key":        testKey,
		"merchant_account": []any{map[string]any{"account": "shop-1", "currency": "EUR"}},
	}
)

func testOrder(id string, amount int64) (*pb.Order, []byte) {
	o := &pb.Order{PaymentId: id, MerchantId: "shop", AcquirerId: "bank-b", IssuerId: "bank-a", AmountMinor: amount, Currency: "EUR", Method: pb.Method_METHOD_CARD, OrderRef: "o-1", ExpiresAtUnix: time.Now().Add(time.Hour).Unix()}
	d := order.Digest(o)
	return o, d[:]
}

// TestPluginProcess runs the card plugin binary as a real subprocess for an
// issuer and an acquirer, the test playing the host that keeps their
// ledgers (hosttest): Configure → Resolve → Debit → Credit → Reverse, then
// restarts the process, loads the committed records and retries, and
// finally scans every response, the plugin's stderr and both banks'
// records for the card number.
func TestPluginProcess(t *testing.T) {
	bin := testbin.MustBuild(t, "./plugins/card")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	issDir, acqDir := t.TempDir(), t.TempDir()
	var responses []proto.Message
	keep := func(m proto.Message, err error) proto.Message {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		responses = append(responses, m)
		return m
	}

	h := hosttest.New()
	p := testbin.LaunchPlugin(t, bin)
	c := h.Client(p.Client)
	info := keep(c.GetInfo(ctx, &pb.GetInfoRequest{})).(*pb.GetInfoResponse)
	if info.GetName() != "card" || info.GetConfigSchema() == nil {
		t.Fatalf("info = %v", info)
	}
	configure(t, h, c.Client, "bank-a", issDir, []string{"issuer"}, issuerCfg)
	configure(t, h, c.Client, "bank-b", acqDir, []string{"acquirer"}, acquirerCfg)

	res := keep(c.ResolveInstrument(ctx, &pb.ResolveInstrumentRequest{InstanceId: "bank-a", PaymentId: "pay-1",
		Instrument: &pb.ResolveInstrumentRequest_Card{Card: &pb.CardInstrument{Pan: testPAN, ExpiryMonth: 12, ExpiryYear: 2039}}})).(*pb.ResolveInstrumentResponse)
	if res.GetVerdict() != pb.Verdict_VERDICT_APPROVED || res.GetPayerRef() != "alice" || res.GetLast4() != "1111" || res.GetBin() != "411111" {
		t.Fatalf("resolve = %v", res)
	}
	bad := keep(c.ResolveInstrument(ctx, &pb.ResolveInstrumentRequest{InstanceId: "bank-a", PaymentId: "pay-1",
		Instrument: &pb.ResolveInstrumentRequest_Card{Card: &pb.CardInstrument{Pan: testPAN, ExpiryMonth: 1, ExpiryYear: 2020}}})).(*pb.ResolveInstrumentResponse)
	if bad.GetDeclineCode() != sdk.DeclineCardExpired {
		t.Fatalf("expired card = %v", bad)
	}

	o1, d1 := testOrder("pay-1", 700)
	debit := keep(c.Debit(ctx, &pb.DebitRequest{InstanceId: "bank-a", Order: o1, OrderDigest: d1, Token: res.GetToken()})).(*pb.MoneyResult)
	if debit.GetState() != pb.OperationState_OPERATION_STATE_APPROVED {
		t.Fatalf("debit = %v", debit)
	}
	credit := keep(c.Credit(ctx, &pb.CreditRequest{InstanceId: "bank-b", Order: o1, OrderDigest: d1, PayeeAccount: "shop-1", DebitReference: debit.GetReference()})).(*pb.MoneyResult)
	if credit.GetState() != pb.OperationState_OPERATION_STATE_APPROVED {
		t.Fatalf("credit = %v", credit)
	}
	// A second payment whose credit "fails" at the host: its debit is reversed.
	o2, d2 := testOrder("pay-2", 200)
	if r := keep(c.Debit(ctx, &pb.DebitRequest{InstanceId: "bank-a", Order: o2, OrderDigest: d2, Token: res.GetToken()})).(*pb.MoneyResult); r.GetState() != pb.OperationState_OPERATION_STATE_APPROVED {
		t.Fatalf("debit 2 = %v", r)
	}
	rev := keep(c.Reverse(ctx, &pb.ReverseRequest{InstanceId: "bank-a", PaymentId: "pay-2", Operation: pb.Operation_OPERATION_DEBIT, Reason: "acquirer_refused"})).(*pb.MoneyResult)
	if rev.GetState() != pb.OperationState_OPERATION_STATE_REVERSED {
		t.Fatalf("reverse = %v", rev)
	}
	// A tampered digest is refused by the SDK before the plugin sees it.
	if _, err := c.Debit(ctx, &pb.DebitRequest{InstanceId: "bank-a", Order: o2, OrderDigest: d1, Token: res.GetToken()}); sdk.CodeOf(err) != sdk.CodeInvalidArgument {
		t.Fatalf("tampered digest: %v", err)
	}

	// Crash and restart: the retried debit returns the first result and
	// moves nothing.
	c = h.Client(p.Restart())
	configure(t, h, c.Client, "bank-a", issDir, []string{"issuer"}, issuerCfg)
	configure(t, h, c.Client, "bank-b", acqDir, []string{"acquirer"}, acquirerCfg)
	again := keep(c.Debit(ctx, &pb.DebitRequest{InstanceId: "bank-a", Order: o1, OrderDigest: d1, Token: res.GetToken()})).(*pb.MoneyResult)
	if !proto.Equal(again, debit) {
		t.Fatalf("retried debit after restart = %v, first %v", again, debit)
	}
	st := keep(c.GetOperationStatus(ctx, &pb.OperationStatusRequest{InstanceId: "bank-a", PaymentId: "pay-2", Operation: pb.Operation_OPERATION_DEBIT})).(*pb.MoneyResult)
	if st.GetState() != pb.OperationState_OPERATION_STATE_REVERSED {
		t.Fatalf("status after restart = %v", st)
	}
	// 700 of the 1000 limit is used: 301 more must be declined, 300 approved.
	o3, d3 := testOrder("pay-3", 301)
	if r := keep(c.Debit(ctx, &pb.DebitRequest{InstanceId: "bank-a", Order: o3, OrderDigest: d3, Token: res.GetToken()})).(*pb.MoneyResult); r.GetDeclineCode() != sdk.DeclineLimitExceeded {
		t.Fatalf("debit over limit = %v", r)
	}
	p.Kill()

	// The books balance across both ledgers, and the money moved once.
	tok := res.GetToken()
	want := map[string]map[string]int64{
		"bank-a": {"card:" + tok: -700, "clearing:EUR": 700},
		"bank-b": {"merchant:shop-1": 700, "clearing:EUR": -700},
	}
	for inst, accounts := range want {
		b := h.View(t, inst).Balances()
		for id, bal := range accounts {
			if b[id] != bal {
				t.Errorf("%s: %s = %d, want %d", inst, id, b[id], bal)
			}
		}
		var raw []byte
		for _, r := range h.Records(inst) {
			raw = append(append(raw, r.GetKey()...), r.GetValue()...)
		}
		if n := bytes.Count(raw, []byte(testPAN)); n != 0 {
			t.Errorf("%s's records hold the card number %d times", inst, n)
		}
		if inst == "bank-a" && !bytes.Contains(raw, []byte(tok)) {
			t.Errorf("%s's records do not hold the token (is the scan looking at the right records?)", inst)
		}
	}
	for _, dir := range []string{issDir, acqDir} {
		if _, err := os.Stat(filepath.Join(dir, "ledger.db")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("the plugin wrote a ledger file in %s (stat: %v)", dir, err)
		}
	}

	// No response and no log line holds the card number.
	for _, m := range responses {
		if s := prototext.Format(m); strings.Contains(s, testPAN) {
			t.Errorf("response holds the card number: %s", s)
		}
	}
	logs := p.Logs.String()
	if !strings.Contains(logs, "configured") {
		t.Fatalf("stderr capture is empty or wrong: %q", logs)
	}
	if n := strings.Count(logs, testPAN); n != 0 {
		t.Errorf("plugin stderr holds the card number %d times", n)
	}
	if strings.Contains(logs, testKey) {
		t.Error("plugin stderr holds the token key")
	}
}
