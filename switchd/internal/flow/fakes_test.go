package flow

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/switchd/switchd/config"
	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
	"github.com/switchd/switchd/plugins/sdk"
	"github.com/switchd/switchd/plugins/sdk/order"
	"github.com/switchd/switchd/switchd/internal/store"
	"github.com/switchd/switchd/switchd/internal/store/storetest"
)

// signer is an institution's attestation key.
type signer struct {
	inst string
	pub  ed25519.PublicKey
	priv ed25519.PrivateKey
}

func newSigner(inst string) *signer {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	return &signer{inst: inst, pub: pub, priv: priv}
}

func (s *signer) attest(step string, digest []byte) *pb.Attestation {
	return &pb.Attestation{InstitutionId: s.inst, KeyId: "k1", Step: step, Signature: ed25519.Sign(s.priv, order.AttestationMessage(step, s.inst, digest))}
}

// fakeAuth is a test authenticator: seller auth approves orders whose
// seller signature is "good"; payer auth approves payer_data "right".
type fakeAuth struct {
	sdk.Plugin
	signers  map[string]*signer
	mu       sync.Mutex
	failNext int // number of calls to fail with Unavailable
	calls    int
	enrolls  bool     // the plugin serves enrolment
	enrolled []string // institution/payer_ref of finished enrolments
	// forge names a step ("B" or "C") whose attestation is signed with a
	// key the institution never reported.
	forge string
}

// attest signs step over digest as institution inst, or forges the
// signature when a.forge names the step.
func (a *fakeAuth) attest(inst, step string, digest []byte) *pb.Attestation {
	if a.forge == step {
		return newSigner(inst).attest(step, digest)
	}
	return a.signers[inst].attest(step, digest)
}

func (a *fakeAuth) fail() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.calls++
	if a.failNext > 0 {
		a.failNext--
		return sdk.Unavailable(errors.New("plugin restarting"))
	}
	return nil
}

func (a *fakeAuth) AuthenticateSeller(_ context.Context, r *pb.AuthenticateSellerRequest) (*pb.AuthenticateSellerResponse, error) {
	if err := a.fail(); err != nil {
		return nil, err
	}
	if string(r.GetSellerSignature()) != "good" {
		return &pb.AuthenticateSellerResponse{Verdict: pb.Verdict_VERDICT_DECLINED, DeclineCode: sdk.DeclineBadSignature}, nil
	}
	return &pb.AuthenticateSellerResponse{Verdict: pb.Verdict_VERDICT_APPROVED, Attestation: a.attest(r.GetInstanceId(), "B", r.GetOrderDigest())}, nil
}

func (a *fakeAuth) BeginMutualAuth(_ context.Context, r *pb.BeginMutualAuthRequest) (*pb.BeginMutualAuthResponse, error) {
	if err := a.fail(); err != nil {
		return nil, err
	}
	return &pb.BeginMutualAuthResponse{Verdict: pb.Verdict_VERDICT_APPROVED, Mechanism: "fake", ChallengeData: []byte(`{"c":"x"}`)}, nil
}

func (a *fakeAuth) FinishMutualAuth(_ context.Context, r *pb.FinishMutualAuthRequest) (*pb.FinishMutualAuthResponse, error) {
	if err := a.fail(); err != nil {
		return nil, err
	}
	if string(r.GetPayerData()) != "right" {
		return &pb.FinishMutualAuthResponse{Verdict: pb.Verdict_VERDICT_DECLINED, DeclineCode: sdk.DeclineAuthFailed}, nil
	}
	return &pb.FinishMutualAuthResponse{Verdict: pb.Verdict_VERDICT_APPROVED, Attestation: a.attest(r.GetInstanceId(), "C", r.GetOrderDigest())}, nil
}

type opKey struct {
	inst, payment string
	op            pb.Operation
}

