package flow

import (
	"context"
	"errors"
	"fmt"
	"time"

	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
	"github.com/switchd/switchd/plugins/sdk"
	"github.com/switchd/switchd/switchd/internal/store"
)

// debit runs step D on the issuer's side for a payment in
// payer_authenticated with Pending=debit. The caller holds the payment's
// lock. An error from the plugin leaves Pending=debit for recovery, and
// the payment is returned unchanged.
func (e *Engine) debit(ctx context.Context, p *store.Payment, recovering bool) (*store.Payment, error) {
	start := time.Now()
	defer e.observeStep("D", start)
	// C's attestation was verified when the issuer returned it; check it
	// covers the order as stored now.
	o, digest, err := checkOrder(p, "C")
	if err != nil {
		e.log.Error("the order no longer matches the issuer's attestation", "payment", p.ID, "err", err)
		return e.final(ctx, p.ID, StatePayerAuthenticated, EvFail, "attestation_invalid")
	}
	pm, plugin, err := e.methodPlugin(p, p.IssuerID)
	if err != nil {
		return nil, err
	}
	req := &pb.DebitRequest{InstanceId: p.IssuerID, Order: o, OrderDigest: digest, Token: p.InstrumentToken,
		IssuerAttestation: storedAttestation(p, "C")}
	res, err := call(e, ctx, plugin, "Debit", p.ExpiresAt,
		func(ctx context.Context) (*pb.MoneyResult, error) { return pm.Debit(ctx, req) })
	if err != nil {
		// The outcome is unknown: Pending=debit stays, recovery asks the
		// issuer (GetOperationStatus) and settles it.
		e.log.Warn("debit outcome unknown; left for recovery", "payment", p.ID, "err", err)
		if recovering {
			return nil, err
		}
		return p, nil
	}
	return e.debitResult(ctx, p, res, !recovering)
}

// debitResult records the issuer's answer to Debit (or to a status query
// about it). After paid, inline (the payer's auth/finish) carries the
// acquirer notice at once; recovery instead makes the queued notice due
// now for the outbox worker, so that Recover at start does not wait on
// the acquirer.
func (e *Engine) debitResult(ctx context.Context, p *store.Payment, res *pb.MoneyResult, inline bool) (*store.Payment, error) {
	switch res.GetState() {
	case pb.OperationState_OPERATION_STATE_APPROVED:
		_, digest := digestOf(p)
		att := res.GetAttestation()
		if att != nil {
			if err := e.verifyAttestation(p, att, "D", p.IssuerID, digest); err != nil {
				e.log.Error("issuer debit attestation rejected; reversing", "payment", p.ID, "err", err)
				return e.reverseAndEnd(ctx, p, EvFail, "attestation_invalid")
			}
		}
		// paid is its own commit, durable before Credit (not merged with
		// approved): from paid on, expiry and recovery ask the acquirer
		// before they reverse the debit; a payment still recorded as
		// payer_authenticated would be reversed although the merchant may
		// have been credited.
		p, err := e.transition(ctx, p.ID, change{ev: EvDebited, expect: StatePayerAuthenticated, mutate: func(q *store.Payment) {
			q.Pending = ""
			q.DebitReference = res.GetReference()
			putAttestation(q, "D", att)
		}})
		if err != nil {
			return nil, err
		}
		if inline {
			return e.carryInline(ctx, p), nil
		}
		if err := e.noticeDueNow(ctx, p.ID); err != nil {
			e.log.Error("acquirer notice stays queued for its grace period", "payment", p.ID, "err", err)
		}
		return p, nil
	case pb.OperationState_OPERATION_STATE_DECLINED:
		code := res.GetDeclineCode()
		if code == "" {
			code = sdk.DeclineDoNotHonor
		}
		return e.final(ctx, p.ID, StatePayerAuthenticated, EvDebitDeclined, code)
	case pb.OperationState_OPERATION_STATE_REVERSED:
		return e.final(ctx, p.ID, StatePayerAuthenticated, EvFail, "debit_reversed")
	}
	return nil, &Error{Code: CodeInternal, Msg: fmt.Sprintf("issuer answered Debit with state %s", res.GetState())}
}

