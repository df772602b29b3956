package flow

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
	"github.com/switchd/switchd/switchd/internal/store"
)

func TestPaymentAtoE(t *testing.T) {
	for _, tc := range []struct {
		name   string
		choose ChooseInput
		payer  string
	}{
		{"card", card, "issuer/alice"},
		{"bank_transfer", ChooseInput{Method: "bank_transfer", Account: &pb.AccountInstrument{BankCode: "001", AccountNumber: "alice"}}, "issuer/alice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			ctx := context.Background()
			p, token := h.create(1234, "good")
			v, err := h.e.ChooseMethod(ctx, token, tc.choose)
			if err != nil {
				t.Fatal(err)
			}
			if v.Payment.State != StateSellerAuthenticated || v.Payment.IssuerID != "issuer" || v.DigestHex == "" || v.IssuerName != "Issuer Bank" {
				t.Fatalf("after A+B: %+v %+v", v, v.Payment)
			}
			if tc.name == "card" && (v.Payment.BIN != "411111" || v.Payment.Last4 != "1111" || v.Payment.InstrumentToken == "") {
				t.Fatalf("instrument not stored: %+v", v.Payment)
			}
			ch, err := h.e.BeginAuth(ctx, token, []byte(`{"client_challenge":"q"}`))
			if err != nil || ch.DigestHex != v.DigestHex {
				t.Fatalf("BeginAuth: %v %+v", err, ch)
			}
			v, err = h.e.FinishAuth(ctx, token, []byte("right"))
			if err != nil {
				t.Fatal(err)
			}
			if v.Payment.State != StateApproved {
				t.Fatalf("state %s, want approved", v.Payment.State)
			}
			if got := h.plugins.method.balance(tc.payer); got != 10000-1234 {
				t.Fatalf("payer balance %d", got)
			}
			if got := h.plugins.method.balance("acquirer/shop"); got != 1234 {
				t.Fatalf("merchant balance %d", got)
			}
			if got := h.webhookTypes(); !slices.Equal(got, []string{"payment.approved"}) {
				t.Fatalf("webhooks %v", got)
			}
			for _, step := range []string{"B", "C"} {
				if err := h.e.VerifyStored(h.payment(p.ID), step); err != nil {
					t.Fatalf("stored attestation %s: %v", step, err)
				}
			}
			evs, _ := h.e.Events(ctx, "shop", p.ID)
			var states []string
			for _, e := range evs {
				if e.To != "" && (len(states) == 0 || states[len(states)-1] != e.To) {
					states = append(states, e.To)
				}
			}
			wantStates := []string{StateCreated, StateMethodChosen, StateSellerAuthenticated, StatePayerAuthenticated, StatePaid, StateApproved}
			if !slices.Equal(states, wantStates) {
				t.Fatalf("timeline %v", states)
			}
		})
	}
}

func TestFailureBranches(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name      string
		sig       string
		choose    ChooseInput
		setup     func(h *harness)
		answer    string
		wantState string
		wantCode  string
		// payerDebited is how much the payer is down at the end.
		payerAcct string
	}{
		{name: "seller refused", sig: "forged", choose: card, wantState: StateRefused, wantCode: "bad_signature", payerAcct: "issuer/alice"},
		{name: "payer fails C", sig: "good", choose: card, answer: "wrong", wantState: StateDeclined, wantCode: "auth_failed", payerAcct: "issuer/alice"},
		{name: "insufficient funds", sig: "good", choose: ChooseInput{Method: "card", Card: &pb.CardInstrument{Pan: "4111119999999999", ExpiryMonth: 1, ExpiryYear: 2031}},
			answer: "right", wantState: StateDeclined, wantCode: "insufficient_funds", payerAcct: "issuer/poor"},
		{name: "acquirer refuses", sig: "good", choose: card, setup: func(h *harness) { h.plugins.method.refuseCredit = true },
			answer: "right", wantState: StateDeclined, wantCode: "account_closed", payerAcct: "issuer/alice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			if tc.setup != nil {
				tc.setup(h)
			}
			start := h.plugins.method.balance(tc.payerAcct)
			p, token := h.create(1234, tc.sig)
			_, err := h.e.ChooseMethod(ctx, token, tc.choose)
			if tc.answer != "" {
				if err != nil {
					t.Fatal(err)
				}
				// A wrong answer leaves the payer MaxPayerAttempts tries
				// in one payment; only the last one ends it.
				tries := 1
				if tc.answer == "wrong" {
					tries = MaxPayerAttempts
				}
				for i := 1; i <= tries; i++ {
					if _, err := h.e.BeginAuth(ctx, token, nil); err != nil {
						t.Fatal(err)
					}
					_, err = h.e.FinishAuth(ctx, token, []byte(tc.answer))
					if i < tries {
						if q := h.payment(p.ID); !errors.Is(err, ErrDeclined) || q.State != StateSellerAuthenticated || q.PayerAuthFailures != i {
							t.Fatalf("try %d: err %v, state %s, failures %d; want a declined answer that leaves the payment open", i, err, q.State, q.PayerAuthFailures)
						}
					}
				}
			}
			if !errors.Is(err, ErrDeclined) {
				t.Fatalf("err = %v, want declined", err)
			}
			h.wg.Wait()
			got := h.payment(p.ID)
			if got.State != tc.wantState || got.DeclineCode != tc.wantCode || got.Pending != "" {
				t.Fatalf("state %s code %s pending %q; want %s %s", got.State, got.DeclineCode, got.Pending, tc.wantState, tc.wantCode)
			}
			if b := h.plugins.method.balance(tc.payerAcct); b != start {
				t.Fatalf("payer balance %d, want %d (money put back)", b, start)
			}
			if b := h.plugins.method.balance("acquirer/shop"); b != 0 {
				t.Fatalf("merchant balance %d", b)
			}
			if got := h.webhookTypes(); !slices.Equal(got, []string{"payment." + tc.wantState}) {
				t.Fatalf("webhooks %v", got)
			}
		})
	}
}

