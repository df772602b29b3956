package flow

import (
	"context"
	"time"

	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
	"github.com/switchd/switchd/switchd/internal/store"
)

// Run recovers every non-final payment (see Recover), then sweeps
// periodically until ctx ends: payments past their expiry end expired
// (held money released) and operations left pending for longer than
// StaleAfter are resolved by asking the plugin.
func (e *Engine) Run(ctx context.Context) error {
	e.Recover(ctx)
	e.SweepLoop(ctx)
	return nil
}

func (e *Engine) active(ctx context.Context, limit int) []*store.Payment {
	var ps []*store.Payment
	err := e.st.View(ctx, func(tx store.Tx) error {
		var err error
		ps, err = tx.ActivePayments(limit)
		return err
	})
	if err != nil {
		e.log.Error("listing active payments", "err", err)
	}
	return ps
}

// Recover applies the recovery rule of its state to every non-final
// payment (see the package doc). It is run once at start, before the
// daemon serves, for payments interrupted by a crash or stop.
func (e *Engine) Recover(ctx context.Context) int {
	n := 0
	for _, p := range e.active(ctx, 1<<20) {
		if ctx.Err() != nil {
			break
		}
		unlock := e.lock(p.ID)
		if err := e.recoverLocked(ctx, p.ID, true); err != nil {
			e.log.Warn("recovery of payment incomplete; the sweeper retries", "payment", p.ID, "err", err)
		}
		unlock()
		n++
	}
	return n
}

// Sweep expires payments past their expiry and resolves stale pending
// operations. Payments busy in another goroutine are skipped until the
// next sweep.
func (e *Engine) Sweep(ctx context.Context) {
	now := e.now()
	for _, p := range e.active(ctx, 10000) {
		if ctx.Err() != nil {
			return
		}
		expired := !now.Before(p.ExpiresAt)
		stale := p.Pending != "" && now.Sub(p.UpdatedAt) > e.opts.StaleAfter
		if !expired && !stale {
			continue
		}
		unlock, ok := e.tryLock(p.ID)
		if !ok {
			continue
		}
		if err := e.recoverLocked(ctx, p.ID, false); err != nil {
			e.log.Warn("sweep of payment incomplete; retrying later", "payment", p.ID, "err", err)
		}
		unlock()
	}
}

// recoverLocked applies the recovery rule to one payment. The caller holds
// its lock.
func (e *Engine) recoverLocked(ctx context.Context, id string, atStart bool) error {
	p, err := e.get(ctx, id)
	if err != nil || IsFinal(p.State) {
		return err
	}
	if !e.now().Before(p.ExpiresAt) {
		_, err := e.expireLocked(ctx, p)
		return err
	}
	switch p.State {
	case StateMethodChosen:
		if atStart {
			_, err = e.stepB(ctx, p)
		}
	case StatePayerAuthenticated:
		_, err = e.resolveDebit(ctx, p)
	case StatePaid:
		if p.Pending == "reverse_debit" {
			_, err = e.reverseAndEnd(ctx, p, reverseEnd(p), p.DeclineCode)
		} else if atStart {
			// The acquirer notice is in the outbox, due NoticeGrace after
			// paid: make it due now, so the outbox worker carries it at
			// once (its handler settles the payment; Credit is idempotent).
			err = e.noticeDueNow(ctx, p.ID)
		}
	}
	return err
}

// resolveDebit settles a payment in payer_authenticated whose debit
// outcome is not recorded, by asking the issuer.
func (e *Engine) resolveDebit(ctx context.Context, p *store.Payment) (*store.Payment, error) {
	if p.Pending == "reverse_debit" {
		return e.reverseAndEnd(ctx, p, reverseEnd(p), p.DeclineCode)
	}
	res, err := e.operationStatus(ctx, p, p.IssuerID, pb.Operation_OPERATION_DEBIT)
	if err != nil {
		return nil, err
	}
	if res.GetState() == pb.OperationState_OPERATION_STATE_NOT_FOUND {
		// Never reached the issuer: redo the (idempotent) Debit.
		return e.debit(ctx, p, true)
	}
	return e.debitResult(ctx, p, res, false)
}

// expireLocked ends a payment past its expiry as expired, releasing held
// money: a debit that happened is reversed first, unless the acquirer has
// already credited the merchant, in which case the payment completes
// (approved) instead. The caller holds the payment's lock.
func (e *Engine) expireLocked(ctx context.Context, p *store.Payment) (*store.Payment, error) {
	switch p.State {
	case StatePayerAuthenticated:
		if p.Pending != "reverse_debit" {
			res, err := e.operationStatus(ctx, p, p.IssuerID, pb.Operation_OPERATION_DEBIT)
			if err != nil {
				return nil, err
			}
			if res.GetState() != pb.OperationState_OPERATION_STATE_APPROVED {
				return e.final(ctx, p.ID, p.State, EvExpire, "expired")
			}
		}
		return e.reverseAndEnd(ctx, p, EvExpire, "expired")
	case StatePaid:
		if p.Pending != "reverse_debit" {
			if acq, _, err := e.institution(p, p.AcquirerID); err == nil {
				m, _ := parseMethod(p.Method)
				if acq.Methods[m] != nil {
					res, err := e.operationStatus(ctx, p, p.AcquirerID, pb.Operation_OPERATION_CREDIT)
					if err != nil {
						return nil, err
					}
					if res.GetState() == pb.OperationState_OPERATION_STATE_APPROVED {
						return e.creditResult(ctx, p, res)
					}
				}
			}
		}
		return e.reverseAndEnd(ctx, p, EvExpire, "expired")
	}
	return e.final(ctx, p.ID, p.State, EvExpire, "expired")
}

// SweepLoop runs Sweep every SweepInterval until ctx ends (Run without
// the initial Recover).
func (e *Engine) SweepLoop(ctx context.Context) {
	t := time.NewTicker(e.opts.SweepInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			e.Sweep(ctx)
		}
	}
}
