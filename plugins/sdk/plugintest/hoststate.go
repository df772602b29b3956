package plugintest

import (
	"bytes"
	"fmt"

	"google.golang.org/protobuf/proto"

	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
	"github.com/switchd/switchd/plugins/sdk"
)

// checkHostState runs the checks of a plugin that lists host_state: the
// kit, as the host, loads, commits, withholds commits and restarts the
// plugin, and checks that what the plugin answers after a restart is what
// the committed records make true.
func (e *env) checkHostState(t tb) {
	t.Run("not_loaded", e.checkNotLoaded)
	t.Run("export", e.checkExport)
	if e.hasKind[pb.Kind_KIND_PAYMENT_METHOD] {
		if e.s.Instrument == nil {
			t.Logf("no Suite.Instrument: host_state payment method checks skipped")
		} else {
			t.Run("repeat", e.checkRepeat)
			t.Run("lost_answer", e.checkLostAnswer)
			t.Run("restart", e.checkRestart)
			t.Run("uncommitted", e.checkUncommitted)
			t.Run("commute", e.checkCommute)
		}
	}
	if e.hasKind[pb.Kind_KIND_AUTHENTICATOR] {
		if e.s.SellerSignature == nil {
			t.Logf("no Suite.SellerSignature: host_state step B checks skipped")
		} else {
			t.Run("seller_restart", e.checkSellerRestart)
			t.Run("seller_uncommitted", e.checkSellerUncommitted)
		}
	}
}

// restart stops the plugin process and starts a fresh one, then loads and
// configures the suite's instance in it as the host does after a crash.
// It skips t when the target cannot be restarted.
func (e *env) restart(t tb) {
	t.Helper()
	if !e.s.Target.restartable() {
		t.Skipf("%v cannot be restarted: use Binary, or InProcessFunc with a constructor", e.s.Target)
	}
	e.conn.stop()
	cn, err := e.s.Target.start(e.top)
	if err != nil {
		t.Fatalf("restart %v: %v", e.s.Target, err)
	}
	e.conn = cn
	e.c.restarted(cn.client)
	for _, k := range e.info.GetKinds() {
		res, err := e.configure(e.inst, k, e.s.Config, e.dataDir[k])
		if err != nil {
			t.Fatalf("after a restart, Configure(%v) with Suite.Config: %v", k, err)
		}
		if sdk.HasErrors(res.GetDiagnostics()) {
			t.Fatalf("after a restart, Configure(%v) with Suite.Config has errors: %v", k, res.GetDiagnostics())
		}
	}
}

// checkNotLoaded configures an instance whose state was never loaded: the
// plugin must refuse, since it cannot know what the host holds for it.
func (e *env) checkNotLoaded(t tb) {
	inst := e.inst + "-not-loaded"
	for _, k := range e.info.GetKinds() {
		ctx, cancel := callCtx()
		req := &pb.ConfigureRequest{InstanceId: inst, Kind: k, ConfigJson: e.s.Config, DataDir: t.TempDir(), Institution: e.s.Institution}
		if k == pb.Kind_KIND_PAYMENT_METHOD {
			req.Method = e.method
		}
		res, err := e.c.Client.Configure(ctx, req) // not through the host: no LoadState
		cancel()
		if err == nil && !sdk.HasErrors(res.GetDiagnostics()) {
			t.Errorf("Configure(%v) of an instance before any LoadState was accepted; a host_state plugin must refuse it (rule 4)", k)
		}
		if n := len(res.GetStateWrites()); n > 0 {
			t.Errorf("the refused Configure(%v) carried %d state_writes", k, n)
		}
	}
	ctx, cancel := callCtx()
	defer cancel()
	if h, err := e.c.Health(ctx, &pb.HealthRequest{InstanceId: inst}); err == nil && h.GetServing() {
		t.Errorf("Health of an instance configured before any LoadState says serving")
	}
}