// reverseAndEnd reverses the payer's debit and then applies ev (a final
// event) with code. Pending=reverse_debit is recorded first, so that a
// crash in between is finished by recovery.
func (e *Engine) reverseAndEnd(ctx context.Context, p *store.Payment, ev Event, code string) (*store.Payment, error) {
	if p.Pending != "reverse_debit" {
		var err error
		p, err = e.transition(ctx, p.ID, change{ev: EvReverseStart, expect: p.State, mutate: func(q *store.Payment) {
			q.Pending = "reverse_debit"
			q.DeclineCode = code
		}})
		if err != nil {
			return nil, internal(err)
		}
	}
	if err := e.reverseDebit(ctx, p, code); err != nil {
		return nil, err
	}
	return e.final(ctx, p.ID, p.State, ev, code)
}

// reverseEnd is the final event of a payment whose reversal was started
// (Pending=reverse_debit) and interrupted: failed when it was started for
// a proof that did not verify, else declined (acquirer refused).
func reverseEnd(p *store.Payment) Event {
	if p.DeclineCode == "attestation_invalid" || p.State == StatePayerAuthenticated {
		return EvFail
	}
	return EvCreditRefused
}

// reverseDebit asks the issuer to put back the payer's debit. A debit that
// was never made, was declined or is already reversed needs nothing.
func (e *Engine) reverseDebit(ctx context.Context, p *store.Payment, reason string) error {
	pm, plugin, err := e.methodPlugin(p, p.IssuerID)
	if err != nil {
		return err
	}
	req := &pb.ReverseRequest{InstanceId: p.IssuerID, PaymentId: p.ID, Operation: pb.Operation_OPERATION_DEBIT, Reason: reason}
	res, err := call(e, ctx, plugin, "Reverse", time.Time{},
		func(ctx context.Context) (*pb.MoneyResult, error) { return pm.Reverse(ctx, req) })
	if err != nil {
		if sdk.CodeOf(err) == sdk.CodeNotFound {
			return nil
		}
		return err
	}
	switch res.GetState() {
	case pb.OperationState_OPERATION_STATE_REVERSED, pb.OperationState_OPERATION_STATE_NOT_FOUND, pb.OperationState_OPERATION_STATE_DECLINED:
		return nil
	}
	return &Error{Code: CodeInternal, Msg: fmt.Sprintf("issuer answered Reverse with state %s", res.GetState())}
}

// operationStatus asks institution inst what happened to the payment's
// debit or credit.
func (e *Engine) operationStatus(ctx context.Context, p *store.Payment, inst string, op pb.Operation) (*pb.MoneyResult, error) {
	pm, plugin, err := e.methodPlugin(p, inst)
	if err != nil {
		return nil, err
	}
	req := &pb.OperationStatusRequest{InstanceId: inst, PaymentId: p.ID, Operation: op}
	return call(e, ctx, plugin, "GetOperationStatus", time.Time{},
		func(ctx context.Context) (*pb.MoneyResult, error) { return pm.GetOperationStatus(ctx, req) })
}

// carryInline is step E right after paid commits, in the request (or
// recovery) that recorded the debit: paid is durable, with the acquirer
// notice queued for NoticeGrace later, so the notice is carried now, under
// the payment's lock, instead of waiting for the outbox worker. It does
// not stop when the payer's request ends. If it fails the payment stays
// paid and the queued notice is made due at once, so the outbox worker
// takes over; the payment is returned as it is then.
func (e *Engine) carryInline(ctx context.Context, p *store.Payment) *store.Payment {
	ctx = context.WithoutCancel(ctx)
	q, err := e.carryNotice(ctx, p)
	if err == nil {
		return q
	}
	e.log.Warn("acquirer notice not carried inline; left to the outbox", "payment", p.ID, "err", err)
	if err := e.noticeDueNow(ctx, p.ID); err != nil {
		e.log.Error("acquirer notice stays queued for its grace period", "payment", p.ID, "err", err)
	}
	return p
}

