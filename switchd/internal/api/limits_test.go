package api

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestHostileInput(t *testing.T) {
	deep := strings.Repeat(`{"a":`, 33) + "1" + strings.Repeat("}", 33)
	deepArr := `{"amount":"1.00","currency":"EUR","order_ref":"o","lines":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + "}"
	big := `{"amount":"1.00","currency":"EUR","order_ref":"o","description":"` + strings.Repeat("x", 64<<10) + `"}`
	tests := []struct {
		name        string
		body        string
		contentType string
		status      int
		code        string
		field       string
	}{
		{name: "oversized body", body: big, status: 413, code: CodeBodyTooLarge},
		{name: "deep objects", body: deep, status: 400, code: CodeJSONTooDeep},
		{name: "deep arrays", body: deepArr, status: 400, code: CodeJSONTooDeep},
		{name: "unknown field", body: `{"amount":"1.00","currency":"EUR","order_ref":"o","amont":"2"}`, status: 400, code: CodeUnknownField, field: "amont"},
		{name: "unknown nested field", body: `{"amount":"1.00","currency":"EUR","order_ref":"o","lines":[{"name":"a","quantity":1,"amount_minor":1,"tax":1}]}`,
			status: 400, code: CodeUnknownField, field: "tax"},
		{name: "text/plain", body: `{"amount":"1.00","currency":"EUR","order_ref":"o"}`, contentType: "text/plain", status: 415, code: CodeUnsupportedMediaType},
		{name: "form", body: `amount=1`, contentType: "application/x-www-form-urlencoded", status: 415, code: CodeUnsupportedMediaType},
		{name: "latin-1 charset", body: `{}`, contentType: "application/json; charset=latin1", status: 415, code: CodeUnsupportedMediaType},
		{name: "trailing data", body: `{"amount":"1.00","currency":"EUR","order_ref":"o"} {"x":1}`, status: 400, code: CodeInvalidRequest},
		{name: "trailing garbage", body: `{"amount":"1.00","currency":"EUR","order_ref":"o"}garbage`, status: 400, code: CodeInvalidRequest},
		{name: "malformed", body: `{"amount":"1.00",`, status: 400, code: CodeInvalidRequest},
		{name: "not an object", body: `["amount"]`, status: 400, code: CodeInvalidRequest},
		{name: "null", body: `null`, status: 400, code: CodeInvalidRequest},
		{name: "whitespace only", body: " \n ", status: 400, code: CodeInvalidRequest},
		{name: "duplicate key smuggling wrong type", body: `{"amount":"1.00","currency":"EUR","order_ref":"o","amount_minor":"5"}`, status: 400, code: CodeInvalidRequest, field: "amount_minor"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := mustServer(t, nil)
			w := ts.do(t, ts.public, req{method: "POST", path: "/v1/payments", key: keyShop, body: tt.body, contentType: tt.contentType})
			p := mustProblem(t, w, tt.status, tt.code)
			if tt.field != "" && (len(p.Errors) != 1 || p.Errors[0].Field != tt.field) {
				t.Fatalf("errors = %+v, want field %q", p.Errors, tt.field)
			}
			if ts.engine.creates != 0 {
				t.Fatal("hostile input created a payment")
			}
		})
	}
	t.Run("no content type", func(t *testing.T) {
		ts := mustServer(t, nil)
		r, _ := http.NewRequest("POST", "/v1/payments", strings.NewReader(`{}`))
		r.Header.Set("Authorization", "Bearer "+keyShop)
		w := newRecorder()
		ts.public.ServeHTTP(w, r)
		mustProblem(t, w, 415, CodeUnsupportedMediaType)
	})
	t.Run("limits are configurable", func(t *testing.T) {
		ts := mustServer(t, func(o *Options) { o.Limits.MaxBodyBytes = 40; o.Limits.MaxJSONDepth = 1 })
		mustProblem(t, ts.do(t, ts.public, req{method: "POST", path: "/v1/payments", key: keyShop,
			body: `{"amount":"1.00","currency":"EUR","order_ref":"o"}`}), 413, CodeBodyTooLarge)
		mustProblem(t, ts.do(t, ts.public, req{method: "POST", path: "/v1/pay/" + strings.Repeat("a", 20) + "/auth/begin",
			body: `{"a":{}}`}), 400, CodeJSONTooDeep)
	})
	t.Run("payer bodies are checked too", func(t *testing.T) {
		ts := mustServer(t, func(o *Options) { o.Limits.PayerBurst = 100 })
		_, token := ts.mustCreate(t, keyShop)
		for _, path := range []string{"/method", "/auth/begin", "/auth/finish", "/enroll/begin", "/enroll/finish"} {
			mustProblem(t, ts.do(t, ts.public, req{method: "POST", path: "/v1/pay/" + token + path, body: deep}), 400, CodeJSONTooDeep)
			mustProblem(t, ts.do(t, ts.public, req{method: "POST", path: "/v1/pay/" + token + path, body: `{}`, contentType: "text/html"}), 415, CodeUnsupportedMediaType)
			mustProblem(t, ts.do(t, ts.public, req{method: "POST", path: "/v1/pay/" + token + path, body: `"str"`}), 400, CodeInvalidRequest)
		}
		if ts.engine.lastPayer != nil || ts.engine.lastChoose.Method != "" {
			t.Fatal("a rejected payer body reached the engine")
		}
	})
}

func TestRateLimits(t *testing.T) {
	t.Run("merchant", func(t *testing.T) {
		now := fakeNow
		ts := mustServer(t, func(o *Options) {
			o.Limits.MerchantRate, o.Limits.MerchantBurst = 1, 3
			o.Now = func() time.Time { return now }
		})
		for i := range 3 {
			if w := ts.do(t, ts.public, req{method: "GET", path: "/v1/payments", key: keyShop}); w.Code != 200 {
				t.Fatalf("request %d: %d", i, w.Code)
			}
		}
		w := ts.do(t, ts.public, req{method: "GET", path: "/v1/payments", key: keyShop})
		mustProblem(t, w, 429, CodeRateLimited)
		if w.Header().Get("Retry-After") != "1" {
			t.Fatalf("Retry-After = %q", w.Header().Get("Retry-After"))
		}
		if w := ts.do(t, ts.public, req{method: "GET", path: "/v1/payments", key: keyOther}); w.Code != 200 {
			t.Fatalf("other merchant limited too: %d", w.Code)
		}
		now = now.Add(time.Second)
		if w := ts.do(t, ts.public, req{method: "GET", path: "/v1/payments", key: keyShop}); w.Code != 200 {
			t.Fatalf("after waiting: %d", w.Code)
		}
	})
	t.Run("payer attempts per token", func(t *testing.T) {
		now := fakeNow
		ts := mustServer(t, func(o *Options) {
			o.Limits.PayerRate, o.Limits.PayerBurst = 0.1, 2
			o.Now = func() time.Time { return now }
		})
		_, token := ts.mustCreate(t, keyShop)
		_, token2 := ts.mustCreate(t, keyShop)
		path := "/v1/pay/" + token + "/auth/finish"
		for range 2 {
			if w := ts.do(t, ts.public, req{method: "POST", path: path, body: `{"client_response":"1"}`}); w.Code != 200 {
				t.Fatalf("%d %s", w.Code, w.Body)
			}
		}
		w := ts.do(t, ts.public, req{method: "POST", path: "/v1/pay/" + token + "/auth/begin", body: `{}`})
		mustProblem(t, w, 429, CodeRateLimited)
		if w.Header().Get("Retry-After") != "10" {
			t.Fatalf("Retry-After = %q", w.Header().Get("Retry-After"))
		}
		if w := ts.do(t, ts.public, req{method: "GET", path: "/v1/pay/" + token}); w.Code != 200 {
			t.Fatalf("viewing the page should not be limited: %d", w.Code)
		}
		if w := ts.do(t, ts.public, req{method: "POST", path: "/v1/pay/" + token2 + "/auth/begin", body: `{}`}); w.Code != 200 {
			t.Fatalf("another token limited too: %d", w.Code)
		}
	})
}

func TestKeyedLimiterBoundsMemory(t *testing.T) {
	l := newKeyedLimiter[string](100, 1)
	now := fakeNow
	for i := range maxKeys + 10 {
		l.allow(string(rune(i)), now)
		now = now.Add(time.Second)
	}
	if n := len(l.buckets); n > maxKeys {
		t.Fatalf("%d buckets kept, want at most %d", n, maxKeys)
	}
}

// TestKeyedLimiterSweepsAfterGrowth: with more busy keys than maxKeys
// (a switch taking more payments in one refill time) every bucket is
// kept; once they are idle, new keys sweep them out before the map has
// doubled.
func TestKeyedLimiterSweepsAfterGrowth(t *testing.T) {
	l := newKeyedLimiter[int](0.2, 10)
	const busy = 3 * maxKeys
	for i := range busy {
		if ok, _ := l.allow(i, fakeNow); !ok {
			t.Fatalf("key %d limited", i)
		}
	}
	if n := len(l.buckets); n != busy {
		t.Fatalf("%d buckets, want %d (all still refilling)", n, busy)
	}
	later := fakeNow.Add(time.Minute) // every bucket full again
	for i := 1; ; i++ {
		before := len(l.buckets)
		l.allow(-i, later)
		if len(l.buckets) < before { // swept
			if n := len(l.buckets); n != i {
				t.Fatalf("%d buckets after the sweep, want the %d new ones", n, i)
			}
			break
		}
		if len(l.buckets) > 2*busy {
			t.Fatalf("%d buckets and no sweep yet", len(l.buckets))
		}
	}
}