// checkExport checks ExportState (rule 4): nothing from an empty data
// dir; with Suite.OldState, the old files' records, the same again when
// asked again (the host may stop before its commit), on which the
// instance is then configured and serves.
func (e *env) checkExport(t tb) {
	inst := e.inst + "-export"
	dir := t.TempDir()
	export := func(what string) []*pb.StateWrite {
		t.Helper()
		ctx, cancel := callCtx()
		defer cancel()
		recs, err := e.c.Client.ExportState(ctx, inst, dir)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return recs
	}
	if e.s.OldState == nil {
		if recs := export("ExportState of an empty data dir"); len(recs) > 0 {
			t.Errorf("ExportState of an empty data dir streamed %d records; with no old files there is nothing to export", len(recs))
		}
		t.Logf("no Suite.OldState: the import of an earlier version's files is not checked")
		return
	}
	if err := e.s.OldState(dir); err != nil {
		t.Fatalf("Suite.OldState: %v", err)
	}
	first := export("ExportState of Suite.OldState's files")
	if len(first) == 0 {
		t.Fatalf("ExportState of a data dir with Suite.OldState's files streamed no records")
	}
	for _, p := range writeErrors(first) {
		t.Errorf("ExportState: %s", p)
	}
	for _, r := range first {
		if len(r.GetValue()) == 0 {
			t.Errorf("ExportState streamed the record %q with an empty value", clip(r.GetKey()))
		}
	}
	again := export("ExportState asked again")
	if m := missing(again, first); len(m) > 0 || len(again) != len(first) {
		t.Errorf("ExportState asked again before the host holds any record streamed %d records, first %d (%v): it must keep exporting the same records until the host holds some", len(again), len(first), m)
	}
	for _, k := range e.info.GetKinds() {
		res, err := e.configure(inst, k, e.s.Config, dir)
		if err != nil || sdk.HasErrors(res.GetDiagnostics()) {
			t.Fatalf("Configure(%v) with Suite.Config on the imported state: %v %v", k, err, res.GetDiagnostics())
		}
	}
	if m := missing(e.c.records(inst), first); len(m) > 0 {
		t.Errorf("the committed state lacks exported records after Configure: %v", m)
	}
	ctx, cancel := callCtx()
	defer cancel()
	if h, err := e.c.Health(ctx, &pb.HealthRequest{InstanceId: inst}); err != nil || !h.GetServing() {
		t.Errorf("Health of the instance configured on the imported state: %v, %v; want serving", h, err)
	}
}

// describe names a result for messages.
func describe(r *pb.MoneyResult) string {
	return fmt.Sprintf("%v %q %d %s", r.GetState(), r.GetReference(), r.GetAmountMinor(), r.GetCurrency())
}

// missing lists the records of want that got does not repeat with the
// same value.
func missing(got, want []*pb.StateWrite) []string {
	have := map[string][]byte{}
	for _, w := range got {
		have[string(w.GetKey())] = w.GetValue()
	}
	var out []string
	for _, w := range want {
		v, ok := have[string(w.GetKey())]
		switch {
		case !ok:
			out = append(out, fmt.Sprintf("%q is missing", clip(w.GetKey())))
		case !bytes.Equal(v, w.GetValue()):
			out = append(out, fmt.Sprintf("%q has another value", clip(w.GetKey())))
		}
	}
	return out
}

// unchanged fails unless the instance's committed records are still
// before: what may only repeat records must not change any.
func (e *env) unchanged(t tb, before map[string]string, what string) {
	t.Helper()
	after := e.c.snapshot(e.inst)
	for k, v := range after {
		if old, ok := before[k]; !ok {
			t.Errorf("%s added the record %q", what, clip([]byte(k)))
		} else if old != v {
			t.Errorf("%s changed the record %q", what, clip([]byte(k)))
		}
	}
	for k := range before {
		if _, ok := after[k]; !ok {
			t.Errorf("%s deleted the record %q", what, clip([]byte(k)))
		}
	}
}

// rawDebit debits o without committing the answer's writes: the host
// crashes between the plugin's answer and its commit.
func (e *env) rawDebit(t tb, o *pb.Order, tok string) *pb.MoneyResult {
	t.Helper()
	ctx, cancel := callCtx()
	defer cancel()
	res, err := e.c.Client.Debit(ctx, &pb.DebitRequest{InstanceId: e.inst, Order: o, OrderDigest: digest(o), Token: tok})
	if err != nil {
		t.Fatalf("Debit: %v", err)
	}
	mustApprove(t, "Debit", o, res)
	return res
}

