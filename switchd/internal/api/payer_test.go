package api

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/switchd/switchd/switchd/internal/flow"
)

func TestPayerFlow(t *testing.T) {
	ts := mustServer(t, nil)
	id, token := ts.mustCreate(t, keyShop)
	base := "/v1/pay/" + token

	t.Run("view", func(t *testing.T) {
		w := ts.do(t, ts.public, req{method: "GET", path: base})
		var v payerView
		mustJSON(t, w.Body.Bytes(), &v)
		if w.Code != 200 || v.Payment.ID != id || v.Payment.State != "created" || v.Payment.Amount != "12.34" ||
			v.MerchantName != "Tea Shop" || len(v.Banks) != 1 || v.Banks[0].BankCode != "BBBB" || !slices.Contains(v.Methods, "card") {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
		for _, secret := range []string{"token_hash", "hash-of-", token} {
			if strings.Contains(w.Body.String(), secret) {
				t.Fatalf("view contains %q", secret)
			}
		}
	})
	t.Run("choose card", func(t *testing.T) {
		w := ts.do(t, ts.public, req{method: "POST", path: base + "/method",
			body: `{"method":"card","card":{"number":"4111111111111111","expiry_month":12,"expiry_year":2030}}`})
		if w.Code != 200 || !strings.Contains(w.Body.String(), `"state":"seller_authenticated"`) {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
		in := ts.engine.lastChoose
		if in.Method != "card" || in.Card.GetPan() != "4111111111111111" || in.Card.GetExpiryMonth() != 12 || in.Card.GetExpiryYear() != 2030 || in.Account != nil {
			t.Fatalf("engine got %+v", in)
		}
	})
	t.Run("auth begin passes payer data through", func(t *testing.T) {
		body := `{"client_challenge":"12345678","extra":{"nested":[1,2]}}`
		w := ts.do(t, ts.public, req{method: "POST", path: base + "/auth/begin", body: body})
		if w.Code != 200 || string(ts.engine.lastPayer) != body {
			t.Fatalf("%d %s; engine got %s", w.Code, w.Body, ts.engine.lastPayer)
		}
		var c struct {
			Mechanism     string            `json:"mechanism"`
			ChallengeData map[string]string `json:"challenge_data"`
			DigestHex     string            `json:"digest_hex"`
		}
		mustJSON(t, w.Body.Bytes(), &c)
		if c.Mechanism != "ocra" || c.ChallengeData["server_response"] != "123456" || c.DigestHex != "abcd" {
			t.Fatalf("challenge = %+v", c)
		}
	})
	t.Run("auth finish", func(t *testing.T) {
		w := ts.do(t, ts.public, req{method: "POST", path: base + "/auth/finish", body: `{"client_response":"654321"}`})
		if w.Code != 200 || !strings.Contains(w.Body.String(), `"state":"approved"`) {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
	})
	t.Run("enroll", func(t *testing.T) {
		w := ts.do(t, ts.public, req{method: "POST", path: base + "/enroll/begin", body: `{}`})
		if w.Code != 200 || !strings.Contains(w.Body.String(), `"challenge_data":{"publicKey":{"challenge":"AAAA"}}`) {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
		w = ts.do(t, ts.public, req{method: "POST", path: base + "/enroll/finish", body: `{"id":"cred","response":{}}`})
		if w.Code != 200 || string(ts.engine.lastPayer) != `{"id":"cred","response":{}}` {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
	})
	t.Run("engine refusals map to problems", func(t *testing.T) {
		ts.engine.fail["BeginAuth"] = flow.ErrInvalidState
		mustProblem(t, ts.do(t, ts.public, req{method: "POST", path: base + "/auth/begin", body: `{}`}), 409, CodeInvalidState)
		ts.engine.fail["FinishAuth"] = &flow.Error{Code: flow.CodeDeclined, Msg: "auth_failed"}
		p := mustProblem(t, ts.do(t, ts.public, req{method: "POST", path: base + "/auth/finish", body: `{}`}), 402, CodeDeclined)
		if p.DeclineCode != "auth_failed" {
			t.Fatalf("decline_code %q", p.DeclineCode)
		}
		ts.engine.fail["FinishEnrollment"] = flow.ErrPaymentExpired
		mustProblem(t, ts.do(t, ts.public, req{method: "POST", path: base + "/enroll/finish", body: `{}`}), 410, CodePaymentExpired)
	})
}

func TestNewChallengeNonJSON(t *testing.T) {
	c := newChallenge(&flow.AuthChallenge{Mechanism: "x", ChallengeData: []byte{0xff, 0x00}})
	if string(c.ChallengeData) != `"/wA="` {
		t.Fatalf("challenge_data = %s", c.ChallengeData)
	}
	if c := newChallenge(&flow.AuthChallenge{}); string(c.ChallengeData) != `{}` {
		t.Fatalf("empty challenge_data = %s", c.ChallengeData)
	}
}

func TestChooseMethodValidation(t *testing.T) {
	tests := []struct {
		name   string
		body   string
		fields []string
	}{
		{"bank transfer ok", `{"method":"bank_transfer","account":{"bank_code":"BBBB","account_number":"DE0012345678"}}`, nil},
		{"missing method", `{}`, []string{"method"}},
		{"unknown method", `{"method":"crypto"}`, []string{"method"}},
		{"card without card", `{"method":"card"}`, []string{"card"}},
		{"card with account", `{"method":"card","card":{"number":"4111111111111111","expiry_month":1,"expiry_year":2030},"account":{"bank_code":"B","account_number":"1"}}`, []string{"account"}},
		{"bad luhn", `{"method":"card","card":{"number":"4111111111111112","expiry_month":1,"expiry_year":2030}}`, []string{"card.number"}},
		{"letters in number", `{"method":"card","card":{"number":"4111 1111 1111 1111","expiry_month":1,"expiry_year":2030}}`, []string{"card.number"}},
		{"short number", `{"method":"card","card":{"number":"41111","expiry_month":1,"expiry_year":2030}}`, []string{"card.number"}},
		{"bad month", `{"method":"card","card":{"number":"4111111111111111","expiry_month":13,"expiry_year":2030}}`, []string{"card.expiry_month"}},
		{"two-digit year", `{"method":"card","card":{"number":"4111111111111111","expiry_month":1,"expiry_year":30}}`, []string{"card.expiry_year"}},
		{"expired", `{"method":"card","card":{"number":"4111111111111111","expiry_month":2,"expiry_year":2026}}`, []string{"card.expiry_year"}},
		{"number as integer", `{"method":"card","card":{"number":4111111111111111,"expiry_month":1,"expiry_year":2030}}`, []string{"card.number"}},
		{"bank without account", `{"method":"bank_transfer"}`, []string{"account"}},
		{"bad account", `{"method":"bank_transfer","account":{"bank_code":"","account_number":"12-34"}}`, []string{"account.bank_code", "account.account_number"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := mustServer(t, nil)
			_, token := ts.mustCreate(t, keyShop)
			w := ts.do(t, ts.public, req{method: "POST", path: "/v1/pay/" + token + "/method", body: tt.body})
			if tt.fields == nil {
				if w.Code != 200 {
					t.Fatalf("%d %s", w.Code, w.Body)
				}
				return
			}
			p := mustProblem(t, w, 400, CodeInvalidRequest)
			if got := fields(p); !slices.Equal(got, tt.fields) {
				t.Fatalf("fields %v, want %v", got, tt.fields)
			}
			if ts.engine.lastChoose.Method != "" {
				t.Fatal("invalid choice reached the engine")
			}
			if strings.Contains(w.Body.String(), "41111111") {
				t.Fatalf("error echoes the card number: %s", w.Body)
			}
		})
	}
}

// TestPANNeverLeaks sends a card number through every path the choose
// method request can take (success, validation failure, engine errors
// that carelessly include it) and checks it appears in no log line and no
// response.
func TestPANNeverLeaks(t *testing.T) {
	const pan = "5555555555554444"
	const account = "ACCT99887766"
	body := `{"method":"card","card":{"number":"` + pan + `","expiry_month":12,"expiry_year":2030}}`
	bankBody := `{"method":"bank_transfer","account":{"bank_code":"BBBB","account_number":"` + account + `"}}`
	cases := []struct {
		name string
		body string
		err  error
	}{
		{"success", body, nil},
		{"bad expiry", `{"method":"card","card":{"number":"` + pan + `","expiry_month":0,"expiry_year":2030}}`, nil},
		{"unknown field", `{"method":"card","card":{"number":"` + pan + `","cvv":"123","expiry_month":1,"expiry_year":2030}}`, nil},
		{"malformed", `{"method":"card","card":{"number":"` + pan + `"`, nil},
		{"declined echoing pan", body, &flow.Error{Code: flow.CodeDeclined, Msg: "card " + pan + " declined"}},
		{"invalid echoing pan", body, &flow.Error{Code: flow.CodeInvalidRequest, Field: "card.number", Msg: "bad " + pan}},
		{"unroutable echoing pan", body, &flow.Error{Code: flow.CodeUnroutable, Msg: "no issuer for " + pan}},
		{"internal echoing pan", body, &flow.Error{Code: flow.CodeInternal, Msg: "x", Err: errString("plugin said " + pan)}},
		{"plain error echoing pan", body, errString("resolve " + pan + " failed")},
		{"bank declined echoing account", bankBody, &flow.Error{Code: flow.CodeDeclined, Msg: "account " + account}},
		{"bank internal echoing account", bankBody, errString("account " + account)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ts := mustServer(t, nil)
			_, token := ts.mustCreate(t, keyShop)
			if tc.err != nil {
				ts.engine.fail["ChooseMethod"] = tc.err
			}
			w := ts.do(t, ts.public, req{method: "POST", path: "/v1/pay/" + token + "/method", body: tc.body})
			if w.Code == 0 {
				t.Fatal("no response")
			}
			for _, secret := range []string{pan, account} {
				if strings.Contains(w.Body.String(), secret) {
					t.Fatalf("response contains a secret: %s", w.Body)
				}
				for k, v := range w.Header() {
					if strings.Contains(strings.Join(v, ","), secret) {
						t.Fatalf("header %s contains a secret", k)
					}
				}
				if strings.Contains(ts.logs.String(), secret) {
					t.Fatalf("log contains a secret: %s", ts.logs)
				}
			}
			if !strings.Contains(ts.logs.String(), `"route":"POST /v1/pay/{token}/method"`) {
				t.Fatalf("request not logged by route: %s", ts.logs)
			}
			if strings.Contains(ts.logs.String(), token) {
				t.Fatalf("log contains the payer token: %s", ts.logs)
			}
		})
	}
	_ = http.StatusOK
}