// fakeMethod is a test payment method with an in-memory ledger: account
// balances by "institution/account", operations idempotent by payment.
type fakeMethod struct {
	sdk.Plugin
	mu       sync.Mutex
	balances map[string]int64
	ops      map[opKey]*pb.MoneyResult
	owner    map[string]string // payment -> debited account
	// refuseCredit makes Credit decline; lostDebits makes the next n Debit
	// calls move the money (once) and then fail as if the answer was lost.
	refuseCredit bool
	lostDebits   int
	// failCredits makes the next n Credit calls fail as unavailable
	// (nothing credited); credits counts the credits made.
	failCredits int
	credits     int
	// attestDebit, when set, signs the step-D attestation of an approved
	// Debit.
	attestDebit func(digest []byte) *pb.Attestation
	debits      int
	lastBudget  time.Duration // time left before the deadline of the last ResolveInstrument
}

func newFakeMethod() *fakeMethod {
	return &fakeMethod{balances: map[string]int64{"issuer/alice": 10000, "issuer/poor": 50}, ops: map[opKey]*pb.MoneyResult{}, owner: map[string]string{}}
}

func (m *fakeMethod) balance(acct string) int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.balances[acct]
}

func (m *fakeMethod) ResolveInstrument(ctx context.Context, r *pb.ResolveInstrumentRequest) (*pb.ResolveInstrumentResponse, error) {
	if d, ok := ctx.Deadline(); ok {
		m.mu.Lock()
		m.lastBudget = time.Until(d)
		m.mu.Unlock()
	}
	var acct string
	switch {
	case r.GetCard() != nil:
		pan := r.GetCard().GetPan()
		if pan == "4111110000000000" {
			return &pb.ResolveInstrumentResponse{Verdict: pb.Verdict_VERDICT_DECLINED, DeclineCode: sdk.DeclineInvalidCard}, nil
		}
		acct = "alice"
		if pan == "4111119999999999" {
			acct = "poor"
		}
		return &pb.ResolveInstrumentResponse{Verdict: pb.Verdict_VERDICT_APPROVED, Token: "tok_" + acct, Bin: pan[:6], Last4: pan[len(pan)-4:], Display: "VISA ···· " + pan[len(pan)-4:], PayerRef: acct}, nil
	default:
		acct = r.GetAccount().GetAccountNumber()
		return &pb.ResolveInstrumentResponse{Verdict: pb.Verdict_VERDICT_APPROVED, Token: "tok_" + acct, Last4: acct[len(acct)-4:], PayerRef: acct}, nil
	}
}

func (m *fakeMethod) Debit(_ context.Context, r *pb.DebitRequest) (*pb.MoneyResult, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := opKey{r.GetInstanceId(), r.GetOrder().GetPaymentId(), pb.Operation_OPERATION_DEBIT}
	if res, ok := m.ops[k]; ok {
		if m.lostDebits > 0 {
			m.lostDebits--
			return nil, sdk.Unavailable(errors.New("connection reset"))
		}
		return res, nil
	}
	m.debits++
	acct := r.GetInstanceId() + "/" + r.GetToken()[len("tok_"):]
	amt := r.GetOrder().GetAmountMinor()
	var res *pb.MoneyResult
	if m.balances[acct] < amt {
		res = &pb.MoneyResult{State: pb.OperationState_OPERATION_STATE_DECLINED, DeclineCode: sdk.DeclineInsufficientFunds}
	} else {
		m.balances[acct] -= amt
		m.balances[r.GetInstanceId()+"/clearing"] += amt
		m.owner[r.GetOrder().GetPaymentId()] = acct
		res = &pb.MoneyResult{State: pb.OperationState_OPERATION_STATE_APPROVED, Reference: "d-" + r.GetOrder().GetPaymentId(), AmountMinor: amt}
		if m.attestDebit != nil {
			res.Attestation = m.attestDebit(r.GetOrderDigest())
		}
	}
	res.Currency = r.GetOrder().GetCurrency()
	m.ops[k] = res
	if m.lostDebits > 0 {
		m.lostDebits--
		return nil, sdk.Unavailable(errors.New("connection reset"))
	}
	return res, nil
}

