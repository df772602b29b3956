package api

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/switchd/switchd/switchd/internal/flow"
)

func mustJSON(t testing.TB, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("response is not JSON: %v: %s", err, b)
	}
}

// mustProblem checks that w is a problem+json with status and code, and
// returns it.
func mustProblem(t testing.TB, w interface {
	Result() *http.Response
}, status int, code string) Problem {
	t.Helper()
	res := w.Result()
	var b bytes.Buffer
	_, _ = b.ReadFrom(res.Body)
	if res.StatusCode != status {
		t.Fatalf("status = %d, want %d: %s", res.StatusCode, status, b.String())
	}
	if ct := res.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type = %q, want application/problem+json", ct)
	}
	var p Problem
	mustJSON(t, b.Bytes(), &p)
	if p.Code != code || p.Status != status || p.Type != ProblemTypeBase+code || p.Title == "" {
		t.Fatalf("problem = %+v, want code %q status %d", p, code, status)
	}
	return p
}

func fields(p Problem) []string {
	var out []string
	for _, e := range p.Errors {
		out = append(out, e.Field)
	}
	return out
}

func TestCreatePayment(t *testing.T) {
	tests := []struct {
		name       string
		body       string
		wantMinor  int64
		wantFields []string // non-nil: expect 400 invalid_request naming these fields
	}{
		{name: "decimal amount", body: `{"amount":"12.34","currency":"EUR","order_ref":"o-1"}`, wantMinor: 1234},
		{name: "minor amount", body: `{"amount_minor":1234,"currency":"EUR","order_ref":"o-1"}`, wantMinor: 1234},
		{name: "zero-decimal currency", body: `{"amount":"5000","currency":"KRW","order_ref":"o-1"}`, wantMinor: 5000},
		{name: "three-decimal currency", body: `{"amount":"1.005","currency":"BHD","order_ref":"o-1"}`, wantMinor: 1005},
		{name: "full order", wantMinor: 1234, body: `{"amount":"12.34","currency":"EUR","order_ref":"o-1","description":"tea",
			"lines":[{"name":"green tea","quantity":2,"amount_minor":617}],"return_url":"https://shop.test/done",
			"expires_at":"2026-03-01T12:10:00Z","seller_signature":"c2ln","seller_key_id":"k1","signed_at_unix_ms":1772366400000}`},
		{name: "too many decimals", body: `{"amount":"12.345","currency":"EUR","order_ref":"o-1"}`, wantFields: []string{"amount"}},
		{name: "decimals for KRW", body: `{"amount":"12.5","currency":"KRW","order_ref":"o-1"}`, wantFields: []string{"amount"}},
		{name: "negative amount", body: `{"amount":"-1.00","currency":"EUR","order_ref":"o-1"}`, wantFields: []string{"amount"}},
		{name: "zero minor", body: `{"amount_minor":0,"currency":"EUR","order_ref":"o-1"}`, wantFields: []string{"amount_minor"}},
		{name: "negative minor", body: `{"amount_minor":-5,"currency":"EUR","order_ref":"o-1"}`, wantFields: []string{"amount_minor"}},
		{name: "overflow", body: `{"amount":"99999999999999999999","currency":"EUR","order_ref":"o-1"}`, wantFields: []string{"amount"}},
		{name: "both amounts", body: `{"amount":"1.00","amount_minor":100,"currency":"EUR","order_ref":"o-1"}`, wantFields: []string{"amount"}},
		{name: "no amount", body: `{"currency":"EUR","order_ref":"o-1"}`, wantFields: []string{"amount"}},
		{name: "unknown currency", body: `{"amount":"1.00","currency":"XXY","order_ref":"o-1"}`, wantFields: []string{"currency"}},
		{name: "lower-case currency", body: `{"amount":"1.00","currency":"eur","order_ref":"o-1"}`, wantFields: []string{"currency"}},
		{name: "amount as number", body: `{"amount":12.34,"currency":"EUR","order_ref":"o-1"}`, wantFields: []string{"amount"}},
		{name: "every problem at once", body: `{"amount":"1.001","currency":"EUR","return_url":"javascript:alert(1)",
			"expires_at":"tomorrow","lines":[{"name":"","quantity":0,"amount_minor":0}],"seller_signature":"!!"}`,
			wantFields: []string{"amount", "order_ref", "lines[0].name", "lines[0].quantity", "lines[0].amount_minor",
				"return_url", "expires_at", "seller_signature", "seller_key_id"}},
		{name: "expiry in the past", body: `{"amount":"1.00","currency":"EUR","order_ref":"o-1","expires_at":"2026-03-01T11:59:59Z"}`,
			wantFields: []string{"expires_at"}},
		{name: "control characters", body: `{"amount":"1.00","currency":"EUR","order_ref":"o\u0000"}`, wantFields: []string{"order_ref"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := mustServer(t, nil)
			w := ts.do(t, ts.public, req{method: "POST", path: "/v1/payments", key: keyShop, body: tt.body})
			if tt.wantFields != nil {
				p := mustProblem(t, w, http.StatusBadRequest, CodeInvalidRequest)
				got := fields(p)
				slices.Sort(got)
				want := slices.Clone(tt.wantFields)
				slices.Sort(want)
				if !slices.Equal(got, want) {
					t.Fatalf("fields = %v, want %v", got, want)
				}
				if ts.engine.creates != 0 {
					t.Fatal("an invalid request reached the engine")
				}
				return
			}
			if w.Code != http.StatusCreated {
				t.Fatalf("status %d: %s", w.Code, w.Body)
			}
			var out map[string]any
			mustJSON(t, w.Body.Bytes(), &out)
			if out["id"] == "" || out["status"] != "created" || out["pay_token"] == nil ||
				!strings.HasPrefix(out["payment_page_url"].(string), "https://pay.test/pay/") {
				t.Fatalf("response = %v", out)
			}
			if got := int64(out["amount_minor"].(float64)); got != tt.wantMinor || ts.engine.lastCreate.AmountMinor != tt.wantMinor {
				t.Fatalf("amount_minor = %d (engine got %d), want %d", got, ts.engine.lastCreate.AmountMinor, tt.wantMinor)
			}
			if loc := w.Header().Get("Location"); loc != "/v1/payments/"+out["id"].(string) {
				t.Fatalf("Location = %q", loc)
			}
		})
	}
}

