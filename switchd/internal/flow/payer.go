package flow

import (
	"context"
	"encoding/hex"
	"errors"
	"slices"
	"sort"
	"time"

	"github.com/switchd/switchd/config"
	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
	"github.com/switchd/switchd/plugins/sdk"
	"github.com/switchd/switchd/plugins/sdk/order"
	"github.com/switchd/switchd/switchd/internal/store"
)

// Bank is an issuer offering bank transfer, for the payer's bank picker.
type Bank struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	BankCode string `json:"bank_code"`
}

// PayerView is what the payment page shows.
type PayerView struct {
	Payment      *store.Payment
	MerchantName string
	IssuerName   string
	AcquirerName string
	// Methods offered ("card", "bank_transfer"). Shared by every view
	// under one configuration: read only.
	Methods []string
	// Banks are the issuers offering bank transfer. Read only, as Methods.
	Banks []Bank
	// Mechanism is how the payer authenticates, after B: "ocra" |
	// "webauthn".
	Mechanism string
	// DigestHex is the order digest once the order is complete (after A).
	DigestHex string
}

// ChooseInput is the payer's choice at step A. The card number lives only
// in memory for the ResolveInstrument call.
type ChooseInput struct {
	Method  string
	Card    *pb.CardInstrument
	Account *pb.AccountInstrument
}

// AuthChallenge is what the payer's page needs to continue step C (or an
// enrolment).
type AuthChallenge struct {
	Mechanism     string
	ChallengeData []byte
	DigestHex     string
}