func TestUnroutableChangesNothing(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		in   ChooseInput
		code string
	}{
		{"unknown BIN", ChooseInput{Method: "card", Card: &pb.CardInstrument{Pan: "5500000000000004", ExpiryMonth: 1, ExpiryYear: 2030}}, CodeUnroutable},
		{"unknown bank", ChooseInput{Method: "bank_transfer", Account: &pb.AccountInstrument{BankCode: "999", AccountNumber: "alice"}}, CodeUnroutable},
		{"bad method", ChooseInput{Method: "cash"}, CodeInvalidRequest},
		{"short PAN", ChooseInput{Method: "card", Card: &pb.CardInstrument{Pan: "4111", ExpiryMonth: 1, ExpiryYear: 2030}}, CodeInvalidRequest},
		{"declined instrument", ChooseInput{Method: "card", Card: &pb.CardInstrument{Pan: "4111110000000000", ExpiryMonth: 1, ExpiryYear: 2030}}, CodeDeclined},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			p, token := h.create(500, "good")
			_, err := h.e.ChooseMethod(ctx, token, tc.in)
			var fe *Error
			if !errors.As(err, &fe) || fe.Code != tc.code {
				t.Fatalf("err = %v, want code %s", err, tc.code)
			}
			if got := h.payment(p.ID); got.State != StateCreated || got.Version != p.Version || got.IssuerID != "" {
				t.Fatalf("payment changed: %+v", got)
			}
			if h.plugins.auth.calls != 0 {
				t.Fatal("step B ran")
			}
			// The payer can still pay with a routable card.
			if _, err := h.e.ChooseMethod(ctx, token, card); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestExpiryAtEachStep(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		// advance runs the flow up to the step where the payment is left.
		advance func(h *harness, token string)
		// stuckCredit makes the acquirer notice fail, so the payment stays paid.
		stuckCredit bool
	}{
		{name: "created", advance: func(*harness, string) {}},
		{name: "seller_authenticated", advance: func(h *harness, tok string) { must(h.e.ChooseMethod(ctx, tok, card)) }},
		{name: "payer_authenticated with lost debit answer", advance: func(h *harness, tok string) {
			must(h.e.ChooseMethod(ctx, tok, card))
			// The debit moves the money but neither the call nor its retry
			// gets an answer: Pending=debit is left for the sweeper.
			h.plugins.method.lostDebits = 2
			v := must(h.e.FinishAuth(ctx, tok, []byte("right")))
			if v.Payment.State != StatePayerAuthenticated || v.Payment.Pending != "debit" {
				panic("debit answer was not lost: " + v.Payment.State)
			}
		}},
		{name: "paid with acquirer unreachable", stuckCredit: true, advance: func(h *harness, tok string) {
			must(h.e.ChooseMethod(ctx, tok, card))
			must(h.e.FinishAuth(ctx, tok, []byte("right")))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			p, token := h.create(700, "good")
			if tc.stuckCredit {
				// The inline Credit and its retry fail, and the outbox
				// delivers nothing: the notice stays in the outbox.
				h.plugins.method.failCredits = 2
				h.e.opts.Kick = func() {}
				h.e.opts.ResultWait = 10 * time.Millisecond
			}
			tc.advance(h, token)
			h.wg.Wait()
			h.clock.Add(11 * time.Minute)
			if _, err := h.e.ChooseMethod(ctx, token, card); !errors.Is(err, ErrPaymentExpired) && !errors.Is(err, ErrPaymentFinal) {
				t.Fatalf("payer step after expiry: %v", err)
			}
			h.e.Sweep(ctx)
			h.wg.Wait()
			got := h.payment(p.ID)
			if got.State != StateExpired || got.Pending != "" {
				t.Fatalf("state %s pending %q, want expired", got.State, got.Pending)
			}
			if b := h.plugins.method.balance("issuer/alice"); b != 10000 {
				t.Fatalf("payer balance %d, want 10000 (debit released)", b)
			}
			if b := h.plugins.method.balance("acquirer/shop"); b != 0 {
				t.Fatalf("merchant balance %d", b)
			}
			if !slices.Contains(h.webhookTypes(), "payment.expired") {
				h.deliver()
				if !slices.Contains(h.webhookTypes(), "payment.expired") {
					t.Fatalf("no expired webhook: %v", h.webhookTypes())
				}
			}
		})
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestCancel(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	p, token := h.create(300, "good")
	must(h.e.ChooseMethod(ctx, token, card))
	if _, err := h.e.CancelPayment(ctx, "other", p.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("other merchant cancel: %v", err)
	}
	got, err := h.e.CancelPayment(ctx, "shop", p.ID)
	if err != nil || got.State != StateCancelled {
		t.Fatalf("cancel: %v %+v", err, got)
	}
	if _, err := h.e.CancelPayment(ctx, "shop", p.ID); !errors.Is(err, ErrPaymentFinal) {
		t.Fatalf("second cancel: %v", err)
	}
	if _, err := h.e.BeginAuth(ctx, token, nil); !errors.Is(err, ErrPaymentFinal) {
		t.Fatalf("auth after cancel: %v", err)
	}
	if got := h.webhookTypes(); !slices.Equal(got, []string{"payment.cancelled"}) {
		t.Fatalf("webhooks %v", got)
	}

	// After the payer authenticated, cancel is refused.
	p2, token2 := h.create(300, "good")
	must(h.e.ChooseMethod(ctx, token2, card))
	must(h.e.FinishAuth(ctx, token2, []byte("right")))
	if _, err := h.e.CancelPayment(ctx, "shop", p2.ID); !errors.Is(err, ErrPaymentFinal) && !errors.Is(err, ErrInvalidState) {
		t.Fatalf("cancel after payment: %v", err)
	}
}

func TestIdempotentCreate(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	in := CreateInput{AmountMinor: 999, Currency: "EUR", OrderRef: "o-1"}
	render := func(p *store.Payment, token, url string) (int, []byte) {
		return 201, []byte(fmt.Sprintf(`{"id":%q,"token":%q}`, p.ID, token))
	}
	var wg sync.WaitGroup
	results := make([]*CreateResult, 50)
	errs := make([]error, 50)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = h.e.CreatePayment(ctx, "shop", "key-1", "hash-a", in, render)
		}()
	}
	wg.Wait()
	ids := map[string]bool{}
	fresh := 0
	for i, r := range results {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		ids[r.Payment.ID] = true
		if !r.Replayed {
			fresh++
		} else if r.Token != "" || string(r.Response) != fmt.Sprintf(`{"id":%q,"token":%q}`, r.Payment.ID, results[firstFresh(results)].Token) {
			t.Fatalf("replay %d: %+v", i, r)
		}
	}
	if len(ids) != 1 || fresh != 1 {
		t.Fatalf("%d payments, %d fresh creates; want 1, 1", len(ids), fresh)
	}
	if _, err := h.e.CreatePayment(ctx, "shop", "key-1", "hash-b", in, render); !errors.Is(err, ErrIdempotencyConflict) {
		t.Fatalf("different body: %v", err)
	}
	// The same key for another merchant is another payment.
	r, err := h.e.CreatePayment(ctx, "other", "key-1", "hash-a", in, render)
	if err != nil || r.Replayed {
		t.Fatalf("other merchant: %v %+v", err, r)
	}
	ps, _, err := h.e.ListPayments(ctx, "shop", "", 10)
	if err != nil || len(ps) != 1 {
		t.Fatalf("listing %d payments: %v", len(ps), err)
	}
}

