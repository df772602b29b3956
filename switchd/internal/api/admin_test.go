package api

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestAdmin(t *testing.T) {
	var reloaded int
	ready := errors.New("store not open yet")
	ts := mustServer(t, func(o *Options) {
		o.Admin = AdminDeps{
			Ready: func() error { return ready },
			Status: func(context.Context) any {
				return map[string]any{"institutions": []map[string]string{{"id": "bank-a", "plugin": "card", "state": "running"}}}
			},
			Reload: func(context.Context) (string, error) {
				reloaded++
				if reloaded > 1 {
					return "network.hcl:3,1: unknown block \"bnk\"", errors.New("invalid config")
				}
				return "", nil
			},
		}
	})
	t.Run("healthz", func(t *testing.T) {
		if w := ts.do(t, ts.admin, req{method: "GET", path: "/healthz"}); w.Code != 200 {
			t.Fatalf("%d", w.Code)
		}
	})
	t.Run("readyz not ready, then ready", func(t *testing.T) {
		p := mustProblem(t, ts.do(t, ts.admin, req{method: "GET", path: "/readyz"}), 503, CodeNotReady)
		if p.Detail != ready.Error() {
			t.Fatalf("detail %q", p.Detail)
		}
		ready = nil
		if w := ts.do(t, ts.admin, req{method: "GET", path: "/readyz"}); w.Code != 200 {
			t.Fatalf("%d", w.Code)
		}
	})
	t.Run("status", func(t *testing.T) {
		w := ts.do(t, ts.admin, req{method: "GET", path: "/v1/admin/status"})
		if w.Code != 200 || !strings.Contains(w.Body.String(), `"state":"running"`) {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
	})
	t.Run("reload accepted, then rejected with diagnostics", func(t *testing.T) {
		if w := ts.do(t, ts.admin, req{method: "POST", path: "/v1/admin/reload"}); w.Code != 200 {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
		p := mustProblem(t, ts.do(t, ts.admin, req{method: "POST", path: "/v1/admin/reload"}), 422, CodeReloadFailed)
		if !strings.Contains(p.Diagnostics, "network.hcl:3,1") {
			t.Fatalf("diagnostics %q", p.Diagnostics)
		}
		mustProblem(t, ts.do(t, ts.admin, req{method: "GET", path: "/v1/admin/reload"}), 405, CodeMethodNotAllowed)
	})
	t.Run("resend", func(t *testing.T) {
		if w := ts.do(t, ts.admin, req{method: "POST", path: "/v1/admin/outbox/wh_1/resend"}); w.Code != 202 || len(ts.engine.resent) != 1 {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
		mustProblem(t, ts.do(t, ts.admin, req{method: "POST", path: "/v1/admin/outbox/wh_2/resend"}), 404, CodeNotFound)
	})
	t.Run("pprof on admin only", func(t *testing.T) {
		w := ts.do(t, ts.admin, req{method: "GET", path: "/debug/pprof/"})
		if w.Code != 200 || !strings.Contains(w.Body.String(), "goroutine") {
			t.Fatalf("%d", w.Code)
		}
		mustProblem(t, ts.do(t, ts.public, req{method: "GET", path: "/debug/pprof/"}), 404, CodeNotFound)
		mustProblem(t, ts.do(t, ts.public, req{method: "GET", path: "/metrics"}), 404, CodeNotFound)
		mustProblem(t, ts.do(t, ts.public, req{method: "POST", path: "/v1/admin/reload"}), 404, CodeNotFound)
	})
	t.Run("nil deps", func(t *testing.T) {
		bare := mustServer(t, nil)
		if w := bare.do(t, bare.admin, req{method: "GET", path: "/readyz"}); w.Code != 200 {
			t.Fatalf("readyz %d", w.Code)
		}
		if w := bare.do(t, bare.admin, req{method: "GET", path: "/v1/admin/status"}); w.Code != 200 || strings.TrimSpace(w.Body.String()) != "{}" {
			t.Fatalf("status %d %s", w.Code, w.Body)
		}
		mustProblem(t, bare.do(t, bare.admin, req{method: "POST", path: "/v1/admin/reload"}), 503, CodeNotReady)
	})
}

// TestMetricsByRoutePattern checks requests are counted by route pattern,
// never by raw path (which would hold payment ids and payer tokens).
func TestMetricsByRoutePattern(t *testing.T) {
	ts := mustServer(t, nil)
	id, token := ts.mustCreate(t, keyShop)
	ts.do(t, ts.public, req{method: "GET", path: "/v1/payments/" + id, key: keyShop})
	ts.do(t, ts.public, req{method: "GET", path: "/v1/payments/nope", key: keyShop})
	ts.do(t, ts.public, req{method: "GET", path: "/v1/pay/" + token})
	ts.do(t, ts.public, req{method: "GET", path: "/no/such/route/" + token})
	ts.do(t, ts.public, req{method: "PATCH", path: "/v1/payments/" + id})
	w := ts.do(t, ts.admin, req{method: "GET", path: "/metrics"})
	out := w.Body.String()
	for _, want := range []string{
		`switchd_http_requests_total{code="201",route="POST /v1/payments"} 1`,
		`switchd_http_requests_total{code="200",route="GET /v1/payments/{id}"} 1`,
		`switchd_http_requests_total{code="404",route="GET /v1/payments/{id}"} 1`,
		`switchd_http_requests_total{code="200",route="GET /v1/pay/{token}"} 1`,
		`switchd_http_requests_total{code="404",route="unmatched"} 1`,
		`switchd_http_requests_total{code="405",route="unmatched"} 1`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(out, token) || strings.Contains(out, id) {
		t.Error("metrics contain a raw path")
	}
	if t.Failed() {
		t.Log(out)
	}
}
