package store_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/switchd/switchd/switchd/internal/store"
	"github.com/switchd/switchd/switchd/internal/store/storetest"
)

// Events live in the payments bucket right after their payment. Payments
// whose ids share a prefix ("p1", "p10") must each see only their own
// timeline, in order, and the payments themselves, their listing and
// their indexes must not see the events.
func TestEventsBesidePayment(t *testing.T) {
	s := storetest.MustOpen(t)
	ids := []string{"p1", "p10", "p1a", "p2"}
	mustUpdate(t, s, func(tx store.Tx) error {
		for i, id := range ids {
			p := &store.Payment{ID: id, MerchantID: "m1", AmountMinor: 100, Currency: "EUR", OrderRef: id, State: "created",
				TokenHash: "th-" + id, CreatedAt: t0.Add(time.Duration(i) * time.Second), ExpiresAt: t0.Add(time.Hour)}
			if err := tx.PutPayment(p); err != nil {
				return err
			}
		}
		return nil
	})
	for round := range 3 {
		for _, id := range ids {
			mustUpdate(t, s, func(tx store.Tx) error {
				e := &store.Event{PaymentID: id, At: t0, Type: fmt.Sprintf("payment.step%d", round)}
				if err := tx.AppendEvent(e); err != nil {
					return err
				}
				if e.Seq != int64(round+1) {
					return fmt.Errorf("%s round %d: seq %d", id, round, e.Seq)
				}
				return nil
			})
		}
	}
	err := s.View(ctx, func(tx store.Tx) error {
		for _, id := range ids {
			evs, err := tx.Events(id)
			if err != nil {
				return err
			}
			if len(evs) != 3 {
				return fmt.Errorf("%s has %d events, want 3", id, len(evs))
			}
			for i, e := range evs {
				if e.PaymentID != id || e.Seq != int64(i+1) || e.Type != fmt.Sprintf("payment.step%d", i) {
					return fmt.Errorf("%s event %d = %+v", id, i, e)
				}
			}
			p, err := tx.GetPayment(id)
			if err != nil || p.OrderRef != id {
				return fmt.Errorf("payment %s after events: %+v %v", id, p, err)
			}
		}
		list, _, err := tx.ListPayments("m1", "", 10)
		if err != nil || len(list) != len(ids) {
			return fmt.Errorf("listing sees %d payments (%v), want %d", len(list), err, len(ids))
		}
		if evs, err := tx.Events("p3"); err != nil || len(evs) != 0 {
			return fmt.Errorf("unknown payment has events %v %v", evs, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A NUL byte separates a payment from its events, so no payment id may
// hold one.
func TestPaymentIDWithNUL(t *testing.T) {
	s := storetest.MustOpen(t)
	err := s.Update(ctx, func(tx store.Tx) error {
		return tx.PutPayment(&store.Payment{ID: "p1\x00\x00\x00\x00\x00\x00\x00\x00\x01", MerchantID: "m1", State: "created"})
	})
	if !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("err = %v, want ErrInvalid", err)
	}
}
