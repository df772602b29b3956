package ledgerset

import (
	"context"
	"testing"

	"github.com/switchd/switchd/plugins/internal/ledger"
	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
	"github.com/switchd/switchd/plugins/sdk"
)

// TestDebitCredit runs the shared money calls of the card and banktransfer
// plugins against a ledger the host loaded, checking that each answer carries its records: a debit within the balance and
// limit, one past them (declined with the plugin's code), a credit to a
// known payee, an unknown instrument (NotFound, except for the retry of a
// debit it made) and an unknown payee (declined unknown_account, except for
// the retry of a credit made), and orders without a payment id or amount.
func TestDebitCredit(t *testing.T) {
	ctx := context.Background()
	s := New[string]()
	t.Cleanup(func() { _ = s.Close() })
	open := []ledger.Opening{{ID: "acct:payer", Currency: "EUR", Limit: 100, Balance: 50}, {ID: "acct:shop", Currency: "EUR"}}
	if err := s.LoadState(ctx, "a", nil); err != nil {
		t.Fatal(err)
	}
	if _, d, err := s.Configure(ctx, "a", "x", open, "demo"); d != nil || err != nil {
		t.Fatalf("Configure: %v %v", d, err)
	}
	in, err := s.Get("a")
	if err != nil {
		t.Fatal(err)
	}
	order := func(id string, amount int64) *pb.Order {
		return &pb.Order{PaymentId: id, AmountMinor: amount, Currency: "EUR"}
	}
	const short, notFound = "limit_exceeded", "token: unknown"
	approved, declined := pb.OperationState_OPERATION_STATE_APPROVED, pb.OperationState_OPERATION_STATE_DECLINED

	for _, c := range []struct {
		name    string
		call    func() (*pb.MoneyResult, error)
		state   pb.OperationState
		decline string
		wantErr bool
		code    sdk.Code // of the expected error
		record  string   // the payment and operation whose record comes first
	}{
		{"debit within balance and limit", func() (*pb.MoneyResult, error) {
			return Debit(ctx, in.Books, order("p1", 120), "acct:payer", true, short, notFound)
		}, approved, "", false, 0, "p1\x00debit"},
		{"debit past the limit", func() (*pb.MoneyResult, error) {
			return Debit(ctx, in.Books, order("p2", 100), "acct:payer", true, short, notFound)
		}, declined, short, false, 0, "p2\x00debit"},
		{"credit to a known payee", func() (*pb.MoneyResult, error) {
			return Credit(ctx, in.Books, order("p1", 120), "acct:shop", true)
		}, approved, "", false, 0, "p1\x00credit"},
		{"retry of a debit after its instrument was removed", func() (*pb.MoneyResult, error) {
			return Debit(ctx, in.Books, order("p1", 120), "", false, short, notFound)
		}, approved, "", false, 0, "p1\x00debit"},
		{"unknown instrument", func() (*pb.MoneyResult, error) {
			return Debit(ctx, in.Books, order("p3", 10), "", false, short, notFound)
		}, 0, "", true, sdk.CodeNotFound, ""},
		{"retry of a credit after its payee was removed", func() (*pb.MoneyResult, error) {
			return Credit(ctx, in.Books, order("p1", 120), "", false)
		}, approved, "", false, 0, "p1\x00credit"},
		{"unknown payee", func() (*pb.MoneyResult, error) {
			return Credit(ctx, in.Books, order("p3", 10), "", false)
		}, declined, sdk.DeclineUnknownAccount, false, 0, ""},
		{"debit without payment id", func() (*pb.MoneyResult, error) {
			return Debit(ctx, in.Books, order("", 10), "acct:payer", true, short, notFound)
		}, 0, "", true, sdk.CodeInvalidArgument, ""},
		{"credit of a zero amount", func() (*pb.MoneyResult, error) {
			return Credit(ctx, in.Books, order("p4", 0), "acct:shop", true)
		}, 0, "", true, sdk.CodeInvalidArgument, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			r, err := c.call()
			if c.wantErr {
				if err == nil || sdk.CodeOf(err) != c.code {
					t.Fatalf("got %v %v, want a %s error", r, err, c.code)
				}
				return
			}
			if err != nil || r.GetState() != c.state || r.GetDeclineCode() != c.decline {
				t.Fatalf("got %v %v, want %s %q", r, err, c.state, c.decline)
			}
			// Every answer the ledger gave carries the operation's record
			// first; the unknown payee's decline is not the ledger's.
			ws := r.GetStateWrites()
			if (c.record == "") != (len(ws) == 0) || len(ws) > 0 && string(ws[0].GetKey()) != "o/"+c.record {
				t.Fatalf("state_writes %v, want the record of %q first", ws, c.record)
			}
		})
	}
	bal, err := s.Balances("a")
	if err != nil {
		t.Fatal(err)
	}
	if got := bal["acct:payer"].Balance; got != 50-120 {
		t.Errorf("payer balance %d, want -70: one debit of 120", got)
	}
	if got := bal["acct:shop"].Balance; got != 120 {
		t.Errorf("shop balance %d, want 120: one credit", got)
	}
	if err := s.Check("a"); err != nil {
		t.Errorf("ledger check: %v", err)
	}
}
