package e2e

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/switchd/switchd/switchd/internal/flow"
)

// TestFailureBranches runs every way a payment can fail through the real
// daemon and checks that each ends in its named final state, that the
// seller hears about it, and (from the ledgers) that no money stayed
// moved.
func TestFailureBranches(t *testing.T) {
	e := setup(t)
	n, r, dataDir, c := e.n, e.r, e.dataDir, e.c
	bk := n.Banks[0]
	_, wrongKey, _ := ed25519.GenerateKey(rand.Reader)
	closedKey := "closed_" + n.APIKey
	soon := func() time.Time { return time.Now().Add(10 * time.Minute) }

	for _, tc := range []struct {
		name      string
		merchant  string
		key       string
		signer    ed25519.PrivateKey
		expiresIn time.Duration
		run       func(t *testing.T, token, id string)
		wantState string
		wantCode  string
	}{
		{name: "seller refused", merchant: "shop", signer: wrongKey, wantState: "refused", wantCode: "bad_signature",
			run: func(t *testing.T, token, _ string) {
				if _, code, err := c.pay(token, cardChoice(bk.PAN), bk.OCRAKeys["alice"]); err == nil || code != "declined" {
					t.Fatalf("pay: %v %s", err, code)
				}
			}},
		{name: "payer fails C", merchant: "shop", signer: n.SellerKey, wantState: "declined", wantCode: "auth_failed",
			run: func(t *testing.T, token, _ string) {
				mustOK(t, c, token, "/method", cardChoice(bk.PAN))
				// Each wrong answer is declined; the payment stays open
				// until the last of flow.MaxPayerAttempts tries.
				for i := 0; i < flow.MaxPayerAttempts; i++ {
					mustOK(t, c, token, "/auth/begin", json.RawMessage(fmt.Sprintf(`{"client_challenge":"1234567%d"}`, i)))
					if _, code, err := c.finish(token, []byte(`{"client_response":"00000000"}`)); err == nil || code != "declined" {
						t.Fatalf("finish %d: %v %s", i, err, code)
					}
				}
			}},
		{name: "insufficient funds", merchant: "shop", signer: n.SellerKey, wantState: "declined", wantCode: "insufficient_funds",
			run: func(t *testing.T, token, _ string) {
				if _, code, err := c.pay(token, accountChoice(bk.BankCode, bk.PoorAccount), bk.OCRAKeys["bob"]); err == nil || code != "declined" {
					t.Fatalf("pay: %v %s", err, code)
				}
			}},
		{name: "acquirer refuses", merchant: "closed_shop", key: closedKey, signer: n.SellerKey, wantState: "declined", wantCode: "unknown_account",
			run: func(t *testing.T, token, _ string) {
				if _, code, err := c.pay(token, cardChoice(bk.PAN), bk.OCRAKeys["alice"]); err == nil || code != "declined" {
					t.Fatalf("pay: %v %s", err, code)
				}
			}},
		{name: "cancel", merchant: "shop", signer: n.SellerKey, wantState: "cancelled", wantCode: "cancelled",
			run: func(t *testing.T, token, id string) {
				mustOK(t, c, token, "/method", cardChoice(bk.PAN))
				st, b, err := c.do("POST", "/v1/payments/"+id+"/cancel", n.APIKey, nil, nil)
				if err != nil || st != http.StatusOK {
					t.Fatalf("cancel: %d %s %v", st, b, err)
				}
				if st, _, _ := c.payer(token, "/auth/begin", json.RawMessage(`{}`)); st == http.StatusOK {
					t.Fatal("auth after cancel succeeded")
				}
			}},
		{name: "expired unpaid", merchant: "shop", signer: n.SellerKey, expiresIn: 2 * time.Second, wantState: "expired", wantCode: "expired",
			run: func(*testing.T, string, string) {}},
		{name: "expired after B", merchant: "shop", signer: n.SellerKey, expiresIn: 3 * time.Second, wantState: "expired", wantCode: "expired",
			run: func(t *testing.T, token, _ string) { mustOK(t, c, token, "/method", cardChoice(bk.PAN)) }},
		{name: "expired during C", merchant: "shop", signer: n.SellerKey, expiresIn: 3 * time.Second, wantState: "expired", wantCode: "expired",
			run: func(t *testing.T, token, _ string) {
				mustOK(t, c, token, "/method", accountChoice(bk.BankCode, bk.Account))
				mustOK(t, c, token, "/auth/begin", json.RawMessage(`{"client_challenge":"12345678"}`))
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key := tc.key
			if key == "" {
				key = n.APIKey
			}
			exp := soon()
			if tc.expiresIn > 0 {
				exp = time.Now().Add(tc.expiresIn)
			}
			st, cr, body, err := c.create(tc.merchant, key, createReq(tc.merchant, 4200, "o-"+tc.name, exp, tc.signer), "")
			if err != nil || st != http.StatusCreated {
				t.Fatalf("create: %d %s %v", st, body, err)
			}
			tc.run(t, cr.PayToken, cr.ID)
			deadline := time.Now().Add(15 * time.Second)
			var state, code string
			for time.Now().Before(deadline) {
				state, code, err = c.getPayment(key, cr.ID)
				if err != nil {
					t.Fatal(err)
				}
				if state == tc.wantState {
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			if state != tc.wantState || code != tc.wantCode {
				t.Fatalf("state %s (%s), want %s (%s)", state, code, tc.wantState, tc.wantCode)
			}
			r.WaitFor(t, cr.ID, "payment."+tc.wantState, hookWait)
		})
	}
	e.stop(t)
	// No money stayed moved anywhere.
	issCard := balances(t, dataDir, "card", bk.ID)
	issBT := balances(t, dataDir, "banktransfer", bk.ID)
	acqCard := balances(t, dataDir, "card", "acq")
	for _, tc := range []struct {
		name      string
		got, want int64
	}{
		{"payer card", sumPrefix(issCard, "card:"), 0},
		{"payer account", issBT["acct:"+bk.Account], 1000000},
		{"poor account", issBT["acct:"+bk.PoorAccount], 100},
		{"issuer card clearing", sumPrefix(issCard, "clearing:"), 0},
		{"shop receivable", acqCard["merchant:"+n.Settlement], 0},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, tc.got, tc.want)
		}
	}
}