func (m *fakeMethod) Credit(_ context.Context, r *pb.CreditRequest) (*pb.MoneyResult, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.failCredits > 0 {
		m.failCredits--
		return nil, sdk.Unavailable(errors.New("acquirer unreachable"))
	}
	k := opKey{r.GetInstanceId(), r.GetOrder().GetPaymentId(), pb.Operation_OPERATION_CREDIT}
	if res, ok := m.ops[k]; ok {
		return res, nil
	}
	amt := r.GetOrder().GetAmountMinor()
	res := &pb.MoneyResult{State: pb.OperationState_OPERATION_STATE_APPROVED, Reference: "c-" + r.GetOrder().GetPaymentId(), AmountMinor: amt}
	if m.refuseCredit {
		res = &pb.MoneyResult{State: pb.OperationState_OPERATION_STATE_DECLINED, DeclineCode: "account_closed"}
	} else {
		m.balances[r.GetInstanceId()+"/"+r.GetPayeeAccount()] += amt
		m.balances[r.GetInstanceId()+"/clearing"] -= amt
		m.credits++
	}
	m.ops[k] = res
	return res, nil
}

func (m *fakeMethod) Reverse(_ context.Context, r *pb.ReverseRequest) (*pb.MoneyResult, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := opKey{r.GetInstanceId(), r.GetPaymentId(), r.GetOperation()}
	res, ok := m.ops[k]
	if !ok {
		return &pb.MoneyResult{State: pb.OperationState_OPERATION_STATE_NOT_FOUND}, nil
	}
	if res.GetState() != pb.OperationState_OPERATION_STATE_APPROVED {
		return res, nil
	}
	m.balances[m.owner[r.GetPaymentId()]] += res.GetAmountMinor()
	m.balances[r.GetInstanceId()+"/clearing"] -= res.GetAmountMinor()
	rev := &pb.MoneyResult{State: pb.OperationState_OPERATION_STATE_REVERSED, Reference: res.GetReference(), AmountMinor: res.GetAmountMinor()}
	m.ops[k] = rev
	return rev, nil
}

func (m *fakeMethod) GetOperationStatus(_ context.Context, r *pb.OperationStatusRequest) (*pb.MoneyResult, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if res, ok := m.ops[opKey{r.GetInstanceId(), r.GetPaymentId(), r.GetOperation()}]; ok {
		return res, nil
	}
	return &pb.MoneyResult{State: pb.OperationState_OPERATION_STATE_NOT_FOUND}, nil
}

type fakePlugins struct {
	auth   *fakeAuth
	method *fakeMethod
}

func (f *fakePlugins) Authenticator(name string) (sdk.Authenticator, error) {
	if name != "auth" {
		return nil, errors.New("no such plugin")
	}
	return f.auth, nil
}

func (f *fakePlugins) PaymentMethod(name string) (sdk.PaymentMethod, error) {
	if name != "method" {
		return nil, errors.New("no such plugin")
	}
	return f.method, nil
}

func (f *fakePlugins) Enroller(name string) (sdk.Enroller, error) {
	if name != "auth" || !f.auth.enrolls {
		return nil, errors.New("plugin does not enrol")
	}
	return f.auth, nil
}

func (a *fakeAuth) BeginEnrollment(_ context.Context, r *pb.BeginEnrollmentRequest) (*pb.BeginEnrollmentResponse, error) {
	return &pb.BeginEnrollmentResponse{Mechanism: "fake", ChallengeData: []byte(`{"enrol":"` + r.GetPayerRef() + `"}`)}, nil
}

