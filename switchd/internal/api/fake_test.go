package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchd/switchd/switchd/internal/flow"
	"github.com/switchd/switchd/switchd/internal/metrics"
	"github.com/switchd/switchd/switchd/internal/store"
)

// fakeEngine is an in-memory stand-in for *flow.Engine with the same
// access rules: a payment is visible only to its merchant, and a payer
// reaches it only through its token.
type fakeEngine struct {
	mu       sync.Mutex
	payments map[string]*store.Payment
	tokens   map[string]string // token -> payment id
	idem     map[string]*store.Idempotency
	creates  int
	n        int

	lastCreate flow.CreateInput
	lastChoose flow.ChooseInput
	lastPayer  []byte
	resent     []string
	// fail, when set for a method name, is returned by that method.
	fail map[string]error
}

func newFakeEngine() *fakeEngine {
	return &fakeEngine{payments: map[string]*store.Payment{}, tokens: map[string]string{}, idem: map[string]*store.Idempotency{}, fail: map[string]error{}}
}

var fakeNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func (f *fakeEngine) failed(name string) error { return f.fail[name] }

func (f *fakeEngine) CreatePayment(ctx context.Context, merchantID, idemKey, bodyHash string, in flow.CreateInput,
	render func(p *store.Payment, token, pageURL string) (int, []byte)) (*flow.CreateResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.failed("CreatePayment"); err != nil {
		return nil, err
	}
	if idemKey != "" {
		if r, ok := f.idem[merchantID+"/"+idemKey]; ok {
			if r.BodyHash != bodyHash {
				return nil, flow.ErrIdempotencyConflict
			}
			return &flow.CreateResult{Payment: f.payments[r.PaymentID], Replayed: true, Response: r.Response, Status: r.Status}, nil
		}
	}
	f.creates++
	f.n++
	f.lastCreate = in
	id := fmt.Sprintf("pay_%04d", f.n)
	token := fmt.Sprintf("tok%040d", f.n)
	exp := in.ExpiresAt
	if exp.IsZero() {
		exp = fakeNow.Add(15 * time.Minute)
	}
	p := &store.Payment{
		ID: id, MerchantID: merchantID, AcquirerID: "bank-a", AmountMinor: in.AmountMinor, Currency: in.Currency,
		OrderRef: in.OrderRef, Description: in.Description, Lines: in.Lines, ReturnURL: in.ReturnURL,
		ExpiresAt: exp, CreatedAt: fakeNow, UpdatedAt: fakeNow, State: flow.StateCreated, Version: 1,
		TokenHash: "hash-of-" + token, SellerSignature: in.SellerSignature, SellerKeyID: in.SellerKeyID,
	}
	f.payments[id] = p
	f.tokens[token] = id
	pageURL := "https://pay.test/pay/" + token
	res := &flow.CreateResult{Payment: p, Token: token, PageURL: pageURL}
	if idemKey != "" {
		status, body := render(p, token, pageURL)
		f.idem[merchantID+"/"+idemKey] = &store.Idempotency{MerchantID: merchantID, Key: idemKey, BodyHash: bodyHash, Status: status, Response: body, PaymentID: id}
	}
	return res, nil
}

func (f *fakeEngine) own(merchantID, id string) (*store.Payment, error) {
	p, ok := f.payments[id]
	if !ok || p.MerchantID != merchantID {
		return nil, &flow.Error{Code: flow.CodeNotFound, Msg: "payment " + id + " not found"}
	}
	return p, nil
}

func (f *fakeEngine) PageURL(p *store.Payment) string {
	return "http://127.0.0.1:8080/pay/tok_" + p.ID
}

func (f *fakeEngine) GetPayment(ctx context.Context, merchantID, id string) (*store.Payment, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.own(merchantID, id)
}

func (f *fakeEngine) ListPayments(ctx context.Context, merchantID, cursor string, limit int) ([]*store.Payment, string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*store.Payment
	for i := f.n; i >= 1; i-- {
		id := fmt.Sprintf("pay_%04d", i)
		if p := f.payments[id]; p != nil && p.MerchantID == merchantID && (cursor == "" || id < cursor) {
			if len(out) == limit {
				return out, out[len(out)-1].ID, nil
			}
			out = append(out, p)
		}
	}
	return out, "", nil
}

func (f *fakeEngine) CancelPayment(ctx context.Context, merchantID, id string) (*store.Payment, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, err := f.own(merchantID, id)
	if err != nil {
		return nil, err
	}
	if flow.IsFinal(p.State) {
		return nil, flow.ErrPaymentFinal
	}
	p.State = flow.StateCancelled
	return p, nil
}

func (f *fakeEngine) Events(ctx context.Context, merchantID, id string) ([]*store.Event, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, err := f.own(merchantID, id)
	if err != nil {
		return nil, err
	}
	return []*store.Event{{PaymentID: p.ID, Seq: 1, At: fakeNow, Type: "payment.created", To: flow.StateCreated}}, nil
}

func (f *fakeEngine) byToken(token string) (*store.Payment, error) {
	id, ok := f.tokens[token]
	if !ok {
		return nil, &flow.Error{Code: flow.CodeNotFound, Msg: "no payment for this token"}
	}
	return f.payments[id], nil
}

func (f *fakeEngine) view(p *store.Payment) *flow.PayerView {
	return &flow.PayerView{
		Payment: p, MerchantName: "Tea Shop", AcquirerName: "Bank A", Methods: []string{"card", "bank_transfer"},
		Banks: []flow.Bank{{ID: "bank-b", Name: "Bank B", BankCode: "BBBB"}}, Mechanism: "ocra", DigestHex: "abcd",
	}
}