func TestCreatePaymentPassesOrderToEngine(t *testing.T) {
	ts := mustServer(t, nil)
	w := ts.do(t, ts.public, req{method: "POST", path: "/v1/payments", key: keyShop, body: `{"amount":"12.34","currency":"EUR",
		"order_ref":"o-9","lines":[{"name":"tea","quantity":2,"amount_minor":617}],"expires_at":"2026-03-01T14:00:00+01:00",
		"seller_signature":"AAEC","seller_key_id":"k1","signed_at_unix_ms":42}`})
	if w.Code != http.StatusCreated {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	in := ts.engine.lastCreate
	if in.OrderRef != "o-9" || in.Currency != "EUR" || len(in.Lines) != 1 || in.Lines[0].Quantity != 2 ||
		!in.ExpiresAt.Equal(fakeNow.Add(time.Hour)) || string(in.SellerSignature) != "\x00\x01\x02" || in.SellerKeyID != "k1" || in.SignedAtUnixMS != 42 {
		t.Fatalf("engine input = %+v", in)
	}
}

func TestIdempotency(t *testing.T) {
	ts := mustServer(t, nil)
	first := ts.do(t, ts.public, req{method: "POST", path: "/v1/payments", key: keyShop, header: map[string]string{"Idempotency-Key": "k-1"},
		body: `{"amount":"12.34","currency":"EUR","order_ref":"o-1"}`})
	if first.Code != http.StatusCreated {
		t.Fatalf("first: %d %s", first.Code, first.Body)
	}
	var a, b map[string]any
	mustJSON(t, first.Body.Bytes(), &a)

	t.Run("same body, other formatting, replays", func(t *testing.T) {
		w := ts.do(t, ts.public, req{method: "POST", path: "/v1/payments", key: keyShop, header: map[string]string{"Idempotency-Key": "k-1"},
			body: "{ \"order_ref\": \"o-1\",\n \"currency\": \"EUR\", \"amount\": \"12.34\" }"})
		if w.Code != http.StatusCreated || w.Header().Get("Idempotent-Replayed") != "true" {
			t.Fatalf("replay: %d %v %s", w.Code, w.Header(), w.Body)
		}
		mustJSON(t, w.Body.Bytes(), &b)
		if b["id"] != a["id"] {
			t.Fatalf("replay id %v, first %v", b["id"], a["id"])
		}
		if _, ok := b["pay_token"]; ok {
			t.Fatal("replay returned the payer token; it must only be returned once")
		}
		if ts.engine.creates != 1 {
			t.Fatalf("creates = %d", ts.engine.creates)
		}
	})
	t.Run("different body conflicts", func(t *testing.T) {
		w := ts.do(t, ts.public, req{method: "POST", path: "/v1/payments", key: keyShop, header: map[string]string{"Idempotency-Key": "k-1"},
			body: `{"amount":"12.35","currency":"EUR","order_ref":"o-1"}`})
		mustProblem(t, w, http.StatusConflict, CodeIdempotencyConflict)
	})
	t.Run("same key, other merchant, is independent", func(t *testing.T) {
		w := ts.do(t, ts.public, req{method: "POST", path: "/v1/payments", key: keyOther, header: map[string]string{"Idempotency-Key": "k-1"},
			body: `{"amount":"12.34","currency":"EUR","order_ref":"o-1"}`})
		if w.Code != http.StatusCreated || w.Header().Get("Idempotent-Replayed") != "" {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
	})
	for _, key := range []string{"", strings.Repeat("k", 256), "has space", "tab\there", "ünï"} {
		t.Run("invalid key "+strings.ToValidUTF8(key[:min(len(key), 10)], "?"), func(t *testing.T) {
			before := ts.engine.creates
			r := req{method: "POST", path: "/v1/payments", key: keyShop, body: `{"amount":"1.00","currency":"EUR","order_ref":"o"}`,
				header: map[string]string{"Idempotency-Key": key}}
			w := ts.do(t, ts.public, r)
			mustProblem(t, w, http.StatusBadRequest, CodeIdempotencyKeyInvalid)
			if ts.engine.creates != before {
				t.Fatal("payment created despite invalid key")
			}
		})
	}
}

func TestGetListCancelEvents(t *testing.T) {
	ts := mustServer(t, nil)
	id1, _ := ts.mustCreate(t, keyShop)
	id2, _ := ts.mustCreate(t, keyShop)
	ts.mustCreate(t, keyOther)

	t.Run("get", func(t *testing.T) {
		w := ts.do(t, ts.public, req{method: "GET", path: "/v1/payments/" + id1, key: keyShop})
		var p map[string]any
		mustJSON(t, w.Body.Bytes(), &p)
		if w.Code != 200 || p["id"] != id1 || p["amount"] != "12.34" || p["pay_token"] != nil || p["token_hash"] != nil {
			t.Fatalf("%d %v", w.Code, p)
		}
	})
	t.Run("list pages through own payments only", func(t *testing.T) {
		w := ts.do(t, ts.public, req{method: "GET", path: "/v1/payments?limit=1", key: keyShop})
		var page listResponse
		mustJSON(t, w.Body.Bytes(), &page)
		if w.Code != 200 || len(page.Data) != 1 || page.Data[0].ID != id2 || page.NextCursor == "" {
			t.Fatalf("page 1: %d %s", w.Code, w.Body)
		}
		w = ts.do(t, ts.public, req{method: "GET", path: "/v1/payments?limit=1&cursor=" + page.NextCursor, key: keyShop})
		var page2 listResponse
		mustJSON(t, w.Body.Bytes(), &page2)
		if len(page2.Data) != 1 || page2.Data[0].ID != id1 || page2.NextCursor != "" {
			t.Fatalf("page 2: %s", w.Body)
		}
	})
	for _, q := range []string{"limit=0", "limit=101", "limit=x", "limit=-1"} {
		t.Run("bad "+q, func(t *testing.T) {
			p := mustProblem(t, ts.do(t, ts.public, req{method: "GET", path: "/v1/payments?" + q, key: keyShop}), 400, CodeInvalidRequest)
			if !slices.Equal(fields(p), []string{"limit"}) {
				t.Fatalf("fields %v", fields(p))
			}
		})
	}
	t.Run("events", func(t *testing.T) {
		w := ts.do(t, ts.public, req{method: "GET", path: "/v1/payments/" + id1 + "/events", key: keyShop})
		var ev eventsResponse
		mustJSON(t, w.Body.Bytes(), &ev)
		if w.Code != 200 || len(ev.Data) != 1 || ev.Data[0].Type != "payment.created" {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
	})
	t.Run("cancel, then cancel again is final", func(t *testing.T) {
		w := ts.do(t, ts.public, req{method: "POST", path: "/v1/payments/" + id1 + "/cancel", key: keyShop})
		if w.Code != 200 || !strings.Contains(w.Body.String(), `"status":"cancelled"`) {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
		mustProblem(t, ts.do(t, ts.public, req{method: "POST", path: "/v1/payments/" + id1 + "/cancel", key: keyShop}), 409, CodePaymentFinal)
	})
	t.Run("wrong method", func(t *testing.T) {
		w := ts.do(t, ts.public, req{method: "DELETE", path: "/v1/payments/" + id1, key: keyShop})
		mustProblem(t, w, 405, CodeMethodNotAllowed)
		if w.Header().Get("Allow") != "GET" {
			t.Fatalf("Allow = %q", w.Header().Get("Allow"))
		}
	})
	t.Run("unknown route", func(t *testing.T) {
		mustProblem(t, ts.do(t, ts.public, req{method: "GET", path: "/v2/nothing"}), 404, CodeNotFound)
	})
}

func TestEngineErrorMapping(t *testing.T) {
	tests := []struct {
		err    error
		status int
		code   string
	}{
		{flow.ErrNotFound, 404, CodeNotFound},
		{&flow.Error{Code: flow.CodeInvalidRequest, Field: "expires_at", Msg: "too far in the future"}, 400, CodeInvalidRequest},
		{flow.ErrIdempotencyConflict, 409, CodeIdempotencyConflict},
		{flow.ErrUnroutable, 422, CodeUnroutable},
		{flow.ErrInvalidState, 409, CodeInvalidState},
		{flow.ErrPaymentExpired, 410, CodePaymentExpired},
		{flow.ErrPaymentFinal, 409, CodePaymentFinal},
		{&flow.Error{Code: flow.CodeDeclined, Msg: "insufficient_funds"}, 402, CodeDeclined},
		{flow.ErrPluginUnavailable, 503, CodePluginUnavailable},
		{&flow.Error{Code: flow.CodeInternal, Msg: "bolt: disk full at /var/lib/switchd"}, 500, CodeInternal},
		{errString("not a flow error: secret details"), 500, CodeInternal},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			ts := mustServer(t, nil)
			ts.engine.fail["CreatePayment"] = tt.err
			w := ts.do(t, ts.public, req{method: "POST", path: "/v1/payments", key: keyShop, body: `{"amount":"1.00","currency":"EUR","order_ref":"o"}`})
			p := mustProblem(t, w, tt.status, tt.code)
			switch tt.code {
			case CodeInvalidRequest:
				if len(p.Errors) != 1 || p.Errors[0].Field != "expires_at" {
					t.Fatalf("errors = %+v", p.Errors)
				}
			case CodeDeclined:
				if p.DeclineCode != "insufficient_funds" {
					t.Fatalf("decline_code = %q", p.DeclineCode)
				}
			case CodeInternal:
				if strings.Contains(w.Body.String(), "disk") || strings.Contains(w.Body.String(), "secret") {
					t.Fatalf("internal detail leaked: %s", w.Body)
				}
			}
		})
	}
}

type errString string

func (e errString) Error() string { return string(e) }