func (a *fakeAuth) FinishEnrollment(_ context.Context, r *pb.FinishEnrollmentRequest) (*pb.FinishEnrollmentResponse, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.enrolled = append(a.enrolled, r.GetInstanceId()+"/"+r.GetPayerRef())
	return &pb.FinishEnrollmentResponse{CredentialId: "cred-1"}, nil
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// harness is an engine over a real bbolt store and fake plugins, with an
// outbox "worker" that delivers acquirer notices through the engine's
// handler and collects webhooks.
type harness struct {
	t       *testing.T
	e       *Engine
	st      *store.BoltStore
	plugins *fakePlugins
	clock   *clock
	signers map[string]*signer

	mu       sync.Mutex
	webhooks []*store.OutboxMessage
	wg       sync.WaitGroup
}

func testNetwork() *config.Network {
	use := func(p string) *config.PluginUse { return &config.PluginUse{Plugin: p} }
	both := map[pb.Method]*config.PluginUse{pb.Method_METHOD_CARD: use("method"), pb.Method_METHOD_BANK_TRANSFER: use("method")}
	return &config.Network{
		Institutions: map[string]*config.Institution{
			"issuer": {ID: "issuer", DisplayName: "Issuer Bank", Roles: []string{"issuer"}, BankCode: "001",
				BINRanges: []config.BINRange{{Start: "411111", End: "411199"}}, PayerAuth: use("auth"), Methods: both},
			"acquirer": {ID: "acquirer", DisplayName: "Acquirer Bank", Roles: []string{"acquirer"}, SellerAuth: use("auth"), Methods: both},
		},
		Merchants: map[string]*config.Merchant{
			"shop":  {ID: "shop", DisplayName: "The Shop", Acquirer: "acquirer", SettlementAccount: "shop"},
			"other": {ID: "other", DisplayName: "Other Shop", Acquirer: "acquirer", SettlementAccount: "other"},
		},
	}
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	h := &harness{t: t, st: storetest.MustOpen(t), clock: &clock{t: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)},
		signers: map[string]*signer{"issuer": newSigner("issuer"), "acquirer": newSigner("acquirer")}}
	h.plugins = &fakePlugins{auth: &fakeAuth{signers: h.signers}, method: newFakeMethod()}
	keys := map[string]map[string]ed25519.PublicKey{}
	for id, s := range h.signers {
		keys[id] = map[string]ed25519.PublicKey{"k1": s.pub}
	}
	e, err := New(Options{Store: h.st, Plugins: h.plugins, PublicURL: "https://pay.example", Now: h.clock.Now,
		RetryDelay: time.Millisecond, ResultWait: 2 * time.Second, Kick: h.kick}, &Config{Generation: 1, Network: testNetwork(), AttestationKeys: keys})
	if err != nil {
		t.Fatal(err)
	}
	h.e = e
	t.Cleanup(h.wg.Wait)
	return h
}

func (h *harness) kick() {
	h.wg.Add(1)
	go func() { defer h.wg.Done(); h.deliver() }()
}

// deliver runs every due outbox message once, as the outbox worker would.
func (h *harness) deliver() {
	ctx := context.Background()
	var due []*store.OutboxMessage
	h.st.View(ctx, func(tx store.Tx) error {
		var err error
		due, err = tx.DueOutbox(h.clock.Now().Add(time.Hour), 100)
		return err
	})
	for _, m := range due {
		var err error
		if m.Kind == store.KindAcquirerNotice {
			err = h.e.HandleAcquirerNotice(ctx, m)
		}
		if err != nil {
			continue
		}
		delivered := false
		h.st.Update(ctx, func(tx store.Tx) error {
			cur, err := tx.GetOutbox(m.ID)
			if err != nil || cur.State != store.OutboxPending {
				delivered = false
				return err
			}
			cur.State = store.OutboxDelivered
			cur.DeliveredAt = h.clock.Now()
			delivered = true
			return tx.PutOutbox(cur)
		})
		if delivered && m.Kind == store.KindWebhook {
			h.mu.Lock()
			h.webhooks = append(h.webhooks, m)
			h.mu.Unlock()
		}
	}
}

func (h *harness) webhookTypes() []string {
	h.wg.Wait()
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, m := range h.webhooks {
		var w Webhook
		if err := json.Unmarshal(m.Body, &w); err != nil {
			h.t.Fatalf("webhook body: %v", err)
		}
		out = append(out, w.Type)
	}
	return out
}

// create makes a signed ("good") or unsigned payment of amount for shop.
func (h *harness) create(amount int64, sig string) (*store.Payment, string) {
	h.t.Helper()
	res, err := h.e.CreatePayment(context.Background(), "shop", "", "", CreateInput{AmountMinor: amount, Currency: "EUR",
		OrderRef: "order-1", ExpiresAt: h.clock.Now().Add(10 * time.Minute), SellerSignature: []byte(sig), SellerKeyID: "k"}, nil)
	if err != nil {
		h.t.Fatal(err)
	}
	return res.Payment, res.Token
}

func (h *harness) payment(id string) *store.Payment {
	h.t.Helper()
	p, err := h.e.get(context.Background(), id)
	if err != nil {
		h.t.Fatal(err)
	}
	return p
}

var card = ChooseInput{Method: "card", Card: &pb.CardInstrument{Pan: "4111111111111111", ExpiryMonth: 12, ExpiryYear: 2030}}
