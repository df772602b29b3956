package plugintest

import (
	"context"
	"strings"
	"sync"

	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"

	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
	"github.com/switchd/switchd/plugins/sdk"
)

const (
	opDebit  = pb.Operation_OPERATION_DEBIT
	opCredit = pb.Operation_OPERATION_CREDIT

	stApproved = pb.OperationState_OPERATION_STATE_APPROVED
	stReversed = pb.OperationState_OPERATION_STATE_REVERSED
	stNotFound = pb.OperationState_OPERATION_STATE_NOT_FOUND
)

func (e *env) checkMethod(t tb) {
	if e.s.Instrument == nil {
		t.Logf("no Suite.Instrument: payment method checks skipped")
		return
	}
	t.Run("resolve", e.checkResolve)
	t.Run("debit_idempotent", e.checkDebitIdempotent)
	t.Run("debit_concurrent", e.checkDebitConcurrent)
	t.Run("debit_bad_digest", e.checkDebitBadDigest)
	t.Run("reverse_idempotent", e.checkReverseIdempotent)
	t.Run("unknown_payment", e.checkUnknownPayment)
	if e.s.PayeeAccount == "" {
		t.Logf("no Suite.PayeeAccount: Credit checks skipped")
		return
	}
	t.Run("credit_idempotent", e.checkCreditIdempotent)
}

// resolve returns the token of the suite's instrument at instance inst.
func (e *env) resolve(t tb, inst, paymentID string) string {
	t.Helper()
	req := proto.Clone(e.s.Instrument).(*pb.ResolveInstrumentRequest)
	req.InstanceId, req.PaymentId = inst, paymentID
	ctx, cancel := callCtx()
	defer cancel()
	res, err := e.c.ResolveInstrument(ctx, req)
	if err != nil {
		t.Fatalf("ResolveInstrument: %v", err)
	}
	if res.GetVerdict() != pb.Verdict_VERDICT_APPROVED || res.GetToken() == "" {
		t.Fatalf("ResolveInstrument of Suite.Instrument: verdict %v (%s), token %q; want APPROVED with a token", res.GetVerdict(), res.GetDeclineCode(), res.GetToken())
	}
	return res.GetToken()
}

func (e *env) checkResolve(t tb) {
	req := proto.Clone(e.s.Instrument).(*pb.ResolveInstrumentRequest)
	req.InstanceId, req.PaymentId = e.inst, e.newOrder("resolve").PaymentId
	ctx, cancel := callCtx()
	defer cancel()
	res, err := e.c.ResolveInstrument(ctx, req)
	if err != nil {
		t.Fatalf("ResolveInstrument: %v", err)
	}
	if res.GetVerdict() != pb.Verdict_VERDICT_APPROVED || res.GetToken() == "" {
		t.Fatalf("verdict %v (%s), token %q; want APPROVED with a token", res.GetVerdict(), res.GetDeclineCode(), res.GetToken())
	}
	secret := req.GetCard().GetPan()
	if secret == "" {
		secret = req.GetAccount().GetAccountNumber()
	}
	if pan := req.GetCard().GetPan(); pan != "" {
		if strings.Contains(prototext.Format(res), pan) || strings.Contains(res.GetToken(), pan) {
			t.Errorf("the response carries the full card number")
		}
		if len(pan) >= 4 && res.GetLast4() != pan[len(pan)-4:] {
			t.Errorf("last4 %q does not match the card", res.GetLast4())
		}
		if res.GetBin() != "" && !strings.HasPrefix(pan, res.GetBin()) {
			t.Errorf("bin %q is not a prefix of the card", res.GetBin())
		}
	}
	if secret != "" && strings.Contains(res.GetToken(), secret) {
		t.Errorf("the token contains the instrument number; it must be an opaque keyed hash")
	}
}

func (e *env) debit(ctx context.Context, o *pb.Order, token string) (*pb.MoneyResult, error) {
	return e.c.Debit(ctx, &pb.DebitRequest{InstanceId: e.inst, Order: o, OrderDigest: digest(o), Token: token})
}

func (e *env) status(t tb, paymentID string, op pb.Operation) *pb.MoneyResult {
	t.Helper()
	ctx, cancel := callCtx()
	defer cancel()
	res, err := e.c.GetOperationStatus(ctx, &pb.OperationStatusRequest{InstanceId: e.inst, PaymentId: paymentID, Operation: op})
	if err != nil {
		if sdk.CodeOf(err) == sdk.CodeNotFound {
			return &pb.MoneyResult{State: stNotFound}
		}
		t.Fatalf("GetOperationStatus(%s, %v): %v", paymentID, op, err)
	}
	return res
}