func firstFresh(rs []*CreateResult) int {
	for i, r := range rs {
		if !r.Replayed {
			return i
		}
	}
	return 0
}

func TestCreateValidation(t *testing.T) {
	h := newHarness(t)
	now := h.clock.Now()
	for _, tc := range []struct {
		name  string
		in    CreateInput
		field string
	}{
		{"zero amount", CreateInput{Currency: "EUR", OrderRef: "o"}, "amount_minor"},
		{"unknown currency", CreateInput{AmountMinor: 1, Currency: "XXY", OrderRef: "o"}, "currency"},
		{"no order ref", CreateInput{AmountMinor: 1, Currency: "EUR"}, "order_ref"},
		{"past expiry", CreateInput{AmountMinor: 1, Currency: "EUR", OrderRef: "o", ExpiresAt: now.Add(-time.Minute)}, "expires_at"},
		{"far expiry", CreateInput{AmountMinor: 1, Currency: "EUR", OrderRef: "o", ExpiresAt: now.Add(48 * time.Hour)}, "expires_at"},
		{"signed without expiry", CreateInput{AmountMinor: 1, Currency: "EUR", OrderRef: "o", SellerSignature: []byte("x")}, "expires_at"},
		{"bad line", CreateInput{AmountMinor: 1, Currency: "EUR", OrderRef: "o", Lines: []store.Line{{Name: "x"}}}, "lines"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := h.e.CreatePayment(context.Background(), "shop", "k-"+tc.name, "h", tc.in, nil)
			var fe *Error
			if !errors.As(err, &fe) || fe.Code != CodeInvalidRequest || fe.Field != tc.field {
				t.Fatalf("err = %v, want invalid_request on %s", err, tc.field)
			}
		})
	}
	ps, _, _ := h.e.ListPayments(context.Background(), "shop", "", 10)
	if len(ps) != 0 {
		t.Fatalf("%d payments stored", len(ps))
	}
}

