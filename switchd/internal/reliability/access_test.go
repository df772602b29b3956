package reliability

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchd/switchd/plugins/passkey/passkeytest"
	"github.com/switchd/switchd/switchd/internal/webhook/webhooktest"
)

// TestReliabilityAccess is the access-control matrix against the real
// daemon: every merchant endpoint with the owner's key, another merchant's
// key, no key, a forged key and malformed Authorization headers; payer
// capability tokens altered, swapped for ids or keys, and used as bearer
// keys; rate limits on payer steps and merchant API use; and replays of a
// seller's order signature, of a payer's OCRA answer and of a passkey
// assertion.
func TestReliabilityAccess(t *testing.T) {
	skipUnlessSubprocesses(t)
	bin := daemonBin(t)
	r := webhooktest.NewReceiver(t)
	n := newNetwork(t, r.URL())
	r.SetSecret(n.WebhookSec)
	n.addPasskeyBank(t)
	dataDir := t.TempDir()
	p := startDaemon(t, bin, n, dataDir, nil, "--log-level", "debug")
	c := newClient(p.api)
	mk := func(ref string) *created {
		t.Helper()
		st, cr, b, err := c.create(n.APIKey, createReq("shop", 700, ref, time.Now().Add(10*time.Minute), n.SellerKey), "")
		if err != nil || st != http.StatusCreated {
			t.Fatalf("create: %d %v %s", st, err, b)
		}
		return cr
	}
	victim := mk("victim")
	const missing = "pay_aaaaaaaaaaaaaaaaaaaaaaaa"

	t.Run("merchant endpoints", func(t *testing.T) {
		forged := "sk_test_" + randHex(16)
		creds := []struct {
			name, auth string
		}{
			{"no credential", ""},
			{"forged key", "Bearer " + forged},
			{"key with a changed character", "Bearer " + n.APIKey[:len(n.APIKey)-1] + "x"},
			{"key as basic auth", "Basic " + n.APIKey},
			{"empty bearer", "Bearer "},
			{"payer token as key", "Bearer " + victim.PayToken},
			{"webhook secret as key", "Bearer " + n.WebhookSec},
		}
		endpoints := []struct{ method, path string }{
			{"POST", "/v1/payments"},
			{"GET", "/v1/payments"},
			{"GET", "/v1/payments/" + victim.ID},
			{"POST", "/v1/payments/" + victim.ID + "/cancel"},
			{"GET", "/v1/payments/" + victim.ID + "/events"},
		}
		for _, ep := range endpoints {
			for _, cr := range creds {
				t.Run(ep.method+" "+ep.path+" "+cr.name, func(t *testing.T) {
					var body any
					if ep.path == "/v1/payments" && ep.method == "POST" {
						body = createReq("shop", 1, "x", time.Now().Add(time.Minute), n.SellerKey)
					}
					hdr := map[string]string{}
					if cr.auth != "" {
						hdr["Authorization"] = cr.auth
					}
					st, b, err := c.do(ep.method, ep.path, "", body, hdr)
					if err != nil {
						t.Fatal(err)
					}
					if st != http.StatusUnauthorized || code(b) != "unauthorized" {
						t.Fatalf("%d %s, want 401 unauthorized", st, b)
					}
				})
			}
			// Another merchant's key: the payment does not exist for it,
			// byte for byte like an id that never existed.
			if strings.Contains(ep.path, victim.ID) {
				t.Run(ep.method+" "+ep.path+" other merchant", func(t *testing.T) {
					st, b, err := c.do(ep.method, ep.path, n.OtherAPI, nil, nil)
					if err != nil {
						t.Fatal(err)
					}
					st2, b2, _ := c.do(ep.method, strings.Replace(ep.path, victim.ID, missing, 1), n.OtherAPI, nil, nil)
					if st != http.StatusNotFound || code(b) != "not_found" || st2 != st || !bytes.Equal(b, b2) {
						t.Fatalf("other merchant: %d %s; nonexistent id: %d %s", st, b, st2, b2)
					}
				})
			}
		}
		t.Run("other merchant's list does not show the payment", func(t *testing.T) {
			st, b, err := c.do("GET", "/v1/payments?limit=100", n.OtherAPI, nil, nil)
			if err != nil || st != http.StatusOK {
				t.Fatalf("%d %v %s", st, err, b)
			}
			if bytes.Contains(b, []byte(victim.ID)) {
				t.Fatal("another merchant's list shows the payment")
			}
		})
		// After all that, the payment is untouched.
		if s, err := c.status(n.APIKey, victim.ID); err != nil || s != "created" {
			t.Fatalf("victim payment after the matrix: %s %v", s, err)
		}
	})

	t.Run("payer tokens", func(t *testing.T) {
		other := mk("other-payer")
		alter := func(s string) string {
			b := []byte(s)
			if b[len(b)-1] == 'A' {
				b[len(b)-1] = 'B'
			} else {
				b[len(b)-1] = 'A'
			}
			return string(b)
		}
		for _, tc := range []struct{ name, token string }{
			{"altered token", alter(victim.PayToken)},
			{"payment id as token", victim.ID},
			{"merchant key as token", n.APIKey},
			{"truncated token", victim.PayToken[:len(victim.PayToken)/2]},
		} {
			t.Run(tc.name, func(t *testing.T) {
				st, b, err := c.do("GET", "/v1/pay/"+tc.token, "", nil, nil)
				if err != nil || st != http.StatusNotFound || code(b) != "not_found" {
					t.Fatalf("view: %d %v %s", st, err, b)
				}
				st, b, err = c.payer(tc.token, "/method", cardChoice(n.PAN))
				if err != nil || st != http.StatusNotFound || code(b) != "not_found" {
					t.Fatalf("method: %d %v %s", st, err, b)
				}
			})
		}
		t.Run("a token shows only its own payment", func(t *testing.T) {
			st, b, err := c.do("GET", "/v1/pay/"+other.PayToken, "", nil, nil)
			if err != nil || st != http.StatusOK {
				t.Fatalf("%d %v %s", st, err, b)
			}
			if bytes.Contains(b, []byte(victim.ID)) || !bytes.Contains(b, []byte(other.ID)) {
				t.Fatalf("token of %s shows %s", other.ID, b)
			}
		})
	})

	t.Run("replayed OCRA answer", func(t *testing.T) {
		first := mk("ocra-first")
		answer, err := c.challenge(first.PayToken, cardChoice(n.PAN), n.OCRAKey)
		if err != nil {
			t.Fatal(err)
		}
		if state, _, err := c.finish(first.PayToken, answer); err != nil || state != "approved" {
			t.Fatalf("first payment: %s %v", state, err)
		}
		// The same answer again on the same payment: final already.
		if _, st, _ := c.finish(first.PayToken, answer); st != http.StatusConflict {
			t.Fatalf("replayed answer on the approved payment: %d, want 409", st)
		}
		// On another payment, after its own challenge: refused.
		second := mk("ocra-second")
		if _, err := c.challenge(second.PayToken, cardChoice(n.PAN), n.OCRAKey); err != nil {
			t.Fatal(err)
		}
		state, st, err := c.finish(second.PayToken, answer)
		if state == "approved" || st != http.StatusPaymentRequired {
			t.Fatalf("a replayed OCRA answer on another payment: %d %s, want 402 declined", st, state)
		}
		s, _ := c.status(n.APIKey, second.ID)
		if s == "approved" {
			t.Fatalf("second payment %s after a replayed answer", s)
		}
		t.Logf("replayed OCRA answer on another payment: %d, payment %s (%v)", st, s, err)
	})

	t.Run("replayed passkey assertion", func(t *testing.T) {
		phone, err := passkeytest.New("https://pay.example")
		if err != nil {
			t.Fatal(err)
		}
		// begin runs step A-B and the first half of C, enrolling the
		// passkey first when enrol is set, and returns the challenge.
		begin := func(token string, enrol bool) (json.RawMessage, []byte) {
			t.Helper()
			if st, b, _ := c.payer(token, "/method", cardChoice(n.PasskeyPAN)); st != http.StatusOK {
				t.Fatalf("method: %d %s", st, b)
			}
			var ch struct {
				ChallengeData json.RawMessage `json:"challenge_data"`
				DigestHex     string          `json:"digest_hex"`
			}
			if enrol {
				st, b, _ := c.payer(token, "/enroll/begin", map[string]string{"enrollment_code": n.EnrollCode})
				if st != http.StatusOK {
					t.Fatalf("enroll/begin: %d %s", st, b)
				}
				json.Unmarshal(b, &ch)
				cred, err := phone.Create(ch.ChallengeData)
				if err != nil {
					t.Fatal(err)
				}
				if st, b, _ := c.payer(token, "/enroll/finish", json.RawMessage(cred)); st/100 != 2 {
					t.Fatalf("enroll/finish: %d %s", st, b)
				}
			}
			st, b, _ := c.payer(token, "/auth/begin", json.RawMessage(`{}`))
			if st != http.StatusOK {
				t.Fatalf("auth/begin: %d %s", st, b)
			}
			json.Unmarshal(b, &ch)
			digest, _ := hex.DecodeString(ch.DigestHex)
			return ch.ChallengeData, digest
		}
		first := mk("pk-first")
		chData, digest := begin(first.PayToken, true)
		assertion, err := phone.Get(chData, digest)
		if err != nil {
			t.Fatal(err)
		}
		if state, _, err := c.finish(first.PayToken, assertion); err != nil || state != "approved" {
			t.Fatalf("first passkey payment: %s %v", state, err)
		}
		if _, st, _ := c.finish(first.PayToken, assertion); st != http.StatusConflict {
			t.Fatalf("replayed assertion on the approved payment: %d, want 409", st)
		}
		second := mk("pk-second")
		begin(second.PayToken, false)
		state, st, err := c.finish(second.PayToken, assertion)
		if state == "approved" || st != http.StatusPaymentRequired {
			t.Fatalf("replayed passkey assertion on another payment: %d %s %v, want 402 declined", st, state, err)
		}
		if s, _ := c.status(n.APIKey, second.ID); s == "approved" {
			t.Fatal("replayed passkey assertion approved another payment")
		}
		t.Logf("replayed passkey assertion on another payment: %d (%v)", st, err)
	})

	t.Run("replayed seller signature", func(t *testing.T) {
		body := createReq("shop", 900, "sig-replay", time.Now().Add(10*time.Minute), n.SellerKey)
		st, a, b, err := c.create(n.APIKey, body, "")
		if err != nil || st != http.StatusCreated {
			t.Fatalf("create: %d %v %s", st, err, b)
		}
		if state, err := c.pay(a.PayToken, cardChoice(n.PAN), n.OCRAKey); err != nil || state != "approved" {
			t.Fatalf("original: %s %v", state, err)
		}
		// The same signed terms submitted again (no idempotency key): the
		// acquirer approves a seller signature once only.
		st, replay, b, err := c.create(n.APIKey, body, "")
		if err != nil {
			t.Fatal(err)
		}
		if st == http.StatusCreated {
			if _, err := c.pay(replay.PayToken, cardChoice(n.PAN), n.OCRAKey); err == nil {
				t.Fatal("a payment with a replayed seller signature was paid")
			}
			s, _ := c.status(n.APIKey, replay.ID)
			if s == "approved" {
				t.Fatal("replayed seller signature approved")
			}
			t.Logf("replayed seller signature: created, then %s at the payer's first step", s)
		} else if st < 400 {
			t.Fatalf("replayed create: %d %s", st, b)
		}
		// A signature by the other merchant's key over shop's terms.
		forged := createReq("shop", 901, "sig-forged", time.Now().Add(10*time.Minute), n.OtherKey)
		st, fc, b, err := c.create(n.APIKey, forged, "")
		if err != nil {
			t.Fatal(err)
		}
		if st == http.StatusCreated {
			_, err := c.pay(fc.PayToken, cardChoice(n.PAN), n.OCRAKey)
			if err == nil {
				t.Fatal("a payment signed with another seller's key was paid")
			}
			t.Logf("signature by another seller's key: %v", err)
		} else if st < 400 {
			t.Fatalf("forged create: %d %s", st, b)
		}
	})

	t.Run("payer rate limit", func(t *testing.T) {
		pr := mk("rate-payer")
		limited := 0
		for i := 0; i < 15; i++ {
			st, b, err := c.payer(pr.PayToken, "/auth/begin", json.RawMessage(`{"client_challenge":"00"}`))
			if err != nil {
				t.Fatal(err)
			}
			if st == http.StatusTooManyRequests {
				if code(b) != "rate_limited" {
					t.Fatalf("429 with code %s", code(b))
				}
				limited++
			}
		}
		if limited == 0 {
			t.Fatal("15 payer auth attempts in a row were never rate limited")
		}
		// Another payer's token is not affected.
		other := mk("rate-other")
		if st, b, _ := c.do("GET", "/v1/pay/"+other.PayToken, "", nil, nil); st != http.StatusOK {
			t.Fatalf("other token: %d %s", st, b)
		}
		t.Logf("%d of 15 rapid auth attempts on one token got 429", limited)
	})

	t.Run("merchant rate limit", func(t *testing.T) {
		// Requests as fast as 16 connections go, until 50 were limited
		// (or 3000 were sent: the bucket holds 200 and refills 100/s, so
		// only a machine slower than 280 requests/s would get there).
		var (
			sent, limited atomic.Int64
			mu            sync.Mutex
			retry         string
			wg            sync.WaitGroup
		)
		hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
		for w := 0; w < 16; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for limited.Load() < 50 && sent.Add(1) <= 3000 {
					req, _ := http.NewRequest("GET", "http://"+p.api+"/v1/payments/"+victim.ID, nil)
					req.Header.Set("Authorization", "Bearer "+n.APIKey)
					res, err := hc.Do(req)
					if err != nil {
						continue
					}
					res.Body.Close()
					if res.StatusCode == http.StatusTooManyRequests {
						limited.Add(1)
						mu.Lock()
						retry = res.Header.Get("Retry-After")
						mu.Unlock()
					}
				}
			}()
		}
		wg.Wait()
		// The other merchant has its own bucket: served while shop's is
		// empty.
		if st, b, _ := c.do("GET", "/v1/payments?limit=1", n.OtherAPI, nil, nil); st != http.StatusOK {
			t.Fatalf("other merchant while shop is limited: %d %s", st, b)
		}
		if limited.Load() == 0 || retry == "" {
			t.Fatalf("%d rapid requests: %d limited, Retry-After %q", min(sent.Load(), 3000), limited.Load(), retry)
		}
		t.Logf("429 (Retry-After %s) after %d rapid requests of one merchant", retry, min(sent.Load(), 3000))
	})

	p.stop(t)
	files, bodies, hits := leakScan(t, n, r, nil, dataDir)
	t.Logf("RESULT access: matrix done; leak scan: %d hits in %d files and %d webhook bodies", hits, files, bodies)
}

// code returns a problem body's code.
func code(b []byte) string {
	var p problem
	json.Unmarshal(b, &p)
	return p.Code
}