// mustDebit debits o through the host, which commits the answer.
func (e *env) mustDebit(t tb, o *pb.Order, tok string) *pb.MoneyResult {
	t.Helper()
	ctx, cancel := callCtx()
	defer cancel()
	res, err := e.debit(ctx, o, tok)
	if err != nil {
		t.Fatalf("Debit: %v", err)
	}
	mustApprove(t, "Debit", o, res)
	return res
}

// checkRepeat checks rule 1 on answers: a retried Debit, a status query
// and a repeated Reverse repeat the operation's records.
func (e *env) checkRepeat(t tb) {
	o := e.newOrder("repeat")
	tok := e.resolve(t, e.inst, o.PaymentId)
	first := e.mustDebit(t, o, tok)
	if len(first.GetStateWrites()) == 0 {
		t.Fatalf("an approved Debit carried no state_writes: nothing would make it durable")
	}
	for name, res := range map[string]*pb.MoneyResult{"a retried Debit": e.mustDebit(t, o, tok), "GetOperationStatus": e.status(t, o.PaymentId, opDebit)} {
		if m := missing(res.GetStateWrites(), first.GetStateWrites()); len(m) > 0 {
			t.Errorf("%s does not repeat the Debit's records (rule 1): %v", name, m)
		}
	}
	rev := e.reverse(t, o.PaymentId, opDebit)
	if rev.GetState() != stReversed {
		t.Fatalf("Reverse of an approved Debit: state %v, want REVERSED", rev.GetState())
	}
	if len(rev.GetStateWrites()) == 0 {
		t.Fatalf("a Reverse that put money back carried no state_writes: nothing would make it durable")
	}
	for name, res := range map[string]*pb.MoneyResult{"a repeated Reverse": e.reverse(t, o.PaymentId, opDebit), "GetOperationStatus after Reverse": e.status(t, o.PaymentId, opDebit)} {
		if m := missing(res.GetStateWrites(), rev.GetStateWrites()); len(m) > 0 {
			t.Errorf("%s does not repeat the Reverse's records (rule 1): %v", name, m)
		}
	}
	if e.s.PayeeAccount == "" {
		t.Logf("no Suite.PayeeAccount: Credit not checked")
		return
	}
	c := e.newOrder("repeatcredit")
	credit := func() *pb.MoneyResult {
		t.Helper()
		ctx, cancel := callCtx()
		defer cancel()
		res, err := e.c.Credit(ctx, &pb.CreditRequest{InstanceId: e.inst, Order: c, OrderDigest: digest(c), PayeeAccount: e.s.PayeeAccount, DebitReference: "plugintest-debit"})
		if err != nil {
			t.Fatalf("Credit: %v", err)
		}
		mustApprove(t, "Credit", c, res)
		return res
	}
	cr := credit()
	if len(cr.GetStateWrites()) == 0 {
		t.Fatalf("an approved Credit carried no state_writes: nothing would make it durable")
	}
	for name, res := range map[string]*pb.MoneyResult{"a retried Credit": credit(), "GetOperationStatus of a Credit": e.status(t, c.PaymentId, opCredit)} {
		if m := missing(res.GetStateWrites(), cr.GetStateWrites()); len(m) > 0 {
			t.Errorf("%s does not repeat the Credit's records (rule 1): %v", name, m)
		}
	}
}

// checkLostAnswer checks what rule 1 is for: a Debit whose answer the host
// lost becomes durable when the host next asks about it (recovery's
// GetOperationStatus), and survives a restart.
func (e *env) checkLostAnswer(t tb) {
	o := e.newOrder("lost")
	tok := e.resolve(t, e.inst, o.PaymentId)
	before, _ := e.balance(t, opDebit)
	lost := e.rawDebit(t, o, tok)
	sameResult(t, "GetOperationStatus of a Debit whose answer was lost", lost, e.status(t, o.PaymentId, opDebit))
	e.restart(t)
	sameResult(t, "after a restart, GetOperationStatus of a Debit made durable by a status query", lost, e.status(t, o.PaymentId, opDebit))
	e.checkMoved(t, opDebit, before, -o.AmountMinor, "a Debit made durable by a status query, after a restart")
}