// TestDynamicLinking changes each order field after B and checks that
// every later proof fails: the stored attestations no longer verify, and
// step C refuses to run and fails the payment without moving money.
func TestDynamicLinking(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		tamper func(p *store.Payment)
	}{
		{"amount", func(p *store.Payment) { p.AmountMinor++ }},
		{"currency", func(p *store.Payment) { p.Currency = "USD" }},
		{"payee", func(p *store.Payment) { p.MerchantID = "other" }},
		{"issuer", func(p *store.Payment) { p.IssuerID = "acquirer" }},
		{"method", func(p *store.Payment) { p.Method = "bank_transfer" }},
		{"expiry", func(p *store.Payment) { p.ExpiresAt = p.ExpiresAt.Add(time.Minute) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			p, token := h.create(800, "good")
			must(h.e.ChooseMethod(ctx, token, card))
			if err := h.e.VerifyStored(h.payment(p.ID), "B"); err != nil {
				t.Fatalf("untampered: %v", err)
			}
			if err := h.st.Update(ctx, func(tx store.Tx) error {
				q, err := tx.GetPayment(p.ID)
				if err != nil {
					return err
				}
				tc.tamper(q)
				return tx.PutPayment(q)
			}); err != nil {
				t.Fatal(err)
			}
			if err := h.e.VerifyStored(h.payment(p.ID), "B"); !errors.Is(err, errAttestation) {
				t.Fatalf("B attestation after tampering: %v", err)
			}
			if _, err := h.e.BeginAuth(ctx, token, nil); err == nil {
				t.Fatal("step C ran on a tampered order")
			}
			if _, err := h.e.FinishAuth(ctx, token, []byte("right")); err == nil {
				t.Fatal("step D ran on a tampered order")
			}
			got := h.payment(p.ID)
			if got.State != StateFailed || got.DeclineCode != "attestation_invalid" {
				t.Fatalf("state %s code %s", got.State, got.DeclineCode)
			}
			if h.plugins.method.debits != 0 {
				t.Fatal("money moved")
			}
		})
	}
}

func TestRetryOnceOnUnavailable(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	_, token := h.create(100, "good")
	h.plugins.auth.failNext = 1
	if _, err := h.e.ChooseMethod(ctx, token, card); err != nil {
		t.Fatalf("one failure should be retried: %v", err)
	}
	h.plugins.auth.failNext = 2
	_, err := h.e.BeginAuth(ctx, token, nil)
	if !errors.Is(err, ErrPluginUnavailable) {
		t.Fatalf("two failures: %v, want plugin_unavailable", err)
	}
	if _, err := h.e.BeginAuth(ctx, token, nil); err != nil {
		t.Fatalf("after the outage: %v", err)
	}
}

