package api

import (
	"bytes"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/switchd/switchd/switchd/internal/amount"
)

// checkResponse asserts the invariants every response keeps: no 5xx for
// any input, JSON body, and a known problem code on errors.
func checkResponse(t *testing.T, code int, header http.Header, body []byte) {
	t.Helper()
	if code >= 500 {
		t.Fatalf("server error %d for client input: %s", code, body)
	}
	if !json.Valid(body) {
		t.Fatalf("response is not JSON: %q", body)
	}
	if code >= 400 {
		var p Problem
		_ = json.Unmarshal(body, &p)
		if _, ok := problemKinds[p.Code]; !ok || p.Status != code || header.Get("Content-Type") != "application/problem+json" {
			t.Fatalf("bad problem for %d: %s", code, body)
		}
	}
}

func FuzzCreatePayment(f *testing.F) {
	for _, s := range []string{
		`{"amount":"12.34","currency":"EUR","order_ref":"o-1"}`,
		`{"amount_minor":1234,"currency":"KRW","order_ref":"o-1","lines":[{"name":"a","quantity":1,"amount_minor":1}]}`,
		`{"amount":"1.005","currency":"BHD","order_ref":"o","return_url":"https://x.test/","expires_at":"2026-03-01T13:00:00Z"}`,
		`{"amount":"1","currency":"EUR","order_ref":"o","seller_signature":"AAEC","seller_key_id":"k","signed_at_unix_ms":1}`,
		`{"amount":"-1","currency":"EUR"}`, `{"amount":1e400}`, `{"amount_minor":9223372036854775808}`,
		`[[[[[[]]]]]]`, `{"a":` + strings.Repeat("[", 40), `{} {}`, `"x"`, `null`, ``, "{\"order_ref\":\"\xff\"}",
	} {
		f.Add(s)
	}
	ts := mustServer(f, func(o *Options) { o.Limits.MerchantBurst = 1 << 30 })
	f.Fuzz(func(t *testing.T, body string) {
		before := ts.engine.creates
		w := ts.do(t, ts.public, req{method: "POST", path: "/v1/payments", key: keyShop, body: body, contentType: "application/json"})
		checkResponse(t, w.Code, w.Header(), w.Body.Bytes())
		switch w.Code {
		case http.StatusCreated:
			in := ts.engine.lastCreate
			if amount.Check(in.AmountMinor, in.Currency) != nil || strings.TrimSpace(in.OrderRef) == "" {
				t.Fatalf("accepted invalid input %+v from %q", in, body)
			}
		default:
			if ts.engine.creates != before {
				t.Fatalf("rejected request (%d) still created a payment", w.Code)
			}
		}
	})
}

var longDigits = regexp.MustCompile(`[0-9]{12,}`)

func FuzzChooseMethod(f *testing.F) {
	for _, s := range []string{
		`{"method":"card","card":{"number":"4111111111111111","expiry_month":12,"expiry_year":2030}}`,
		`{"method":"card","card":{"number":"4111111111111112","expiry_month":12,"expiry_year":2030}}`,
		`{"method":"bank_transfer","account":{"bank_code":"BBBB","account_number":"123456789012"}}`,
		`{"method":"card","card":{"number":4111111111111111}}`, `{"method":"card","card":{"number":"4111111111111111","cvv":"1"}}`,
		`{"method":"bank_transfer"}`, `{"method":""}`, `{}`, `[]`, `{"card":{"number":"` + strings.Repeat("4", 1000) + `"}}`,
	} {
		f.Add(s)
	}
	ts := mustServer(f, func(o *Options) { o.Limits.PayerBurst = 1 << 30 })
	_, token := ts.mustCreate(f, keyShop)
	f.Fuzz(func(t *testing.T, body string) {
		w := ts.do(t, ts.public, req{method: "POST", path: "/v1/pay/" + token + "/method", body: body})
		checkResponse(t, w.Code, w.Header(), w.Body.Bytes())
		out := w.Body.String()
		for _, d := range longDigits.FindAllString(body, -1) {
			if strings.Contains(out, d) {
				t.Fatalf("response echoes a card or account number %q: %s", d, out)
			}
		}
		if w.Code == 200 {
			in := ts.engine.lastChoose
			if in.Method == "card" && (in.Card == nil || !luhn(in.Card.Pan)) || in.Method == "bank_transfer" && in.Account == nil {
				t.Fatalf("invalid choice reached the engine: %+v", in)
			}
		}
	})
}

func FuzzPayerData(f *testing.F) {
	for _, s := range []string{
		`{"client_challenge":"12345678"}`, `{"client_response":"123456"}`,
		`{"id":"abc","rawId":"abc","type":"public-key","response":{"clientDataJSON":"e30","authenticatorData":"AA","signature":"AA"}}`,
		`{}`, `[]`, `{"a":{"b":{"c":[1,2,{"d":null}]}}}`, `{"a":1}x`, `{"a":"\ud800"}`, strings.Repeat(`{"a":`, 33) + `1` + strings.Repeat(`}`, 33),
	} {
		f.Add(s)
	}
	ts := mustServer(f, func(o *Options) { o.Limits.PayerBurst = 1 << 30 })
	_, token := ts.mustCreate(f, keyShop)
	f.Fuzz(func(t *testing.T, body string) {
		for _, step := range []string{"/auth/begin", "/auth/finish", "/enroll/begin", "/enroll/finish"} {
			ts.engine.lastPayer = nil
			w := ts.do(t, ts.public, req{method: "POST", path: "/v1/pay/" + token + step, body: body})
			checkResponse(t, w.Code, w.Header(), w.Body.Bytes())
			if w.Code == 200 {
				if !bytes.Equal(ts.engine.lastPayer, []byte(body)) {
					t.Fatalf("payer data altered: sent %q, engine got %q", body, ts.engine.lastPayer)
				}
				if !json.Valid([]byte(body)) || bytes.TrimSpace([]byte(body))[0] != '{' {
					t.Fatalf("accepted payer data that is not a JSON object: %q", body)
				}
			} else if ts.engine.lastPayer != nil {
				t.Fatalf("rejected payer data (%d) reached the engine", w.Code)
			}
		}
		// checkJSON must agree with encoding/json on validity and depth.
		p := checkJSON([]byte(body), 32)
		valid, depth := json.Valid([]byte(body)), tokenDepth([]byte(body))
		switch {
		case p == nil && !valid:
			t.Fatalf("checkJSON accepted invalid JSON %q", body)
		case p == nil && depth > 32:
			t.Fatalf("checkJSON accepted depth %d: %q", depth, body)
		case p != nil && valid && depth <= 32:
			t.Fatalf("checkJSON rejected valid JSON of depth %d (%s): %q", depth, p.Detail, body)
		case p != nil && valid && p.Code != CodeJSONTooDeep:
			t.Fatalf("deep valid JSON rejected as %s", p.Code)
		}
	})
}

// tokenDepth is the nesting depth of valid JSON according to encoding/json.
func tokenDepth(b []byte) int {
	dec := json.NewDecoder(bytes.NewReader(b))
	depth, deepest := 0, 0
	for {
		tok, err := dec.Token()
		if err != nil {
			return deepest
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
			deepest = max(deepest, depth)
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
	}
}