func (e *env) reverse(t tb, paymentID string, op pb.Operation) *pb.MoneyResult {
	t.Helper()
	ctx, cancel := callCtx()
	defer cancel()
	res, err := e.c.Reverse(ctx, &pb.ReverseRequest{InstanceId: e.inst, PaymentId: paymentID, Operation: op, Reason: "plugintest"})
	if err != nil {
		t.Fatalf("Reverse(%s, %v): %v", paymentID, op, err)
	}
	return res
}

// balance returns the balance Debit or Credit moves, and whether the suite
// can tell.
func (e *env) balance(t tb, op pb.Operation) (int64, bool) {
	t.Helper()
	if e.s.Balance == nil {
		return 0, false
	}
	b, err := e.s.Balance(e.dataDir[pb.Kind_KIND_PAYMENT_METHOD], op)
	if err != nil {
		t.Fatalf("Suite.Balance: %v", err)
	}
	return b, true
}

// checkMoved fails unless the balance moved by want since before.
func (e *env) checkMoved(t tb, op pb.Operation, before, want int64, what string) {
	t.Helper()
	if after, ok := e.balance(t, op); ok && after-before != want {
		t.Errorf("%s moved the balance by %d, want %d", what, after-before, want)
	}
}

// sameResult fails unless a and b describe the same operation outcome.
func sameResult(t tb, what string, a, b *pb.MoneyResult) {
	t.Helper()
	if a.GetState() != b.GetState() || a.GetReference() != b.GetReference() || a.GetAmountMinor() != b.GetAmountMinor() ||
		a.GetCurrency() != b.GetCurrency() || a.GetDeclineCode() != b.GetDeclineCode() {
		t.Errorf("%s: results differ:\n first %v\n then  %v", what, a, b)
	}
}

// mustApprove fails the test unless the suite's order was paid.
func mustApprove(t tb, what string, o *pb.Order, r *pb.MoneyResult) {
	t.Helper()
	if r.GetState() != stApproved {
		t.Fatalf("%s: state %v (%s); Suite.Instrument and Suite.Order must be payable", what, r.GetState(), r.GetDeclineCode())
	}
	if r.GetAmountMinor() != o.GetAmountMinor() || r.GetCurrency() != o.GetCurrency() {
		t.Errorf("%s: moved %d %s, order is %d %s", what, r.GetAmountMinor(), r.GetCurrency(), o.GetAmountMinor(), o.GetCurrency())
	}
}

func (e *env) checkDebitIdempotent(t tb) {
	o := e.newOrder("debit")
	tok := e.resolve(t, e.inst, o.PaymentId)
	before, _ := e.balance(t, opDebit)
	ctx, cancel := callCtx()
	defer cancel()
	first, err := e.debit(ctx, o, tok)
	if err != nil {
		t.Fatalf("Debit: %v", err)
	}
	mustApprove(t, "Debit", o, first)
	if first.GetReference() == "" {
		t.Errorf("an approved Debit has no reference")
	}
	if a := first.GetAttestation(); a != nil {
		e.verifyAttestation(t, a, "D", digest(o))
	}
	again, err := e.debit(ctx, o, tok)
	if err != nil {
		t.Fatalf("second Debit with the same payment id: %v", err)
	}
	sameResult(t, "Debit repeated with the same payment id", first, again)
	sameResult(t, "GetOperationStatus after Debit", first, e.status(t, o.PaymentId, opDebit))
	e.checkMoved(t, opDebit, before, -o.AmountMinor, "two Debits of one payment")
	if st := e.status(t, o.PaymentId, opCredit).GetState(); st != stNotFound {
		t.Errorf("GetOperationStatus(CREDIT) of a payment that was only debited: %v, want NOT_FOUND", st)
	}
}

func (e *env) checkDebitConcurrent(t tb) {
	const n = 8
	o := e.newOrder("debitconc")
	tok := e.resolve(t, e.inst, o.PaymentId)
	before, _ := e.balance(t, opDebit)
	ctx, cancel := callCtx()
	defer cancel()
	results := make([]*pb.MoneyResult, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { results[i], errs[i] = e.debit(ctx, o, tok) })
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("concurrent Debit %d: %v", i, errs[i])
		}
	}
	mustApprove(t, "concurrent Debit", o, results[0])
	for i := 1; i < n; i++ {
		sameResult(t, "concurrent Debits with the same payment id", results[0], results[i])
	}
	sameResult(t, "GetOperationStatus after concurrent Debits", results[0], e.status(t, o.PaymentId, opDebit))
	e.checkMoved(t, opDebit, before, -o.AmountMinor, "concurrent Debits of one payment")
}