// TestRecovery covers the restart rules for a debit whose answer was lost.
func TestRecovery(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		// moved says whether the issuer actually debited before the crash.
		moved bool
	}{
		{"debit happened", true},
		{"debit never reached the issuer", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			p, token := h.create(2500, "good")
			must(h.e.ChooseMethod(ctx, token, card))
			must(h.e.BeginAuth(ctx, token, nil))
			// Simulate a crash right after C committed Pending=debit.
			att := h.signers["issuer"].attest("C", h.payment(p.ID).Digest)
			must(h.e.transition(ctx, p.ID, change{ev: EvPayerOK, mutate: func(q *store.Payment) {
				putAttestation(q, "C", att)
				q.Pending = "debit"
			}}))
			if tc.moved {
				q := h.payment(p.ID)
				o, d := digestOf(q)
				must(h.plugins.method.Debit(ctx, &pb.DebitRequest{InstanceId: "issuer", Order: o, OrderDigest: d, Token: q.InstrumentToken}))
			}
			if n := h.e.Recover(ctx); n != 1 {
				t.Fatalf("recovered %d payments", n)
			}
			h.wg.Wait()
			got := h.payment(p.ID)
			if got.State != StateApproved {
				t.Fatalf("state %s pending %q", got.State, got.Pending)
			}
			if h.plugins.method.debits != 1 {
				t.Fatalf("%d debits", h.plugins.method.debits)
			}
			if b := h.plugins.method.balance("issuer/alice"); b != 10000-2500 {
				t.Fatalf("payer balance %d", b)
			}
		})
	}
}

// TestDynamicLinkingAfterD tampers with the order after the issuer
// debited (C and D proofs made over the original digest): the issuer's
// attestations no longer verify, the acquirer notice is refused, the debit
// is reversed and the payment fails; the merchant is never credited.
func TestDynamicLinkingAfterD(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		tamper func(p *store.Payment)
	}{
		{"amount", func(p *store.Payment) { p.AmountMinor = 1 }},
		{"currency", func(p *store.Payment) { p.Currency = "USD" }},
		{"payee", func(p *store.Payment) { p.MerchantID = "other" }},
		{"method", func(p *store.Payment) { p.Method = "bank_transfer" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			// The inline Credit and its retry fail and the outbox delivers
			// nothing: the payment stays paid with the notice queued.
			h.plugins.method.failCredits = 2
			h.e.opts.Kick = func() {}
			h.e.opts.ResultWait = time.Millisecond
			p, token := h.create(900, "good")
			must(h.e.ChooseMethod(ctx, token, card))
			if v := must(h.e.FinishAuth(ctx, token, []byte("right"))); v.Payment.State != StatePaid {
				t.Fatalf("state %s", v.Payment.State)
			}
			if err := h.st.Update(ctx, func(tx store.Tx) error {
				q, err := tx.GetPayment(p.ID)
				if err != nil {
					return err
				}
				tc.tamper(q)
				return tx.PutPayment(q)
			}); err != nil {
				t.Fatal(err)
			}
			for _, step := range []string{"B", "C"} {
				if err := h.e.VerifyStored(h.payment(p.ID), step); !errors.Is(err, errAttestation) {
					t.Fatalf("step %s attestation after tampering: %v", step, err)
				}
			}
			h.deliver()
			got := h.payment(p.ID)
			if got.State != StateFailed || got.DeclineCode != "attestation_invalid" {
				t.Fatalf("state %s code %s", got.State, got.DeclineCode)
			}
			if b := h.plugins.method.balance("issuer/alice"); b != 10000 {
				t.Fatalf("payer balance %d, want the debit reversed", b)
			}
			for _, acct := range []string{"acquirer/shop", "acquirer/other"} {
				if b := h.plugins.method.balance(acct); b != 0 {
					t.Fatalf("%s credited %d", acct, b)
				}
			}
		})
	}
}

// TestCallDeadline checks a plugin call's deadline is the sooner of the
// payment's expiry and the plugin call timeout.
func TestCallDeadline(t *testing.T) {
	for _, tc := range []struct {
		name     string
		expires  time.Duration
		min, max time.Duration
	}{
		{"payment expires first", 3 * time.Second, 2 * time.Second, 3 * time.Second},
		{"call timeout first", 10 * time.Minute, 9 * time.Second, 10 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.e.opts.PluginCallTimeout = 10 * time.Second
			res, err := h.e.CreatePayment(context.Background(), "shop", "", "", CreateInput{AmountMinor: 5, Currency: "EUR", OrderRef: "d",
				ExpiresAt: h.clock.Now().Add(tc.expires)}, nil)
			if err != nil {
				t.Fatal(err)
			}
			h.e.ChooseMethod(context.Background(), res.Token, card)
			if b := h.plugins.method.lastBudget; b < tc.min || b > tc.max {
				t.Fatalf("deadline %s away, want between %s and %s", b, tc.min, tc.max)
			}
		})
	}
}

