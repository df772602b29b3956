package flow

import (
	"context"
	"errors"
	"testing"

	"github.com/switchd/switchd/switchd/internal/store"
)

// want is the transition table written out independently of transitions,
// so a change to either shows up here.
var want = map[string]map[Event]string{
	StateCreated:             {EvChoose: StateMethodChosen, EvCancel: StateCancelled, EvExpire: StateExpired, EvFail: StateFailed},
	StateMethodChosen:        {EvSellerOK: StateSellerAuthenticated, EvSellerRefused: StateRefused, EvCancel: StateCancelled, EvExpire: StateExpired, EvFail: StateFailed},
	StateSellerAuthenticated: {EvPayerOK: StatePayerAuthenticated, EvPayerDeclined: StateDeclined, EvPayerRetry: StateSellerAuthenticated, EvCancel: StateCancelled, EvExpire: StateExpired, EvFail: StateFailed},
	StatePayerAuthenticated:  {EvDebited: StatePaid, EvDebitDeclined: StateDeclined, EvReverseStart: StatePayerAuthenticated, EvExpire: StateExpired, EvFail: StateFailed},
	StatePaid:                {EvReverseStart: StatePaid, EvCredited: StateApproved, EvCreditRefused: StateDeclined, EvExpire: StateExpired, EvFail: StateFailed},
}

func TestTransitionTableAllPairs(t *testing.T) {
	for _, from := range States {
		for _, ev := range Events {
			t.Run(from+"/"+string(ev), func(t *testing.T) {
				to, ok := Next(from, ev)
				exp, legal := want[from][ev]
				if ok != legal || to != exp {
					t.Fatalf("Next(%s, %s) = %q, %v; want %q, %v", from, ev, to, ok, exp, legal)
				}
				if IsFinal(from) && ok {
					t.Fatalf("final state %s has a transition on %s", from, ev)
				}
			})
		}
	}
}

// TestTransitionFunctionRefusesIllegal drives the engine's one transition
// function through every pair on a stored payment: a legal pair changes
// state, bumps Version and appends one event; an illegal one changes
// nothing at all.
func TestTransitionFunctionRefusesIllegal(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	for _, from := range States {
		for _, ev := range Events {
			t.Run(from+"/"+string(ev), func(t *testing.T) {
				p, _ := h.create(100, "good")
				// Force the starting state directly in the store.
				if err := h.st.Update(ctx, func(tx store.Tx) error {
					q, err := tx.GetPayment(p.ID)
					if err != nil {
						return err
					}
					q.State = from
					return tx.PutPayment(q)
				}); err != nil {
					t.Fatal(err)
				}
				before := h.payment(p.ID)
				evsBefore, _ := h.e.Events(ctx, "shop", p.ID)
				got, err := h.e.transition(ctx, p.ID, change{ev: ev})
				after := h.payment(p.ID)
				evsAfter, _ := h.e.Events(ctx, "shop", p.ID)
				exp, legal := want[from][ev]
				if !legal {
					if !errors.Is(err, errIllegalTransition) {
						t.Fatalf("err = %v, want illegal transition", err)
					}
					if after.State != before.State || after.Version != before.Version || len(evsAfter) != len(evsBefore) {
						t.Fatalf("illegal transition changed the payment: %+v", after)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if got.State != exp || after.State != exp || after.Version != before.Version+1 || len(evsAfter) != len(evsBefore)+1 {
					t.Fatalf("state %s version %d events %d; want %s, %d, %d", after.State, after.Version, len(evsAfter), exp, before.Version+1, len(evsBefore)+1)
				}
				last := evsAfter[len(evsAfter)-1]
				if last.From != from || last.To != exp {
					t.Fatalf("event %+v", last)
				}
			})
		}
	}
}