func (e *env) checkDebitBadDigest(t tb) {
	o := e.newOrder("baddigest")
	tok := e.resolve(t, e.inst, o.PaymentId)
	other := proto.Clone(o).(*pb.Order)
	other.AmountMinor++
	before, _ := e.balance(t, opDebit)
	ctx, cancel := callCtx()
	defer cancel()
	_, err := e.c.Debit(ctx, &pb.DebitRequest{InstanceId: e.inst, Order: o, OrderDigest: digest(other), Token: tok})
	if sdk.CodeOf(err) != sdk.CodeInvalidArgument {
		t.Errorf("Debit with another order's digest: %v, want invalid_argument", err)
	}
	if st := e.status(t, o.PaymentId, opDebit).GetState(); st != stNotFound {
		t.Errorf("after a refused Debit the status is %v, want NOT_FOUND", st)
	}
	e.checkMoved(t, opDebit, before, 0, "a Debit with a bad digest")
}

func (e *env) checkReverseIdempotent(t tb) {
	o := e.newOrder("reverse")
	tok := e.resolve(t, e.inst, o.PaymentId)
	before, _ := e.balance(t, opDebit)
	ctx, cancel := callCtx()
	defer cancel()
	d, err := e.debit(ctx, o, tok)
	if err != nil {
		t.Fatalf("Debit: %v", err)
	}
	mustApprove(t, "Debit", o, d)
	first := e.reverse(t, o.PaymentId, opDebit)
	if first.GetState() != stReversed {
		t.Fatalf("Reverse of an approved Debit: state %v, want REVERSED", first.GetState())
	}
	again := e.reverse(t, o.PaymentId, opDebit)
	sameResult(t, "Reverse repeated", first, again)
	sameResult(t, "GetOperationStatus after Reverse", first, e.status(t, o.PaymentId, opDebit))
	e.checkMoved(t, opDebit, before, 0, "a Debit reversed twice")
}

func (e *env) checkUnknownPayment(t tb) {
	o := e.newOrder("unknown")
	before, _ := e.balance(t, opDebit)
	for _, op := range []pb.Operation{opDebit, opCredit} {
		if st := e.status(t, o.PaymentId, op).GetState(); st != stNotFound {
			t.Errorf("GetOperationStatus(%v) of an unknown payment: %v, want NOT_FOUND", op, st)
		}
		if st := e.reverse(t, o.PaymentId, op).GetState(); st != stNotFound {
			t.Errorf("Reverse(%v) of an unknown payment: %v, want NOT_FOUND", op, st)
		}
	}
	e.checkMoved(t, opDebit, before, 0, "Reverse of an unknown payment")
}

func (e *env) checkCreditIdempotent(t tb) {
	o := e.newOrder("credit")
	before, _ := e.balance(t, opCredit)
	ctx, cancel := callCtx()
	defer cancel()
	req := &pb.CreditRequest{InstanceId: e.inst, Order: o, OrderDigest: digest(o), PayeeAccount: e.s.PayeeAccount, DebitReference: "plugintest-debit"}
	first, err := e.c.Credit(ctx, req)
	if err != nil {
		t.Fatalf("Credit: %v", err)
	}
	mustApprove(t, "Credit", o, first)
	again, err := e.c.Credit(ctx, req)
	if err != nil {
		t.Fatalf("second Credit: %v", err)
	}
	sameResult(t, "Credit repeated with the same payment id", first, again)
	sameResult(t, "GetOperationStatus after Credit", first, e.status(t, o.PaymentId, opCredit))
	e.checkMoved(t, opCredit, before, o.AmountMinor, "two Credits of one payment")
	r1 := e.reverse(t, o.PaymentId, opCredit)
	if r1.GetState() != stReversed {
		t.Fatalf("Reverse of an approved Credit: state %v, want REVERSED", r1.GetState())
	}
	sameResult(t, "Reverse of a Credit repeated", r1, e.reverse(t, o.PaymentId, opCredit))
	e.checkMoved(t, opCredit, before, 0, "a Credit reversed twice")
}