// HandleAcquirerNotice is the outbox handler for KindAcquirerNotice, the
// recovery path of step E: FinishAuth carries the notice itself right
// after paid commits, so the worker (which sees the notice only after
// NoticeGrace, or at once after an inline attempt failed) finds the
// payment still paid only when that did not finish. It then does what
// FinishAuth would have (carryNotice). A payment that already left paid
// needs nothing: the transition that moved it marked the notice delivered,
// so normally the worker does not even see it. Any other error is returned
// so the outbox retries.
func (e *Engine) HandleAcquirerNotice(ctx context.Context, m *store.OutboxMessage) error {
	unlock := e.lock(m.PaymentID)
	defer unlock()
	p, err := e.get(ctx, m.PaymentID)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if p.State != StatePaid {
		return nil // already settled (approved, expired, ...): nothing to carry
	}
	_, err = e.carryNotice(ctx, p)
	return err
}

// carryNotice is step E for a payment in paid: it carries the issuer's
// notice of payment to the acquirer, whose method plugin credits the
// merchant's settlement account (Credit is idempotent on the payment id,
// so a notice carried twice credits once). On approval the payment
// becomes approved and the seller's webhook is queued; on refusal the
// payer's debit is reversed and the payment ends declined; past expiry
// the expiry rule applies. The transition that leaves paid marks the
// queued notice delivered. The caller holds the payment's lock.
func (e *Engine) carryNotice(ctx context.Context, p *store.Payment) (*store.Payment, error) {
	if !e.now().Before(p.ExpiresAt) {
		return e.expireLocked(ctx, p)
	}
	return e.credit(ctx, p)
}

func (e *Engine) credit(ctx context.Context, p *store.Payment) (*store.Payment, error) {
	start := time.Now()
	defer e.observeStep("E", start)
	if p.Pending == "reverse_debit" {
		return e.reverseAndEnd(ctx, p, reverseEnd(p), p.DeclineCode)
	}
	// Before D reaches the acquirer, check the issuer's proof (its debit
	// attestation when it signed one, else its step-C attestation, both
	// verified when received) covers the order as stored now.
	o, digest, err := checkOrder(p, "C")
	if err != nil {
		e.log.Error("the order no longer matches the issuer's attestation; reversing", "payment", p.ID, "err", err)
		return e.reverseAndEnd(ctx, p, EvFail, "attestation_invalid")
	}
	merchant, err := e.merchant(p)
	if err != nil {
		return nil, err
	}
	acq, _, err := e.institution(p, p.AcquirerID)
	if err != nil {
		return nil, err
	}
	method, _ := parseMethod(p.Method)
	if acq.Methods[method] == nil {
		return e.reverseAndEnd(ctx, p, EvCreditRefused, "method_not_accepted")
	}
	pm, plugin, err := e.methodPlugin(p, p.AcquirerID)
	if err != nil {
		return nil, err
	}
	att := storedAttestation(p, "D")
	if att == nil {
		att = storedAttestation(p, "C")
	}
	req := &pb.CreditRequest{InstanceId: p.AcquirerID, Order: o, OrderDigest: digest, PayeeAccount: merchant.SettlementAccount,
		DebitReference: p.DebitReference, IssuerAttestation: att}
	res, err := call(e, ctx, plugin, "Credit", p.ExpiresAt,
		func(ctx context.Context) (*pb.MoneyResult, error) { return pm.Credit(ctx, req) })
	if err != nil {
		return nil, err
	}
	return e.creditResult(ctx, p, res)
}

func (e *Engine) creditResult(ctx context.Context, p *store.Payment, res *pb.MoneyResult) (*store.Payment, error) {
	switch res.GetState() {
	case pb.OperationState_OPERATION_STATE_APPROVED:
		return e.transition(ctx, p.ID, change{ev: EvCredited, expect: StatePaid, mutate: func(q *store.Payment) {
			q.Pending = ""
			q.CreditReference = res.GetReference()
		}})
	case pb.OperationState_OPERATION_STATE_DECLINED, pb.OperationState_OPERATION_STATE_REVERSED:
		code := res.GetDeclineCode()
		if code == "" {
			code = "acquirer_refused"
		}
		return e.reverseAndEnd(ctx, p, EvCreditRefused, code)
	}
	return nil, &Error{Code: CodeInternal, Msg: fmt.Sprintf("acquirer answered Credit with state %s", res.GetState())}
}