func (f *fakeEngine) PayerView(ctx context.Context, token string) (*flow.PayerView, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, err := f.byToken(token)
	if err != nil {
		return nil, err
	}
	return f.view(p), nil
}

func (f *fakeEngine) ChooseMethod(ctx context.Context, token string, in flow.ChooseInput) (*flow.PayerView, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, err := f.byToken(token)
	if err != nil {
		return nil, err
	}
	f.lastChoose = in
	if err := f.failed("ChooseMethod"); err != nil {
		return nil, err
	}
	p.Method, p.State = in.Method, flow.StateSellerAuthenticated
	if in.Card != nil {
		p.Last4, p.BIN, p.Display = in.Card.Pan[len(in.Card.Pan)-4:], in.Card.Pan[:6], "Card •••• "+in.Card.Pan[len(in.Card.Pan)-4:]
	}
	return f.view(p), nil
}

func (f *fakeEngine) payerStep(name, token string, data []byte) (*store.Payment, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, err := f.byToken(token)
	if err != nil {
		return nil, err
	}
	f.lastPayer = append([]byte(nil), data...)
	if err := f.failed(name); err != nil {
		return nil, err
	}
	return p, nil
}

func (f *fakeEngine) BeginAuth(ctx context.Context, token string, payerData []byte) (*flow.AuthChallenge, error) {
	if _, err := f.payerStep("BeginAuth", token, payerData); err != nil {
		return nil, err
	}
	return &flow.AuthChallenge{Mechanism: "ocra", ChallengeData: []byte(`{"server_response":"123456","server_challenge":"87654321"}`), DigestHex: "abcd"}, nil
}

func (f *fakeEngine) FinishAuth(ctx context.Context, token string, payerData []byte) (*flow.PayerView, error) {
	p, err := f.payerStep("FinishAuth", token, payerData)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	p.State = flow.StateApproved
	return f.view(p), nil
}

func (f *fakeEngine) BeginEnrollment(ctx context.Context, token string, payerData []byte) (*flow.AuthChallenge, error) {
	if _, err := f.payerStep("BeginEnrollment", token, payerData); err != nil {
		return nil, err
	}
	return &flow.AuthChallenge{Mechanism: "webauthn", ChallengeData: []byte(`{"publicKey":{"challenge":"AAAA"}}`)}, nil
}

func (f *fakeEngine) FinishEnrollment(ctx context.Context, token string, payerData []byte) error {
	_, err := f.payerStep("FinishEnrollment", token, payerData)
	return err
}

func (f *fakeEngine) ResendWebhook(ctx context.Context, outboxID string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.failed("ResendWebhook"); err != nil {
		return err
	}
	if outboxID != "wh_1" {
		return flow.ErrNotFound
	}
	f.resent = append(f.resent, outboxID)
	return nil
}

// API keys of the two test merchants.
const (
	keyShop  = "sk_test_shop_0123456789"
	keyOther = "sk_test_other_0123456789"
)

// keyring resolves API key hashes in constant time, as the daemon does.
func keyring(sum [32]byte) (string, bool) {
	for id, k := range map[string]string{"shop": keyShop, "other": keyOther} {
		want := sha256.Sum256([]byte(k))
		if subtle.ConstantTimeCompare(sum[:], want[:]) == 1 {
			return id, true
		}
	}
	return "", false
}

// testServer is a Server over a fake engine with its log captured.
type testServer struct {
	*Server
	engine  *fakeEngine
	logs    *bytes.Buffer
	metrics *metrics.Metrics
	public  http.Handler
	admin   http.Handler
}

func mustServer(t testing.TB, mod func(*Options)) *testServer {
	t.Helper()
	logs := &bytes.Buffer{}
	eng := newFakeEngine()
	m := metrics.New()
	opts := Options{
		Engine: eng, MerchantByKeyHash: keyring, PublicURL: "https://pay.test", Metrics: m,
		Logger: slog.New(slog.NewJSONHandler(&lockedWriter{w: logs}, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:    func() time.Time { return fakeNow },
	}
	if mod != nil {
		mod(&opts)
	}
	s := New(opts)
	return &testServer{Server: s, engine: eng, logs: logs, metrics: m, public: s.PublicHandler(), admin: s.AdminHandler()}
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// req describes one request to send.
type req struct {
	method, path, body string
	key                string            // API key for Authorization: Bearer
	header             map[string]string // extra headers
	contentType        string            // default application/json when body != ""
}

func (ts *testServer) do(t testing.TB, h http.Handler, rq req) *httptest.ResponseRecorder {
	t.Helper()
	var body io.Reader
	if rq.body != "" {
		body = strings.NewReader(rq.body)
	}
	r := httptest.NewRequest(rq.method, rq.path, body)
	if rq.body != "" {
		ct := rq.contentType
		if ct == "" {
			ct = "application/json"
		}
		r.Header.Set("Content-Type", ct)
	}
	if rq.key != "" {
		r.Header.Set("Authorization", "Bearer "+rq.key)
	}
	for k, v := range rq.header {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// mustCreate creates a payment for the merchant with key and returns its id
// and payer token.
func (ts *testServer) mustCreate(t testing.TB, key string) (id, token string) {
	t.Helper()
	w := ts.do(t, ts.public, req{method: "POST", path: "/v1/payments", key: key,
		body: `{"amount":"12.34","currency":"EUR","order_ref":"o-1"}`})
	if w.Code != http.StatusCreated {
		t.Fatalf("create: %d %s", w.Code, w.Body)
	}
	var out struct {
		ID       string `json:"id"`
		PayToken string `json:"pay_token"`
	}
	mustJSON(t, w.Body.Bytes(), &out)
	return out.ID, out.PayToken
}

func newRecorder() *httptest.ResponseRecorder { return httptest.NewRecorder() }