// TestConcurrentPayerCalls double-submits every payer step: one debit,
// one credit, one approved payment; the other submissions are refused
// with a state error.
func TestConcurrentPayerCalls(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	p, token := h.create(1000, "good")
	run := func(f func() error) (ok, refused int) {
		var wg sync.WaitGroup
		var mu sync.Mutex
		for i := 0; i < 10; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := f()
				mu.Lock()
				defer mu.Unlock()
				if err == nil {
					ok++
				} else if errors.Is(err, ErrInvalidState) || errors.Is(err, ErrPaymentFinal) {
					refused++
				} else {
					t.Errorf("unexpected error: %v", err)
				}
			}()
		}
		wg.Wait()
		return ok, refused
	}
	if ok, refused := run(func() error { _, err := h.e.ChooseMethod(ctx, token, card); return err }); ok != 1 || refused != 9 {
		t.Fatalf("choose: %d ok, %d refused", ok, refused)
	}
	if ok, refused := run(func() error { _, err := h.e.FinishAuth(ctx, token, []byte("right")); return err }); ok != 1 || refused != 9 {
		t.Fatalf("finish: %d ok, %d refused", ok, refused)
	}
	h.wg.Wait()
	if got := h.payment(p.ID); got.State != StateApproved || h.plugins.method.debits != 1 {
		t.Fatalf("state %s, %d debits", got.State, h.plugins.method.debits)
	}
	if b := h.plugins.method.balance("acquirer/shop"); b != 1000 {
		t.Fatalf("merchant credited %d", b)
	}
}

// TestRecoveryOfInterruptedReversal: a crash after the reversal was
// recorded (Pending=reverse_debit) but before it ran is finished at start.
func TestRecoveryOfInterruptedReversal(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name      string
		code      string
		wantState string
	}{
		{"acquirer refused", "account_closed", StateDeclined},
		{"proof failed", "attestation_invalid", StateFailed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.plugins.method.failCredits = 2 // the payment stays paid
			h.e.opts.Kick = func() {}
			h.e.opts.ResultWait = time.Millisecond
			p, token := h.create(600, "good")
			must(h.e.ChooseMethod(ctx, token, card))
			if v := must(h.e.FinishAuth(ctx, token, []byte("right"))); v.Payment.State != StatePaid {
				t.Fatal(v.Payment.State)
			}
			must(h.e.transition(ctx, p.ID, change{ev: EvReverseStart, mutate: func(q *store.Payment) {
				q.Pending = "reverse_debit"
				q.DeclineCode = tc.code
			}}))
			if b := h.plugins.method.balance("issuer/alice"); b != 10000-600 {
				t.Fatalf("payer balance %d before recovery", b)
			}
			h.e.Recover(ctx)
			got := h.payment(p.ID)
			if got.State != tc.wantState || got.DeclineCode != tc.code || got.Pending != "" {
				t.Fatalf("state %s code %s pending %q", got.State, got.DeclineCode, got.Pending)
			}
			if b := h.plugins.method.balance("issuer/alice"); b != 10000 {
				t.Fatalf("payer balance %d, want the debit reversed", b)
			}
			// The queued acquirer notice now finds the payment final.
			h.deliver()
			if b := h.plugins.method.balance("acquirer/shop"); b != 0 {
				t.Fatalf("merchant credited %d", b)
			}
		})
	}
}