func mustOK(t *testing.T, c *client, token, step string, body any) {
	t.Helper()
	st, b, err := c.payer(token, step, body)
	if err != nil || st != http.StatusOK {
		t.Fatalf("%s: %d %s %v", step, st, b, err)
	}
}

// TestIdempotentCreateConcurrent sends 50 concurrent creates with one
// Idempotency-Key: one payment results, every answer names it; a
// different body with the same key is a conflict.
func TestIdempotentCreateConcurrent(t *testing.T) {
	e := setup(t)
	n, c := e.n, e.c
	body := createReq("shop", 990, "idem-order", time.Now().Add(10*time.Minute), n.SellerKey)
	var wg sync.WaitGroup
	ids := make([]string, 50)
	statuses := make([]int, 50)
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, cr, _, err := c.create("shop", n.APIKey, body, "idem-key-1")
			if err == nil && cr != nil {
				ids[i], statuses[i] = cr.ID, st
			}
		}()
	}
	wg.Wait()
	for i := range ids {
		if ids[i] == "" || ids[i] != ids[0] || statuses[i] != http.StatusCreated {
			t.Fatalf("answer %d: status %d id %q, first id %q", i, statuses[i], ids[i], ids[0])
		}
	}
	st, b, _ := c.do("GET", "/v1/payments?limit=100", n.APIKey, nil, nil)
	var list struct {
		Data []json.RawMessage `json:"data"`
	}
	json.Unmarshal(b, &list)
	if st != http.StatusOK || len(list.Data) != 1 {
		t.Fatalf("listing: %d, %d payments", st, len(list.Data))
	}
	other := createReq("shop", 991, "idem-order", time.Now().Add(10*time.Minute), n.SellerKey)
	st, _, b, _ = c.create("shop", n.APIKey, other, "idem-key-1")
	var p problem
	json.Unmarshal(b, &p)
	if st != http.StatusConflict || p.Code != "idempotency_conflict" {
		t.Fatalf("different body: %d %s", st, b)
	}
}
