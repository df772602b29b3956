package api

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/switchd/switchd/switchd/internal/store"
)

// TestAccessMatrix tries every merchant endpoint with another merchant's
// key, a missing key and a forged key, and every payer endpoint with
// tokens that are not this payment's. Another merchant's payment must be
// indistinguishable from a nonexistent one.
func TestAccessMatrix(t *testing.T) {
	ts := mustServer(t, nil)
	id, token := ts.mustCreate(t, keyShop)
	const missingID = "pay_9999"

	merchantEndpoints := []struct {
		method, path, body string
		perPayment         bool // addresses one payment by id
	}{
		{method: "POST", path: "/v1/payments", body: `{"amount":"1.00","currency":"EUR","order_ref":"o"}`},
		{method: "GET", path: "/v1/payments"},
		{method: "GET", path: "/v1/payments/{id}", perPayment: true},
		{method: "POST", path: "/v1/payments/{id}/cancel", perPayment: true},
		{method: "GET", path: "/v1/payments/{id}/events", perPayment: true},
		{method: "GET", path: "/v1/payments/{id}/qr.png", perPayment: true},
	}
	for _, ep := range merchantEndpoints {
		name := ep.method + " " + ep.path
		path := strings.ReplaceAll(ep.path, "{id}", id)
		t.Run(name+"/missing credential", func(t *testing.T) {
			w := ts.do(t, ts.public, req{method: ep.method, path: path, body: ep.body})
			mustProblem(t, w, http.StatusUnauthorized, CodeUnauthorized)
			if w.Header().Get("WWW-Authenticate") == "" {
				t.Fatal("no WWW-Authenticate")
			}
		})
		for _, auth := range []string{"Bearer sk_test_forged", "Bearer " + keyShop + "x", "Basic " + keyShop, keyShop, "Bearer "} {
			t.Run(name+"/forged "+auth[:min(len(auth), 8)], func(t *testing.T) {
				w := ts.do(t, ts.public, req{method: ep.method, path: path, body: ep.body, header: map[string]string{"Authorization": auth}})
				mustProblem(t, w, http.StatusUnauthorized, CodeUnauthorized)
			})
		}
		if !ep.perPayment {
			continue
		}
		t.Run(name+"/other merchant is the same as nonexistent", func(t *testing.T) {
			other := ts.do(t, ts.public, req{method: ep.method, path: path, key: keyOther})
			missing := ts.do(t, ts.public, req{method: ep.method, path: strings.ReplaceAll(ep.path, "{id}", missingID), key: keyOther})
			mustProblem(t, other, http.StatusNotFound, CodeNotFound)
			if other.Body.String() != missing.Body.String() || other.Code != missing.Code {
				t.Fatalf("other merchant's payment:\n%s\nnonexistent:\n%s", other.Body, missing.Body)
			}
			if strings.Contains(other.Body.String(), id) {
				t.Fatal("404 names the payment id")
			}
		})
	}
	t.Run("list shows only own payments", func(t *testing.T) {
		w := ts.do(t, ts.public, req{method: "GET", path: "/v1/payments", key: keyOther})
		if w.Code != 200 || strings.Contains(w.Body.String(), id) {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
	})
	t.Run("cancel by other merchant changed nothing", func(t *testing.T) {
		if st := ts.engine.payments[id].State; st != "created" {
			t.Fatalf("state = %s", st)
		}
	})

	_, otherToken := ts.mustCreate(t, keyOther)
	payerEndpoints := []struct{ method, path, body string }{
		{"GET", "/v1/pay/{t}", ""},
		{"POST", "/v1/pay/{t}/method", `{"method":"card","card":{"number":"4111111111111111","expiry_month":12,"expiry_year":2030}}`},
		{"POST", "/v1/pay/{t}/auth/begin", `{"client_challenge":"12345678"}`},
		{"POST", "/v1/pay/{t}/auth/finish", `{"client_response":"123456"}`},
		{"POST", "/v1/pay/{t}/enroll/begin", `{}`},
		{"POST", "/v1/pay/{t}/enroll/finish", `{"id":"cred"}`},
	}
	badTokens := map[string]string{
		"unknown":          "tok" + strings.Repeat("9", 40),
		"altered":          token[:len(token)-1] + "x",
		"payment id":       id,
		"too short":        "abc",
		"illegal chars":    strings.Repeat("a", 20) + "%2F..",
		"other's prefixed": otherToken + "0",
	}
	for _, ep := range payerEndpoints {
		var want string
		for name, bad := range badTokens {
			t.Run(ep.method+" "+ep.path+"/"+name, func(t *testing.T) {
				w := ts.do(t, ts.public, req{method: ep.method, path: strings.ReplaceAll(ep.path, "{t}", bad), body: ep.body})
				mustProblem(t, w, http.StatusNotFound, CodeNotFound)
				if want == "" {
					want = w.Body.String()
				} else if w.Body.String() != want {
					t.Fatalf("404 bodies differ:\n%s\n%s", w.Body, want)
				}
			})
		}
	}
	if st := ts.engine.payments[id].State; st != "created" || ts.engine.lastChoose.Method != "" {
		t.Fatalf("a bad token changed the payment: state %s, choose %+v", st, ts.engine.lastChoose)
	}
}

func TestUncleanPathsAreNotFound(t *testing.T) {
	ts := mustServer(t, nil)
	id, token := ts.mustCreate(t, keyShop)
	for _, p := range []string{"/v1/pay//method", "/v1/payments/../payments/" + id, "/v1/pay/" + token + "/./method", "/v1/payments/" + id + "/"} {
		t.Run(p, func(t *testing.T) {
			mustProblem(t, ts.do(t, ts.public, req{method: "GET", path: p, key: keyShop}), 404, CodeNotFound)
		})
	}
	if w := ts.do(t, ts.admin, req{method: "GET", path: "/debug/pprof/"}); w.Code != 200 {
		t.Fatalf("/debug/pprof/: %d", w.Code)
	}
}

// panicEngine panics in GetPayment, as a bug in the engine would.
type panicEngine struct{ *fakeEngine }

func (panicEngine) GetPayment(context.Context, string, string) (*store.Payment, error) {
	panic("engine bug with detail")
}

func TestPanicIsInternalProblem(t *testing.T) {
	ts := mustServer(t, func(o *Options) { o.Engine = panicEngine{newFakeEngine()} })
	w := ts.do(t, ts.public, req{method: "GET", path: "/v1/payments/pay_1", key: keyShop})
	mustProblem(t, w, http.StatusInternalServerError, CodeInternal)
	if strings.Contains(w.Body.String(), "engine bug") {
		t.Fatalf("panic value leaked: %s", w.Body)
	}
	if !strings.Contains(ts.logs.String(), "engine bug with detail") || !strings.Contains(ts.logs.String(), `"status":500`) {
		t.Fatalf("panic not logged: %s", ts.logs)
	}
}