// TestAttestationCheckedAtReceipt: each attestation is verified once,
// when its plugin returns it. A forged one (signed with a key the
// institution never reported, or for another step or order) is refused
// there: the payment fails with attestation_invalid, a debit already made
// is reversed, the merchant is never credited and the forged proof is not
// stored. A valid step-D attestation completes the payment.
func TestAttestationCheckedAtReceipt(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		setup func(h *harness)
		// failAt is the payer call that ends the payment failed, or "" for
		// a payment that must end approved.
		failAt string
		// step is the attestation that must not be stored.
		step string
	}{
		{name: "B forged", setup: func(h *harness) { h.plugins.auth.forge = "B" }, failAt: "choose", step: "B"},
		{name: "C forged", setup: func(h *harness) { h.plugins.auth.forge = "C" }, failAt: "finish", step: "C"},
		{name: "D forged", setup: func(h *harness) {
			h.plugins.method.attestDebit = func(d []byte) *pb.Attestation { return newSigner("issuer").attest("D", d) }
		}, failAt: "finish", step: "D"},
		{name: "D for another step", setup: func(h *harness) {
			h.plugins.method.attestDebit = func(d []byte) *pb.Attestation { return h.signers["issuer"].attest("C", d) }
		}, failAt: "finish", step: "D"},
		{name: "D over another order", setup: func(h *harness) {
			h.plugins.method.attestDebit = func(d []byte) *pb.Attestation { return h.signers["issuer"].attest("D", make([]byte, len(d))) }
		}, failAt: "finish", step: "D"},
		{name: "D valid", setup: func(h *harness) {
			h.plugins.method.attestDebit = func(d []byte) *pb.Attestation { return h.signers["issuer"].attest("D", d) }
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			tc.setup(h)
			p, token := h.create(700, "good")
			_, err := h.e.ChooseMethod(ctx, token, card)
			if tc.failAt != "choose" {
				if err != nil {
					t.Fatal(err)
				}
				_, err = h.e.FinishAuth(ctx, token, []byte("right"))
			}
			h.wg.Wait()
			got := h.payment(p.ID)
			if tc.failAt == "" {
				if err != nil || got.State != StateApproved || storedAttestation(got, "D") == nil {
					t.Fatalf("err %v, state %s, D stored %v; want approved with D stored", err, got.State, storedAttestation(got, "D") != nil)
				}
				if b := h.plugins.method.balance("acquirer/shop"); b != 700 {
					t.Fatalf("merchant balance %d", b)
				}
				return
			}
			// ChooseMethod answers with the failed payment's view, FinishAuth
			// with a decline.
			if tc.failAt == "finish" && !errors.Is(err, ErrDeclined) {
				t.Fatalf("err = %v, want declined", err)
			}
			if got.State != StateFailed || got.DeclineCode != "attestation_invalid" || got.Pending != "" {
				t.Fatalf("state %s code %s pending %q; want failed attestation_invalid", got.State, got.DeclineCode, got.Pending)
			}
			if storedAttestation(got, tc.step) != nil {
				t.Fatalf("the refused %s attestation was stored", tc.step)
			}
			if b := h.plugins.method.balance("issuer/alice"); b != 10000 {
				t.Fatalf("payer balance %d, want 10000 (nothing taken)", b)
			}
			if b := h.plugins.method.balance("acquirer/shop"); b != 0 {
				t.Fatalf("merchant credited %d", b)
			}
		})
	}
}

