package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/switchd/switchd/internal/testbin"
	"github.com/switchd/switchd/plugins/internal/ledgerset/hosttest"
	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
	"github.com/switchd/switchd/plugins/sdk"
	"github.com/switchd/switchd/plugins/sdk/order"
)

// Ten-digit account numbers whose last digit is the Luhn check digit.
const (
	aliceAcct = "1234567897"
	shopAcct  = "9876543217"
)

func configure(tb testing.TB, h *hosttest.Host, c *sdk.Client, id, bankCode, dir string, accounts ...map[string]any) {
	tb.Helper()
	b, _ := json.Marshal(map[string]any{"token_key": "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", "account": accounts})
	h.Configure(tb, c, &pb.ConfigureRequest{
		InstanceId: id, Kind: pb.Kind_KIND_PAYMENT_METHOD, Method: pb.Method_METHOD_BANK_TRANSFER, ConfigJson: b, DataDir: dir,
		Institution: &pb.InstitutionInfo{Id: id, BankCode: bankCode},
	})
}

// TestPluginProcess runs the bank-transfer binary as a real subprocess for
// an issuer and an acquirer bank, the test playing the host that keeps
// their ledgers (hosttest): Configure → Resolve → Debit → Credit → Reverse,
// a restart that loads the committed records with a retried debit, and
// then checks both banks' records.
func TestPluginProcess(t *testing.T) {
	bin := testbin.MustBuild(t, "./plugins/banktransfer")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	issDir, acqDir := t.TempDir(), t.TempDir()
	alice := map[string]any{"number": aliceAcct, "holder": "alice", "balance": 1000, "currency": "EUR"}
	shop := map[string]any{"number": shopAcct, "holder": "shop-1", "currency": "EUR"}
	h := hosttest.New()
	setup := func() (*hosttest.Client, func()) {
		p := testbin.LaunchPlugin(t, bin)
		configure(t, h, p.Client, "bank-a", "0011", issDir, alice)
		configure(t, h, p.Client, "bank-b", "0022", acqDir, shop)
		return h.Client(p.Client), p.Kill
	}
	c, kill := setup()

	res, err := c.ResolveInstrument(ctx, &pb.ResolveInstrumentRequest{InstanceId: "bank-a", PaymentId: "pay-1",
		Instrument: &pb.ResolveInstrumentRequest_Account{Account: &pb.AccountInstrument{BankCode: "0011", AccountNumber: aliceAcct}}})
	if err != nil || res.GetVerdict() != pb.Verdict_VERDICT_APPROVED || res.GetPayerRef() != "alice" || res.GetLast4() != "7897" {
		t.Fatalf("resolve = %v, %v", res, err)
	}
	if _, err := c.ResolveInstrument(ctx, &pb.ResolveInstrumentRequest{InstanceId: "bank-a", PaymentId: "pay-1",
		Instrument: &pb.ResolveInstrumentRequest_Account{Account: &pb.AccountInstrument{BankCode: "0011", AccountNumber: "1234567890"}}}); sdk.CodeOf(err) != sdk.CodeInvalidArgument {
		t.Fatalf("bad check digit over the wire: %v", err)
	}

	mk := func(id string, amount int64) (*pb.Order, []byte) {
		o := &pb.Order{PaymentId: id, MerchantId: "shop-1", AcquirerId: "bank-b", IssuerId: "bank-a", AmountMinor: amount, Currency: "EUR", Method: pb.Method_METHOD_BANK_TRANSFER, ExpiresAtUnix: time.Now().Add(time.Hour).Unix()}
		d := order.Digest(o)
		return o, d[:]
	}
	o1, d1 := mk("pay-1", 600)
	debit, err := c.Debit(ctx, &pb.DebitRequest{InstanceId: "bank-a", Order: o1, OrderDigest: d1, Token: res.GetToken()})
	if err != nil || debit.GetState() != pb.OperationState_OPERATION_STATE_APPROVED {
		t.Fatalf("debit = %v, %v", debit, err)
	}
	credit, err := c.Credit(ctx, &pb.CreditRequest{InstanceId: "bank-b", Order: o1, OrderDigest: d1, PayeeAccount: shopAcct, DebitReference: debit.GetReference()})
	if err != nil || credit.GetState() != pb.OperationState_OPERATION_STATE_APPROVED {
		t.Fatalf("credit = %v, %v", credit, err)
	}
	o2, d2 := mk("pay-2", 500)
	short, err := c.Debit(ctx, &pb.DebitRequest{InstanceId: "bank-a", Order: o2, OrderDigest: d2, Token: res.GetToken()})
	if err != nil || short.GetState() != pb.OperationState_OPERATION_STATE_DECLINED || short.GetDeclineCode() != sdk.DeclineInsufficientFunds {
		t.Fatalf("debit beyond the balance = %v, %v", short, err)
	}
	o3, d3 := mk("pay-3", 100)
	if r, err := c.Debit(ctx, &pb.DebitRequest{InstanceId: "bank-a", Order: o3, OrderDigest: d3, Token: res.GetToken()}); err != nil || r.GetState() != pb.OperationState_OPERATION_STATE_APPROVED {
		t.Fatalf("debit 3 = %v, %v", r, err)
	}
	if r, err := c.Reverse(ctx, &pb.ReverseRequest{InstanceId: "bank-a", PaymentId: "pay-3", Operation: pb.Operation_OPERATION_DEBIT, Reason: "expired"}); err != nil || r.GetState() != pb.OperationState_OPERATION_STATE_REVERSED {
		t.Fatalf("reverse = %v, %v", r, err)
	}

	kill()
	c, kill = setup()
	again, err := c.Debit(ctx, &pb.DebitRequest{InstanceId: "bank-a", Order: o1, OrderDigest: d1, Token: res.GetToken()})
	if err != nil || !proto.Equal(again, debit) {
		t.Fatalf("retried debit after restart = %v, %v; first %v", again, err, debit)
	}
	againCredit, err := c.Credit(ctx, &pb.CreditRequest{InstanceId: "bank-b", Order: o1, OrderDigest: d1, PayeeAccount: shopAcct})
	if err != nil || !proto.Equal(againCredit, credit) {
		t.Fatalf("retried credit after restart = %v, %v; first %v", againCredit, err, credit)
	}
	kill()

	want := map[string]map[string]int64{
		"bank-a": {"acct:" + aliceAcct: 400, "clearing:EUR": 600, "seed:EUR": -1000},
		"bank-b": {"acct:" + shopAcct: 600, "clearing:EUR": -600},
	}
	var clearing int64
	for inst, accounts := range want {
		b := h.View(t, inst).Balances()
		for id, bal := range accounts {
			if b[id] != bal {
				t.Errorf("%s: %s = %d, want %d", inst, id, b[id], bal)
			}
		}
		clearing += b["clearing:EUR"]
	}
	if clearing != 0 {
		t.Errorf("clearing accounts across both banks sum to %d, want 0", clearing)
	}
	for _, dir := range []string{issDir, acqDir} {
		if _, err := os.Stat(filepath.Join(dir, "ledger.db")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("the plugin wrote a ledger file in %s (stat: %v)", dir, err)
		}
	}
}