// checkRestart checks that a fresh plugin loaded with the committed state
// answers as the old one did and moves no money again.
func (e *env) checkRestart(t tb) {
	o := e.newOrder("restart")
	tok := e.resolve(t, e.inst, o.PaymentId)
	paid := e.mustDebit(t, o, tok)
	q := e.newOrder("restartrev")
	e.mustDebit(t, q, e.resolve(t, e.inst, q.PaymentId))
	rev := e.reverse(t, q.PaymentId, opDebit)
	if rev.GetState() != stReversed {
		t.Fatalf("Reverse of an approved Debit: state %v, want REVERSED", rev.GetState())
	}
	before, _ := e.balance(t, opDebit)
	records := e.c.snapshot(e.inst)
	e.restart(t)
	e.checkMoved(t, opDebit, before, 0, "a restart")
	sameResult(t, "GetOperationStatus of a Debit, after a restart", paid, e.status(t, o.PaymentId, opDebit))
	ctx, cancel := callCtx()
	defer cancel()
	retry, err := e.debit(ctx, o, tok)
	if err != nil {
		t.Fatalf("a Debit retried after a restart: %v", err)
	}
	sameResult(t, "a Debit retried after a restart", paid, retry)
	sameResult(t, "GetOperationStatus of a reversed Debit, after a restart", rev, e.status(t, q.PaymentId, opDebit))
	sameResult(t, "a Reverse repeated after a restart", rev, e.reverse(t, q.PaymentId, opDebit))
	e.checkMoved(t, opDebit, before, 0, "a Debit and a Reverse retried after a restart")
	e.unchanged(t, records, "a Debit and a Reverse retried after a restart")
}

// checkUncommitted checks the host's crash between the plugin's answer and
// its commit: after a restart from the committed state the Debit never
// happened.
func (e *env) checkUncommitted(t tb) {
	o := e.newOrder("uncommitted")
	tok := e.resolve(t, e.inst, o.PaymentId)
	before, _ := e.balance(t, opDebit)
	records := e.c.snapshot(e.inst)
	e.rawDebit(t, o, tok)
	e.restart(t)
	if st := e.status(t, o.PaymentId, opDebit); st.GetState() != stNotFound {
		t.Errorf("after a restart, GetOperationStatus of a Debit the host never committed: %s, want NOT_FOUND: the plugin kept state the host does not hold", describe(st))
	}
	e.checkMoved(t, opDebit, before, 0, "a Debit the host never committed, after a restart")
	e.unchanged(t, records, "a restart after a Debit the host never committed")
	e.mustDebit(t, o, tok)
	e.checkMoved(t, opDebit, before, -o.AmountMinor, "the Debit paid again after the restart")
}

// checkCommute commits two payments' Debits in the other order than the
// plugin answered them (rule 2), then restarts.
func (e *env) checkCommute(t tb) {
	o1, o2 := e.newOrder("commute"), e.newOrder("commute")
	tok1, tok2 := e.resolve(t, e.inst, o1.PaymentId), e.resolve(t, e.inst, o2.PaymentId)
	before, _ := e.balance(t, opDebit)
	r1, r2 := e.rawDebit(t, o1, tok1), e.rawDebit(t, o2, tok2)
	first := map[string][]byte{}
	for _, w := range r1.GetStateWrites() {
		first[string(w.GetKey())] = w.GetValue()
	}
	for _, w := range r2.GetStateWrites() {
		if v, ok := first[string(w.GetKey())]; ok && !bytes.Equal(v, w.GetValue()) {
			t.Errorf("the Debits of two payments both write %q, with different values: the record does not commute (rule 2; keep journal entries keyed by payment, not running totals)", clip(w.GetKey()))
		}
	}
	e.c.take("Debit "+o2.PaymentId, e.inst, r2.GetStateWrites(), false)
	e.c.take("Debit "+o1.PaymentId, e.inst, r1.GetStateWrites(), false)
	e.restart(t)
	sameResult(t, "after a restart, GetOperationStatus of the Debit answered first, committed last", r1, e.status(t, o1.PaymentId, opDebit))
	sameResult(t, "after a restart, GetOperationStatus of the Debit answered last, committed first", r2, e.status(t, o2.PaymentId, opDebit))
	e.checkMoved(t, opDebit, before, -o1.AmountMinor-o2.AmountMinor, "two Debits committed in the other order, after a restart")
}