func (e *Engine) byToken(ctx context.Context, token string) (*store.Payment, error) {
	if token == "" || len(token) > 256 {
		return nil, ErrNotFound
	}
	var p *store.Payment
	err := e.st.View(ctx, func(tx store.Tx) error {
		var err error
		p, err = tx.PaymentByToken(TokenHash(token))
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, internal(err)
	}
	return p, nil
}

// PayerView returns the payment page's view of the payment with token.
func (e *Engine) PayerView(ctx context.Context, token string) (*PayerView, error) {
	p, err := e.byToken(ctx, token)
	if err != nil {
		return nil, err
	}
	return e.view(p), nil
}

func (e *Engine) view(p *store.Payment) *PayerView {
	v := &PayerView{Payment: p}
	cfg := e.cur.Load()
	if m, err := e.merchant(p); err == nil {
		v.MerchantName = m.DisplayName
	}
	if in, _, err := e.institution(p, p.AcquirerID); err == nil {
		v.AcquirerName = in.DisplayName
	}
	if p.IssuerID != "" {
		if in, c, err := e.institution(p, p.IssuerID); err == nil {
			v.IssuerName = in.DisplayName
			if p.State != StateCreated && p.State != StateMethodChosen {
				v.Mechanism = mechanism(c, in)
			}
		}
	}
	if len(p.Digest) > 0 {
		v.DigestHex = hex.EncodeToString(p.Digest)
	}
	l := e.pageLists(cfg)
	v.Methods, v.Banks = l.methods, l.banks
	return v
}

// pageLists are the methods and banks the payment page offers under one
// configuration.
type pageLists struct {
	methods []string
	banks   []Bank
}

// pageLists returns cfg's page lists, computed on first use (every
// payment page view and payer step answer shows them).
func (e *Engine) pageLists(cfg *Config) *pageLists {
	if l, ok := e.pages.Load(cfg); ok {
		return l.(*pageLists)
	}
	l := &pageLists{}
	methods := map[string]bool{}
	for _, in := range cfg.Network.Institutions {
		if !in.HasRole(config.RoleIssuer) {
			continue
		}
		for m := range in.Methods {
			if n := order.MethodName(m); n != "" {
				methods[n] = true
			}
		}
		if in.Methods[pb.Method_METHOD_BANK_TRANSFER] != nil {
			l.banks = append(l.banks, Bank{ID: in.ID, Name: in.DisplayName, BankCode: in.BankCode})
		}
	}
	for m := range methods {
		l.methods = append(l.methods, m)
	}
	sort.Strings(l.methods)
	sort.Slice(l.banks, func(i, j int) bool { return l.banks[i].Name < l.banks[j].Name })
	e.pages.Store(cfg, l)
	return l
}

// mechanism names how the payer authenticates with the issuer: "webauthn"
// for a plugin with the webauthn capability, "ocra" for one with the ocra
// capability, else the plugin's name.
func mechanism(c *Config, in *config.Institution) string {
	if in.PayerAuth == nil {
		return ""
	}
	name := in.PayerAuth.Plugin
	if info := c.Infos[name]; info != nil {
		for _, cap := range []string{"webauthn", "ocra"} {
			if slices.Contains(info.GetCapabilities(), cap) {
				return cap
			}
		}
	}
	if name == "passkey" {
		return "webauthn"
	}
	return name
}

// checkLive returns the error for a payment that cannot take a payer step:
// final or expired.
func (e *Engine) checkLive(p *store.Payment) error {
	if IsFinal(p.State) {
		return newErr(CodePaymentFinal, "", "payment is %s", p.State)
	}
	if !e.now().Before(p.ExpiresAt) {
		return ErrPaymentExpired
	}
	return nil
}

// route finds the issuer for the payer's instrument in the current
// configuration: by card BIN range or by bank code, among issuers offering
// the method.
func (e *Engine) route(method pb.Method, in ChooseInput) (*config.Institution, error) {
	cfg := e.cur.Load()
	ids := make([]string, 0, len(cfg.Network.Institutions))
	for id := range cfg.Network.Institutions {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		inst := cfg.Network.Institutions[id]
		if !inst.HasRole(config.RoleIssuer) || inst.Methods[method] == nil {
			continue
		}
		switch method {
		case pb.Method_METHOD_CARD:
			for _, r := range inst.BINRanges {
				if r.Contains(in.Card.GetPan()) {
					return inst, nil
				}
			}
		case pb.Method_METHOD_BANK_TRANSFER:
			if inst.BankCode != "" && inst.BankCode == in.Account.GetBankCode() {
				return inst, nil
			}
		}
	}
	return nil, ErrUnroutable
}

func validateChoice(in ChooseInput) (pb.Method, error) {
	m, ok := parseMethod(in.Method)
	if !ok {
		return m, invalid("method", "must be card or bank_transfer")
	}
	switch m {
	case pb.Method_METHOD_CARD:
		pan := in.Card.GetPan()
		if in.Card == nil || len(pan) < 12 || len(pan) > 19 || !allDigits(pan) {
			return m, invalid("card.number", "must be 12 to 19 digits")
		}
		if mo := in.Card.GetExpiryMonth(); mo < 1 || mo > 12 {
			return m, invalid("card.expiry_month", "must be 1 to 12")
		}
		if y := in.Card.GetExpiryYear(); y < 2000 || y > 2200 {
			return m, invalid("card.expiry_year", "must be a four-digit year")
		}
	case pb.Method_METHOD_BANK_TRANSFER:
		if in.Account == nil || in.Account.GetBankCode() == "" || len(in.Account.GetBankCode()) > 64 {
			return m, invalid("account.bank_code", "required")
		}
		if a := in.Account.GetAccountNumber(); a == "" || len(a) > 64 {
			return m, invalid("account.account_number", "required, at most 64 characters")
		}
	}
	return m, nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// ChooseMethod runs step A (route, resolve the instrument at the issuer,
// fix the full order and its digest) and then step B (the acquirer checks
// the seller's signature and attests the digest). A declined instrument
// or an unroutable one leaves the payment unchanged, so the payer can try
// another. Called again on a payment in method_chosen (B did not answer),
// it retries B only.
//
// A and B's outcome are committed together, in one Update (events
// method_chosen and seller_authenticated, refused or failed, each with its
// own time): nothing outside the switch needs A durable before B. B moves
// no money, and the seller authenticator is idempotent on the payment id
// whatever the digest, so after a crash between the AuthenticateSeller
// call and the commit the payment is simply still created and the payer
// chooses again. When B does not answer (plugin error), A is committed
// alone, as method_chosen, so that a retry (or Recover) runs B only.
func (e *Engine) ChooseMethod(ctx context.Context, token string, in ChooseInput) (*PayerView, error) {
	p, err := e.byToken(ctx, token)
	if err != nil {
		return nil, err
	}
	unlock := e.lock(p.ID)
	defer unlock()
	if p, err = e.get(ctx, p.ID); err != nil {
		return nil, err
	}
	if err := e.checkLive(p); err != nil {
		return nil, err
	}
	var chosen []change // step A, when it is committed with B
	switch p.State {
	case StateCreated:
		var a change
		if p, a, err = e.stepA(ctx, p, in); err != nil {
			return nil, err
		}
		chosen = append(chosen, a)
	case StateMethodChosen:
	default:
		return nil, newErr(CodeInvalidState, "", "the method was already chosen")
	}
	p, err = e.stepB(ctx, p, chosen...)
	if err != nil {
		return nil, err
	}
	if p.State == StateRefused {
		return e.view(p), &Error{Code: CodeDeclined, Msg: p.DeclineCode}
	}
	return e.view(p), nil
}

// stepA resolves the payer's instrument and returns the change that
// records it (event method_chosen), not yet committed, and the payment as
// it is with that change applied, in memory.
func (e *Engine) stepA(ctx context.Context, p *store.Payment, in ChooseInput) (*store.Payment, change, error) {
	start := time.Now()
	defer e.observeStep("A", start)
	method, err := validateChoice(in)
	if err != nil {
		return nil, change{}, err
	}
	issuer, err := e.route(method, in)
	if err != nil {
		return nil, change{}, err
	}
	pm, err := e.opts.Plugins.PaymentMethod(issuer.Methods[method].Plugin)
	if err != nil {
		return nil, change{}, &Error{Code: CodePluginUnavailable, Msg: "payment method plugin unavailable", Err: err}
	}
	req := &pb.ResolveInstrumentRequest{InstanceId: issuer.ID, PaymentId: p.ID}
	if method == pb.Method_METHOD_CARD {
		req.Instrument = &pb.ResolveInstrumentRequest_Card{Card: in.Card}
	} else {
		req.Instrument = &pb.ResolveInstrumentRequest_Account{Account: in.Account}
	}
	res, err := call(e, ctx, issuer.Methods[method].Plugin, "ResolveInstrument", p.ExpiresAt,
		func(ctx context.Context) (*pb.ResolveInstrumentResponse, error) {
			return pm.ResolveInstrument(ctx, req)
		})
	if err != nil {
		return nil, change{}, err
	}
	if res.GetVerdict() != pb.Verdict_VERDICT_APPROVED {
		code := res.GetDeclineCode()
		if code == "" {
			code = sdk.DeclineDoNotHonor
		}
		return nil, change{}, &Error{Code: CodeDeclined, Field: "instrument", Msg: code}
	}
	fill := func(q *store.Payment) {
		q.IssuerID = issuer.ID
		q.Method = order.MethodName(method)
		q.InstrumentToken = res.GetToken()
		q.BIN = res.GetBin()
		q.Last4 = res.GetLast4()
		q.Display = res.GetDisplay()
		q.PayerRef = res.GetPayerRef()
		if method == pb.Method_METHOD_BANK_TRANSFER {
			q.BankCode = in.Account.GetBankCode()
		}
	}
	// The digest is computed once, here, not in the commit.
	q := *p
	fill(&q)
	_, q.Digest = digestOf(&q)
	q.State = StateMethodChosen
	a := change{ev: EvChoose, expect: StateCreated, detail: issuer.ID, at: e.now(), mutate: func(r *store.Payment) {
		fill(r)
		r.Digest = q.Digest
	}}
	return &q, a, nil
}

// stepB runs step B on p (in method_chosen) and commits its outcome
// together with the changes before (step A, when ChooseMethod runs both).
// If B gets no answer, only the changes before are committed.
func (e *Engine) stepB(ctx context.Context, p *store.Payment, before ...change) (*store.Payment, error) {
	start := time.Now()
	defer e.observeStep("B", start)
	noAnswer := func(err error) (*store.Payment, error) {
		if len(before) > 0 {
			if _, terr := e.transition(ctx, p.ID, before...); terr != nil {
				e.log.Warn("step A not recorded after B failed; the payer chooses again", "payment", p.ID, "err", terr)
			}
		}
		return nil, err
	}
	end := func(c change) (*store.Payment, error) {
		q, err := e.transition(ctx, p.ID, append(before, c)...)
		if err != nil {
			return nil, internal(err)
		}
		return q, nil
	}
	acq, _, err := e.institution(p, p.AcquirerID)
	if err != nil {
		return noAnswer(err)
	}
	auth, err := e.authPlugin(acq.SellerAuth)
	if err != nil {
		return noAnswer(err)
	}
	o, digest := digestOf(p)
	req := &pb.AuthenticateSellerRequest{InstanceId: acq.ID, Order: o, OrderDigest: digest,
		SellerSignature: p.SellerSignature, SellerKeyId: p.SellerKeyID, SignedAtUnixMs: p.SignedAtUnixMS}
	res, err := call(e, ctx, acq.SellerAuth.Plugin, "AuthenticateSeller", p.ExpiresAt,
		func(ctx context.Context) (*pb.AuthenticateSellerResponse, error) {
			return auth.AuthenticateSeller(ctx, req)
		})
	if err != nil {
		return noAnswer(err)
	}
	if res.GetVerdict() != pb.Verdict_VERDICT_APPROVED {
		code := res.GetDeclineCode()
		if code == "" {
			code = sdk.DeclineDoNotHonor
		}
		return end(change{ev: EvSellerRefused, expect: StateMethodChosen, mutate: func(q *store.Payment) { q.DeclineCode = code }})
	}
	if err := e.verifyAttestation(p, res.GetAttestation(), "B", acq.ID, digest); err != nil {
		e.log.Error("acquirer attestation rejected", "payment", p.ID, "err", err)
		return end(change{ev: EvFail, expect: StateMethodChosen, mutate: func(q *store.Payment) { q.DeclineCode = "attestation_invalid" }})
	}
	return end(change{ev: EvSellerOK, expect: StateMethodChosen, mutate: func(q *store.Payment) {
		putAttestation(q, "B", res.GetAttestation())
	}})
}

// final moves the payment to a final state with a decline code.
func (e *Engine) final(ctx context.Context, id, expect string, ev Event, code string) (*store.Payment, error) {
	p, err := e.transition(ctx, id, change{ev: ev, expect: expect, mutate: func(q *store.Payment) { q.DeclineCode = code }})
	if err != nil {
		return nil, internal(err)
	}
	return p, nil
}

// payerStep loads the payment for a step-C call and checks it is live and
// in seller_authenticated, and that the acquirer's attestation (verified
// when it was received) covers the order as stored now (checkOrder).
func (e *Engine) payerStep(ctx context.Context, p *store.Payment) (*store.Payment, *config.Institution, sdk.Authenticator, error) {
	p, err := e.get(ctx, p.ID)
	if err != nil {
		return nil, nil, nil, err
	}
	if err := e.checkLive(p); err != nil {
		return nil, nil, nil, err
	}
	if p.State != StateSellerAuthenticated {
		return nil, nil, nil, newErr(CodeInvalidState, "", "payment is %s; authentication needs seller_authenticated", p.State)
	}
	if _, _, err := checkOrder(p, "B"); err != nil {
		e.log.Error("the order no longer matches the acquirer's attestation", "payment", p.ID, "err", err)
		q, terr := e.final(ctx, p.ID, StateSellerAuthenticated, EvFail, "attestation_invalid")
		if terr != nil {
			return nil, nil, nil, terr
		}
		return q, nil, nil, &Error{Code: CodeInternal, Msg: "the order no longer matches the acquirer's attestation", Err: err}
	}
	issuer, _, err := e.institution(p, p.IssuerID)
	if err != nil {
		return nil, nil, nil, err
	}
	auth, err := e.authPlugin(issuer.PayerAuth)
	if err != nil {
		return nil, nil, nil, err
	}
	return p, issuer, auth, nil
}

// BeginAuth runs the first half of step C: the payer's challenge goes to
// the issuer, which answers it and poses its own, both bound to the order
// digest.
func (e *Engine) BeginAuth(ctx context.Context, token string, payerData []byte) (*AuthChallenge, error) {
	p, err := e.byToken(ctx, token)
	if err != nil {
		return nil, err
	}
	unlock := e.lock(p.ID)
	defer unlock()
	p, issuer, auth, err := e.payerStep(ctx, p)
	if err != nil {
		return nil, err
	}
	o, digest := OrderOf(p), p.Digest // payerStep checked they match
	req := &pb.BeginMutualAuthRequest{InstanceId: issuer.ID, Order: o, OrderDigest: digest, PayerRef: p.PayerRef,
		PayerData: payerData, AcquirerAttestation: storedAttestation(p, "B")}
	res, err := call(e, ctx, issuer.PayerAuth.Plugin, "BeginMutualAuth", p.ExpiresAt,
		func(ctx context.Context) (*pb.BeginMutualAuthResponse, error) { return auth.BeginMutualAuth(ctx, req) })
	if err != nil {
		return nil, err
	}
	if res.GetVerdict() == pb.Verdict_VERDICT_DECLINED {
		code := res.GetDeclineCode()
		if code == "" {
			code = sdk.DeclineAuthFailed
		}
		if _, err := e.payerDeclined(ctx, p, code, false); err != nil {
			return nil, err
		}
		return nil, &Error{Code: CodeDeclined, Msg: code}
	}
	return &AuthChallenge{Mechanism: res.GetMechanism(), ChallengeData: res.GetChallengeData(), DigestHex: hex.EncodeToString(digest)}, nil
}

// MaxPayerAttempts is how many wrong step-C answers a payer may give in one
// payment before it ends declined. The issuer's own lockout (five failures
// across payments for the built-in authenticators) still applies on top.
const MaxPayerAttempts = 3

// retryableC reports whether a step-C decline leaves the payer another try
// in the same payment: a wrong answer, a spent or expired challenge, or no
// credential yet (the payer can enrol and come back). Any other code, such
// as "locked", ends the payment.
func retryableC(code string) bool {
	switch code {
	case sdk.DeclineAuthFailed, sdk.DeclineReplay, sdk.DeclineUnknownPayer:
		return true
	}
	return false
}

// payerDeclined records a step-C decline. A retryable decline within
// MaxPayerAttempts keeps the payment at seller_authenticated (an event in
// the timeline records it); otherwise the payment ends declined. counts
// says whether the decline was a wrong answer (Finish) rather than a
// refusal to start (Begin), which does not use up an attempt.
func (e *Engine) payerDeclined(ctx context.Context, p *store.Payment, code string, counts bool) (*store.Payment, error) {
	if retryableC(code) && (!counts || p.PayerAuthFailures+1 < MaxPayerAttempts) {
		q, err := e.transition(ctx, p.ID, change{ev: EvPayerRetry, detail: code, expect: StateSellerAuthenticated,
			mutate: func(q *store.Payment) {
				if counts {
					q.PayerAuthFailures++
				}
			}})
		if err != nil {
			return nil, internal(err)
		}
		return q, nil
	}
	return e.final(ctx, p.ID, StateSellerAuthenticated, EvPayerDeclined, code)
}

// FinishAuth runs the second half of step C and, on approval, steps D
// and E: the issuer debits the payer, the payment becomes paid (the notice
// to the acquirer is queued as the recovery path) and the notice is
// carried to the acquirer at once, in this request. If that did not
// settle the payment (acquirer unavailable) it waits (at most ResultWait)
// for the outbox worker's attempt, so the page usually shows the result
// at once.
func (e *Engine) FinishAuth(ctx context.Context, token string, payerData []byte) (*PayerView, error) {
	p, err := e.byToken(ctx, token)
	if err != nil {
		return nil, err
	}
	p, err = e.finishAuth(ctx, p, payerData)
	if err != nil {
		return nil, err
	}
	if p.State == StatePaid {
		p, err = e.waitWhile(ctx, p.ID, StatePaid, e.opts.ResultWait)
		if err != nil {
			return nil, err
		}
	}
	v := e.view(p)
	if p.State == StateDeclined || p.State == StateFailed {
		return v, &Error{Code: CodeDeclined, Msg: p.DeclineCode}
	}
	return v, nil
}

func (e *Engine) finishAuth(ctx context.Context, p *store.Payment, payerData []byte) (*store.Payment, error) {
	unlock := e.lock(p.ID)
	defer unlock()
	start := time.Now()
	p, issuer, auth, err := e.payerStep(ctx, p)
	if err != nil {
		return nil, err
	}
	o, digest := OrderOf(p), p.Digest // payerStep checked they match
	req := &pb.FinishMutualAuthRequest{InstanceId: issuer.ID, Order: o, OrderDigest: digest, PayerRef: p.PayerRef, PayerData: payerData}
	res, err := call(e, ctx, issuer.PayerAuth.Plugin, "FinishMutualAuth", p.ExpiresAt,
		func(ctx context.Context) (*pb.FinishMutualAuthResponse, error) {
			return auth.FinishMutualAuth(ctx, req)
		})
	if err != nil {
		return nil, err
	}
	if res.GetVerdict() != pb.Verdict_VERDICT_APPROVED {
		code := res.GetDeclineCode()
		if code == "" {
			code = sdk.DeclineAuthFailed
		}
		e.observeStep("C", start)
		q, err := e.payerDeclined(ctx, p, code, true)
		if err != nil {
			return nil, err
		}
		if !IsFinal(q.State) {
			// The payer may try again: say why this answer failed.
			return nil, &Error{Code: CodeDeclined, Msg: code}
		}
		return q, nil
	}
	if err := e.verifyAttestation(p, res.GetAttestation(), "C", issuer.ID, digest); err != nil {
		e.log.Error("issuer attestation rejected", "payment", p.ID, "err", err)
		return e.final(ctx, p.ID, StateSellerAuthenticated, EvFail, "attestation_invalid")
	}
	// C approved: record it together with Pending=debit, so that recovery
	// knows a debit may have happened from here on.
	p, err = e.transition(ctx, p.ID, change{ev: EvPayerOK, expect: StateSellerAuthenticated, mutate: func(q *store.Payment) {
		putAttestation(q, "C", res.GetAttestation())
		q.Pending = "debit"
	}})
	if err != nil {
		return nil, internal(err)
	}
	e.observeStep("C", start)
	return e.debit(ctx, p, false)
}

// enrollPayment checks a payment may be used to enrol a credential: step A
// is done (the payer is known at the issuer) and it is not final.
func (e *Engine) enrollPayment(ctx context.Context, token string) (*store.Payment, *config.Institution, sdk.Enroller, error) {
	p, err := e.byToken(ctx, token)
	if err != nil {
		return nil, nil, nil, err
	}
	if err := e.checkLive(p); err != nil {
		return nil, nil, nil, err
	}
	if p.State != StateSellerAuthenticated || p.PayerRef == "" {
		return nil, nil, nil, newErr(CodeInvalidState, "", "enrolment needs an order the seller's bank authenticated")
	}
	issuer, _, err := e.institution(p, p.IssuerID)
	if err != nil {
		return nil, nil, nil, err
	}
	if issuer.PayerAuth == nil {
		return nil, nil, nil, newErr(CodeInvalidState, "", "the issuer has no payer authenticator")
	}
	en, err := e.opts.Plugins.Enroller(issuer.PayerAuth.Plugin)
	if err != nil {
		return nil, nil, nil, &Error{Code: CodeInvalidState, Msg: "the issuer's authenticator does not enrol credentials", Err: err}
	}
	return p, issuer, en, nil
}

// BeginEnrollment starts enrolling a payer credential at the issuer chosen
// at step A.
func (e *Engine) BeginEnrollment(ctx context.Context, token string, payerData []byte) (*AuthChallenge, error) {
	p, issuer, en, err := e.enrollPayment(ctx, token)
	if err != nil {
		return nil, err
	}
	req := &pb.BeginEnrollmentRequest{InstanceId: issuer.ID, PayerRef: p.PayerRef, PayerData: payerData}
	res, err := call(e, ctx, issuer.PayerAuth.Plugin, "BeginEnrollment", p.ExpiresAt,
		func(ctx context.Context) (*pb.BeginEnrollmentResponse, error) { return en.BeginEnrollment(ctx, req) })
	if err != nil {
		return nil, err
	}
	return &AuthChallenge{Mechanism: res.GetMechanism(), ChallengeData: res.GetChallengeData(), DigestHex: hex.EncodeToString(p.Digest)}, nil
}

// FinishEnrollment completes the enrolment.
func (e *Engine) FinishEnrollment(ctx context.Context, token string, payerData []byte) error {
	p, issuer, en, err := e.enrollPayment(ctx, token)
	if err != nil {
		return err
	}
	req := &pb.FinishEnrollmentRequest{InstanceId: issuer.ID, PayerRef: p.PayerRef, PayerData: payerData}
	_, err = call(e, ctx, issuer.PayerAuth.Plugin, "FinishEnrollment", p.ExpiresAt,
		func(ctx context.Context) (*pb.FinishEnrollmentResponse, error) { return en.FinishEnrollment(ctx, req) })
	if err != nil {
		return err
	}
	return nil
}