// TestCrashAfterPaid: the daemon stops right after paid committed, before
// the inline step E carried the acquirer notice (or after Credit, before
// approved was recorded). The queued notice is the recovery path: after a
// restart (Recover makes it due at once) or, without one, after
// NoticeGrace, the outbox carries it and the merchant is credited exactly
// once; the notice is then recorded delivered in the same transaction as
// approved, and carrying it again does nothing.
func TestCrashAfterPaid(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		restart bool
		// credited: Credit reached the acquirer before the crash.
		credited bool
	}{
		{"restart", true, false},
		{"restart, credit made but not recorded", true, true},
		{"no restart: the worker after the grace period", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			var kicks atomic.Int32
			h.e.opts.Kick = func() { kicks.Add(1); h.kick() }
			p, token := h.create(700, "good")
			must(h.e.ChooseMethod(ctx, token, card))
			// What FinishAuth commits up to paid, without its step E.
			q := h.payment(p.ID)
			o, d := digestOf(q)
			must(h.e.transition(ctx, p.ID, change{ev: EvPayerOK, mutate: func(q *store.Payment) {
				putAttestation(q, "C", h.signers["issuer"].attest("C", d))
				q.Pending = "debit"
			}}))
			res := must(h.plugins.method.Debit(ctx, &pb.DebitRequest{InstanceId: "issuer", Order: o, OrderDigest: d, Token: q.InstrumentToken}))
			must(h.e.transition(ctx, p.ID, change{ev: EvDebited, mutate: func(q *store.Payment) {
				q.Pending = ""
				q.DebitReference = res.GetReference()
			}}))
			if tc.credited {
				must(h.plugins.method.Credit(ctx, &pb.CreditRequest{InstanceId: "acquirer", Order: o, OrderDigest: d, PayeeAccount: "shop"}))
			}
			if kicks.Load() != 0 {
				t.Fatal("paid woke the outbox for a notice not yet due")
			}
			notice := func() *store.OutboxMessage {
				var m *store.OutboxMessage
				if err := h.st.View(ctx, func(tx store.Tx) (err error) { m, err = tx.GetOutbox(noticeID(p.ID)); return err }); err != nil {
					t.Fatal(err)
				}
				return m
			}
			if m := notice(); m.State != store.OutboxPending || !m.NextAttempt.Equal(h.clock.Now().Add(NoticeGrace)) {
				t.Fatalf("notice %s due %s; want pending, due in %s", m.State, m.NextAttempt, NoticeGrace)
			}

			if tc.restart {
				e2, err := New(h.e.opts, h.e.Config())
				if err != nil {
					t.Fatal(err)
				}
				h.e = e2
				h.e.Recover(ctx)
			} else {
				h.e.Sweep(ctx) // the sweeper leaves a paid payment to the outbox
				h.clock.Add(NoticeGrace)
				var due []*store.OutboxMessage
				h.st.View(ctx, func(tx store.Tx) (err error) { due, err = tx.DueOutbox(h.clock.Now(), 10); return err })
				if len(due) != 1 || due[0].ID != noticeID(p.ID) {
					t.Fatalf("due after the grace period: %v", due)
				}
				h.deliver()
			}
			h.wg.Wait()
			got := h.payment(p.ID)
			if got.State != StateApproved {
				t.Fatalf("state %s pending %q, want approved", got.State, got.Pending)
			}
			if m := notice(); m.State != store.OutboxDelivered || m.Attempts != 1 {
				t.Fatalf("notice %s after %d attempts, want delivered after 1", m.State, m.Attempts)
			}
			if err := h.e.HandleAcquirerNotice(ctx, notice()); err != nil {
				t.Fatalf("notice carried again: %v", err)
			}
			h.deliver()
			if c, b := h.plugins.method.credits, h.plugins.method.balance("acquirer/shop"); c != 1 || b != 700 {
				t.Fatalf("%d credits, merchant balance %d; want 1, 700", c, b)
			}
			if b := h.plugins.method.balance("issuer/alice"); b != 10000-700 {
				t.Fatalf("payer balance %d", b)
			}
			if got := h.webhookTypes(); !slices.Equal(got, []string{"payment.approved"}) {
				t.Fatalf("webhooks %v", got)
			}
		})
	}
}

// TestChooseMethodOneCommit: steps A and B's outcome are committed in one
// Update, with both events in the timeline; when B does not answer, A is
// committed alone and a retry runs B only.
func TestChooseMethodOneCommit(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name      string
		sig       string
		failNext  int
		wantState string
		wantTypes []string
	}{
		{"B answers", "good", 0, StateSellerAuthenticated, []string{"payment.created", "payment.method_chosen", "payment.seller_authenticated"}},
		{"B refuses", "forged", 0, StateRefused, []string{"payment.created", "payment.method_chosen", "payment.refused"}},
		{"B unreachable", "good", 2, StateMethodChosen, []string{"payment.created", "payment.method_chosen"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			cs := &countingStore{Store: h.st}
			h.e.st = cs
			p, token := h.create(500, tc.sig)
			cs.updates.Store(0)
			h.plugins.auth.failNext = tc.failNext
			_, err := h.e.ChooseMethod(ctx, token, card)
			if (tc.failNext > 0) != errors.Is(err, ErrPluginUnavailable) {
				t.Fatalf("err = %v", err)
			}
			if n := cs.updates.Load(); n != 1 {
				t.Fatalf("%d commits, want 1", n)
			}
			got := h.payment(p.ID)
			if got.State != tc.wantState || got.IssuerID != "issuer" || len(got.Digest) == 0 {
				t.Fatalf("state %s issuer %q digest %x", got.State, got.IssuerID, got.Digest)
			}
			evs := must(h.e.Events(ctx, "shop", p.ID))
			var types []string
			for _, ev := range evs {
				types = append(types, ev.Type)
			}
			if !slices.Equal(types, tc.wantTypes) {
				t.Fatalf("timeline %v, want %v", types, tc.wantTypes)
			}
			if tc.failNext == 0 {
				return
			}
			// The retry runs B only: no instrument is needed again.
			if _, err := h.e.ChooseMethod(ctx, token, ChooseInput{}); err != nil {
				t.Fatalf("retry: %v", err)
			}
			if got := h.payment(p.ID); got.State != StateSellerAuthenticated || storedAttestation(got, "B") == nil {
				t.Fatalf("after the retry: %s", got.State)
			}
		})
	}
}