// sellerRequest is step B for o with a signature made for signed.
func sellerRequest(inst string, o *pb.Order, keyID string, sig []byte, at int64) *pb.AuthenticateSellerRequest {
	return &pb.AuthenticateSellerRequest{InstanceId: inst, Order: o, OrderDigest: digest(o), SellerSignature: sig, SellerKeyId: keyID, SignedAtUnixMs: at}
}

// otherPayment is o as another payment: the seller's signature covers
// the terms, not the payment id, so it verifies for both.
func (e *env) otherPayment(o *pb.Order) *pb.Order {
	c := proto.Clone(o).(*pb.Order)
	c.PaymentId = e.newOrder("sellerother").PaymentId
	return c
}

// sellerCall runs step B; commit false skips the host's commit.
func (e *env) sellerCall(t tb, r *pb.AuthenticateSellerRequest, commit bool) *pb.AuthenticateSellerResponse {
	t.Helper()
	ctx, cancel := callCtx()
	defer cancel()
	call := e.c.AuthenticateSeller
	if !commit {
		call = e.c.Client.AuthenticateSeller
	}
	res, err := call(ctx, r)
	if err != nil {
		t.Fatalf("AuthenticateSeller: %v", err)
	}
	return res
}

// checkSellerRestart checks that an approval's record survives a restart:
// the same signature is then declined as a replay for another payment and
// approved again, with its record repeated, for its own.
func (e *env) checkSellerRestart(t tb) {
	o := e.newOrder("sellerrestart")
	keyID, sig, at := e.s.SellerSignature(o)
	first := e.sellerCall(t, sellerRequest(e.inst, o, keyID, sig, at), true)
	if first.GetVerdict() != pb.Verdict_VERDICT_APPROVED {
		t.Fatalf("AuthenticateSeller with Suite.SellerSignature: %v (%s), want APPROVED", first.GetVerdict(), first.GetDeclineCode())
	}
	if r := e.sellerCall(t, sellerRequest(e.inst, e.otherPayment(o), keyID, sig, at), true); r.GetVerdict() == pb.Verdict_VERDICT_APPROVED {
		t.Skipf("one seller signature was approved for two payments: the plugin keeps no replay records in the host to check")
	}
	if len(first.GetStateWrites()) == 0 {
		t.Fatalf("an approval that later declines a replay carried no state_writes: its record is not durable")
	}
	e.restart(t)
	replay := e.sellerCall(t, sellerRequest(e.inst, e.otherPayment(o), keyID, sig, at), true)
	if replay.GetVerdict() != pb.Verdict_VERDICT_DECLINED || replay.GetDeclineCode() != sdk.DeclineReplay {
		t.Errorf("after a restart, a committed approval's signature for another payment: %v (%s), want DECLINED (%s)", replay.GetVerdict(), replay.GetDeclineCode(), sdk.DeclineReplay)
	}
	again := e.sellerCall(t, sellerRequest(e.inst, o, keyID, sig, at), true)
	if again.GetVerdict() != pb.Verdict_VERDICT_APPROVED {
		t.Errorf("after a restart, step B retried for the approved payment: %v (%s), want APPROVED", again.GetVerdict(), again.GetDeclineCode())
	}
	if m := missing(again.GetStateWrites(), first.GetStateWrites()); len(m) > 0 {
		t.Errorf("step B retried for the approved payment does not repeat its records (rule 1): %v", m)
	}
}

// checkSellerUncommitted checks that an approval the host never committed
// is gone after a restart: the signature is then approved for another
// payment.
func (e *env) checkSellerUncommitted(t tb) {
	o := e.newOrder("selleruncommitted")
	keyID, sig, at := e.s.SellerSignature(o)
	first := e.sellerCall(t, sellerRequest(e.inst, o, keyID, sig, at), false)
	if first.GetVerdict() != pb.Verdict_VERDICT_APPROVED {
		t.Fatalf("AuthenticateSeller with Suite.SellerSignature: %v (%s), want APPROVED", first.GetVerdict(), first.GetDeclineCode())
	}
	e.restart(t)
	other := e.sellerCall(t, sellerRequest(e.inst, e.otherPayment(o), keyID, sig, at), true)
	if other.GetVerdict() != pb.Verdict_VERDICT_APPROVED {
		t.Errorf("after a restart, the signature of an approval the host never committed, for another payment: %v (%s), want APPROVED: the plugin kept state the host does not hold", other.GetVerdict(), other.GetDeclineCode())
	}
}
