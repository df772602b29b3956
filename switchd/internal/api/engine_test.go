package api

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/switchd/switchd/config"
	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
	"github.com/switchd/switchd/plugins/sdk"
	"github.com/switchd/switchd/switchd/internal/flow"
	"github.com/switchd/switchd/switchd/internal/metrics"
	"github.com/switchd/switchd/switchd/internal/store"
)

// noPlugins is a plugin set with no plugins running: these tests stop
// before any step calls an institution.
type noPlugins struct{}

var errNoPlugins = errors.New("no plugins in this test")

func (noPlugins) Authenticator(string) (sdk.Authenticator, error) { return nil, errNoPlugins }
func (noPlugins) PaymentMethod(string) (sdk.PaymentMethod, error) { return nil, errNoPlugins }
func (noPlugins) Enroller(string) (sdk.Enroller, error)           { return nil, errNoPlugins }

// mustRealServer serves the API over a real flow.Engine and a real bbolt
// file, for the parts of the flow that need no plugin.
func mustRealServer(t *testing.T) (*testServer, *bytes.Buffer) {
	t.Helper()
	st, err := store.Open(t.TempDir()+"/switchd.db", store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	net := &config.Network{
		Institutions: map[string]*config.Institution{
			"bank-a": {ID: "bank-a", DisplayName: "Bank A", Roles: []string{config.RoleAcquirer}},
			"bank-b": {ID: "bank-b", DisplayName: "Bank B", Roles: []string{config.RoleIssuer}, BankCode: "BBBB",
				BINRanges: []config.BINRange{{Start: "400000", End: "400099"}},
				Methods:   map[pb.Method]*config.PluginUse{pb.Method_METHOD_CARD: {Plugin: "card"}}},
		},
		Merchants: map[string]*config.Merchant{
			"shop":  {ID: "shop", DisplayName: "Tea Shop", Acquirer: "bank-a", APIKeySHA256: sha256.Sum256([]byte(keyShop))},
			"other": {ID: "other", DisplayName: "Other", Acquirer: "bank-a", APIKeySHA256: sha256.Sum256([]byte(keyOther))},
		},
	}
	logs := &bytes.Buffer{}
	logger := slog.New(slog.NewJSONHandler(&lockedWriter{w: logs}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	eng, err := flow.New(flow.Options{Store: st, Plugins: noPlugins{}, Logger: logger, PublicURL: "https://pay.test"},
		&flow.Config{Generation: 1, Network: net})
	if err != nil {
		t.Fatal(err)
	}
	m := metrics.New()
	s := New(Options{Engine: eng, MerchantByKeyHash: keyring, PublicURL: "https://pay.test", Metrics: m, Logger: logger})
	return &testServer{Server: s, logs: logs, metrics: m, public: s.PublicHandler(), admin: s.AdminHandler()}, logs
}

func TestWithFlowEngine(t *testing.T) {
	ts, logs := mustRealServer(t)
	exp := time.Now().Add(10 * time.Minute).UTC().Format(time.RFC3339)
	body := `{"amount":"12.34","currency":"EUR","order_ref":"o-1","expires_at":"` + exp + `"}`
	w := ts.do(t, ts.public, req{method: "POST", path: "/v1/payments", key: keyShop, body: body, header: map[string]string{"Idempotency-Key": "k1"}})
	if w.Code != http.StatusCreated {
		t.Fatalf("create: %d %s", w.Code, w.Body)
	}
	var created struct {
		ID             string `json:"id"`
		PayToken       string `json:"pay_token"`
		PaymentPageURL string `json:"payment_page_url"`
		Status         string `json:"status"`
	}
	mustJSON(t, w.Body.Bytes(), &created)
	if created.Status != "created" || created.PaymentPageURL != "https://pay.test/pay/"+created.PayToken || !validToken(created.PayToken) {
		t.Fatalf("created = %+v", created)
	}

	t.Run("replay and conflict", func(t *testing.T) {
		w := ts.do(t, ts.public, req{method: "POST", path: "/v1/payments", key: keyShop, body: body, header: map[string]string{"Idempotency-Key": "k1"}})
		if w.Code != http.StatusCreated || w.Header().Get("Idempotent-Replayed") != "true" ||
			!strings.Contains(w.Body.String(), created.ID) || strings.Contains(w.Body.String(), created.PayToken) {
			t.Fatalf("replay: %d %s", w.Code, w.Body)
		}
		w = ts.do(t, ts.public, req{method: "POST", path: "/v1/payments", key: keyShop, body: strings.Replace(body, "12.34", "12.35", 1),
			header: map[string]string{"Idempotency-Key": "k1"}})
		mustProblem(t, w, http.StatusConflict, CodeIdempotencyConflict)
	})
	t.Run("other merchant sees nothing", func(t *testing.T) {
		for _, path := range []string{"/v1/payments/" + created.ID, "/v1/payments/" + created.ID + "/events"} {
			other := ts.do(t, ts.public, req{method: "GET", path: path, key: keyOther})
			missing := ts.do(t, ts.public, req{method: "GET", path: strings.Replace(path, created.ID, "pay_doesnotexist", 1), key: keyOther})
			mustProblem(t, other, 404, CodeNotFound)
			if other.Body.String() != missing.Body.String() {
				t.Fatalf("%s:\n%s\n%s", path, other.Body, missing.Body)
			}
		}
		other := ts.do(t, ts.public, req{method: "POST", path: "/v1/payments/" + created.ID + "/cancel", key: keyOther})
		mustProblem(t, other, 404, CodeNotFound)
	})
	t.Run("merchant reads its payment", func(t *testing.T) {
		w := ts.do(t, ts.public, req{method: "GET", path: "/v1/payments/" + created.ID, key: keyShop})
		if w.Code != 200 || !strings.Contains(w.Body.String(), `"amount":"12.34"`) {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
		w = ts.do(t, ts.public, req{method: "GET", path: "/v1/payments/" + created.ID + "/events", key: keyShop})
		if w.Code != 200 || !strings.Contains(w.Body.String(), `"type":"payment.created"`) {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
		w = ts.do(t, ts.public, req{method: "GET", path: "/v1/payments?limit=10", key: keyShop})
		if w.Code != 200 || !strings.Contains(w.Body.String(), created.ID) {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
	})
	t.Run("payer view by token", func(t *testing.T) {
		w := ts.do(t, ts.public, req{method: "GET", path: "/v1/pay/" + created.PayToken})
		var v payerView
		mustJSON(t, w.Body.Bytes(), &v)
		if w.Code != 200 || v.Payment.ID != created.ID || v.MerchantName != "Tea Shop" || v.AcquirerName != "Bank A" ||
			len(v.Methods) != 1 || v.Methods[0] != "card" {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
		mustProblem(t, ts.do(t, ts.public, req{method: "GET", path: "/v1/pay/" + created.PayToken[:len(created.PayToken)-2] + "AA"}), 404, CodeNotFound)
	})
	t.Run("unroutable card never leaks the PAN", func(t *testing.T) {
		const pan = "5555555555554444"
		w := ts.do(t, ts.public, req{method: "POST", path: "/v1/pay/" + created.PayToken + "/method",
			body: `{"method":"card","card":{"number":"` + pan + `","expiry_month":12,"expiry_year":2099}}`})
		mustProblem(t, w, http.StatusUnprocessableEntity, CodeUnroutable)
		if strings.Contains(w.Body.String(), pan) || strings.Contains(logs.String(), pan) {
			t.Fatalf("PAN leaked:\nresponse %s\nlogs %s", w.Body, logs)
		}
	})
	t.Run("cancel", func(t *testing.T) {
		w := ts.do(t, ts.public, req{method: "POST", path: "/v1/payments/" + created.ID + "/cancel", key: keyShop})
		if w.Code != 200 || !strings.Contains(w.Body.String(), `"status":"cancelled"`) {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
		w = ts.do(t, ts.public, req{method: "POST", path: "/v1/pay/" + created.PayToken + "/auth/begin", body: `{}`})
		if w.Code < 400 || w.Code >= 500 {
			t.Fatalf("auth on a cancelled payment: %d %s", w.Code, w.Body)
		}
	})
}
