package plugintest

import (
	"context"
	"time"

	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
	"github.com/switchd/switchd/plugins/sdk"
)

// promptly is the generous bound within which a call whose deadline ended
// must return, and within which an in-process plugin's handler must
// return after the caller's deadline.
const promptly = 5 * time.Second

// cutShort reports whether err is how a call cut by its deadline may end.
func cutShort(err error) bool {
	c := sdk.CodeOf(err)
	return c == sdk.CodeDeadlineExceeded || c == sdk.CodeUnavailable
}

func (e *env) checkDeadline(t tb) {
	t.Run("expired", e.checkExpired)
	if e.hasKind[pb.Kind_KIND_PAYMENT_METHOD] && e.s.Instrument != nil {
		t.Run("debit_cut_short", e.checkDebitCutShort)
	}
	if e.s.SlowConfig == nil {
		t.Logf("no Suite.SlowConfig: the check that a slow call stops at its deadline is skipped")
		return
	}
	t.Run("slow", e.checkSlow)
}

// checkExpired sends each kind's call with a deadline that has passed.
func (e *env) checkExpired(t tb) {
	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	o := e.newOrder("expired")
	start := time.Now()
	var err error
	if e.hasKind[pb.Kind_KIND_PAYMENT_METHOD] {
		_, err = e.c.Debit(ctx, &pb.DebitRequest{InstanceId: e.inst, Order: o, OrderDigest: digest(o), Token: "plugintest"})
	} else {
		_, err = e.c.FinishMutualAuth(ctx, &pb.FinishMutualAuthRequest{InstanceId: e.inst, Order: o, OrderDigest: digest(o), PayerRef: e.s.PayerRef})
	}
	if !cutShort(err) {
		t.Errorf("a call with an expired deadline: %v, want deadline_exceeded or unavailable", err)
	}
	if d := time.Since(start); d > promptly {
		t.Errorf("a call with an expired deadline took %v", d)
	}
	if e.hasKind[pb.Kind_KIND_PAYMENT_METHOD] {
		if st := e.status(t, o.PaymentId, opDebit).GetState(); st != stNotFound {
			t.Errorf("a Debit sent after its deadline left state %v, want NOT_FOUND", st)
		}
	}
}

// checkDebitCutShort sends a Debit with a deadline that may end while it
// runs, then retries it: whatever happened, the retry, the status and the
// balance must agree on exactly one movement.
func (e *env) checkDebitCutShort(t tb) {
	o := e.newOrder("cutshort")
	tok := e.resolve(t, e.inst, o.PaymentId)
	before, _ := e.balance(t, opDebit)
	ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	start := time.Now()
	first, err := e.debit(ctx, o, tok)
	cancel()
	if d := time.Since(start); d > promptly {
		t.Errorf("a Debit with a 1ms deadline took %v", d)
	}
	if err != nil && !cutShort(err) {
		t.Fatalf("a Debit with a 1ms deadline: %v, want success, deadline_exceeded or unavailable", err)
	}
	ctx, cancel = callCtx()
	defer cancel()
	retry, err := e.debit(ctx, o, tok)
	if err != nil {
		t.Fatalf("retrying a Debit cut short: %v", err)
	}
	mustApprove(t, "retried Debit", o, retry)
	if first != nil {
		sameResult(t, "Debit and its retry", first, retry)
	}
	sameResult(t, "GetOperationStatus after a retried Debit", retry, e.status(t, o.PaymentId, opDebit))
	e.checkMoved(t, opDebit, before, -o.AmountMinor, "a Debit cut short and retried")
}

// checkSlow configures a slow instance and checks that its slow call ends
// at the caller's deadline, for the caller and, in process, in the plugin.
func (e *env) checkSlow(t tb) {
	slow := e.inst + "-slow"
	var tok string
	for _, k := range e.info.GetKinds() {
		res, err := e.configure(slow, k, e.s.SlowConfig, t.TempDir())
		if err != nil || sdk.HasErrors(res.GetDiagnostics()) {
			t.Fatalf("Configure(%v) with Suite.SlowConfig: %v %v", k, err, res.GetDiagnostics())
		}
	}
	o := e.newOrder("slow")
	if e.hasKind[pb.Kind_KIND_PAYMENT_METHOD] && e.s.Instrument != nil {
		tok = e.resolve(t, slow, o.PaymentId)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	var err error
	var call string
	switch {
	case e.hasKind[pb.Kind_KIND_PAYMENT_METHOD] && e.s.Instrument != nil:
		call = "Debit"
		_, err = e.c.Debit(ctx, &pb.DebitRequest{InstanceId: slow, Order: o, OrderDigest: digest(o), Token: tok})
	case e.hasKind[pb.Kind_KIND_AUTHENTICATOR] && e.s.PayerAnswer == nil && e.s.SellerSignature != nil:
		call = "AuthenticateSeller"
		keyID, sig, at := e.s.SellerSignature(o)
		_, err = e.c.AuthenticateSeller(ctx, &pb.AuthenticateSellerRequest{InstanceId: slow, Order: o, OrderDigest: digest(o),
			SellerSignature: sig, SellerKeyId: keyID, SignedAtUnixMs: at})
	case e.hasKind[pb.Kind_KIND_AUTHENTICATOR]:
		call = "BeginMutualAuth"
		var hello []byte
		if e.s.PayerHello != nil {
			hello = e.s.PayerHello(o)
		}
		_, err = e.c.BeginMutualAuth(ctx, &pb.BeginMutualAuthRequest{InstanceId: slow, Order: o, OrderDigest: digest(o), PayerRef: e.s.PayerRef, PayerData: hello})
	default:
		t.Logf("no slow call to make for kinds %v", e.info.GetKinds())
		return
	}
	if !cutShort(err) {
		t.Errorf("a slow %s with a 200ms deadline: %v, want deadline_exceeded or unavailable", call, err)
	}
	if d := time.Since(start); d > promptly {
		t.Errorf("a slow %s with a 200ms deadline returned after %v", call, d)
	}
	if e.conn.handlers == nil {
		t.Logf("binary target: whether the plugin's handler stopped is not observable; run the suite InProcess too")
		return
	}
	if !e.conn.waitIdle(promptly) {
		t.Errorf("the plugin's %s handler was still running %v after the caller's deadline: it ignores its context", call, promptly)
	}
}
