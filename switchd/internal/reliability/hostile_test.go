package reliability

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/switchd/switchd/switchd/internal/store"
	"github.com/switchd/switchd/switchd/internal/webhook/webhooktest"
)

// slowClients is how many slowloris connections the slow-client checks
// hold open at once.
const slowClients = 50

// TestReliabilityHostileInput sends hostile requests to the real daemon
// over real HTTP: oversized and endless bodies, deep JSON, unknown fields,
// trailing data, wrong media types to every decoding endpoint; oversized
// headers; slowloris clients trickling headers or a body. Each gets its
// specific answer, the daemon keeps serving others meanwhile, and nothing
// is stored: the store holds only the payments created for the payer
// endpoints, untouched, with their single event.
func TestReliabilityHostileInput(t *testing.T) {
	skipUnlessSubprocesses(t)
	bin := daemonBin(t)
	r := webhooktest.NewReceiver(t)
	n := newNetwork(t, r.URL())
	r.SetSecret(n.WebhookSec)
	dataDir := t.TempDir()
	p := startDaemon(t, bin, n, dataDir, nil, "--log-level", "debug")
	c := newClient(p.api)
	// One payment per payer step: each payer token allows 10 attempts
	// (burst), which the hostile requests to one step stay under.
	tokens := map[string]string{}
	for _, step := range []string{"/method", "/auth/begin", "/auth/finish"} {
		st, cr, b, err := c.create(n.APIKey, createReq("shop", 500, "hostile"+strings.ReplaceAll(step, "/", "-"), time.Now().Add(10*time.Minute), n.SellerKey), "")
		if err != nil || st != http.StatusCreated {
			t.Fatalf("create: %d %v %s", st, err, b)
		}
		tokens[step] = cr.PayToken
	}
	deep := strings.Repeat(`{"a":`, 40) + "1" + strings.Repeat("}", 40)
	deepLines := `{"amount":"1.00","currency":"EUR","order_ref":"o","lines":` + strings.Repeat("[", 64) + strings.Repeat("]", 64) + "}"
	big := `{"amount":"1.00","currency":"EUR","order_ref":"o","description":"` + strings.Repeat("x", 70<<10) + `"}`
	good := `{"amount":"1.00","currency":"EUR","order_ref":"o"}`
	// A card number with a wrong check digit: refused, and never logged.
	badPAN := n.PAN[:len(n.PAN)-1] + string('0'+(n.PAN[len(n.PAN)-1]-'0'+1)%10)
	type tcase struct {
		name, path, key, body, ctype string
		status                       int
		code                         string
	}
	cases := []tcase{
		{"create: oversized body", "/v1/payments", n.APIKey, big, "", 413, "body_too_large"},
		{"create: deep objects", "/v1/payments", n.APIKey, deep, "", 400, "json_too_deep"},
		{"create: deep arrays in a field", "/v1/payments", n.APIKey, deepLines, "", 400, "json_too_deep"},
		{"create: unknown field", "/v1/payments", n.APIKey, `{"amount":"1.00","currency":"EUR","order_ref":"o","amont":"2"}`, "", 400, "unknown_field"},
		{"create: trailing data", "/v1/payments", n.APIKey, good + `{"x":1}`, "", 400, "invalid_request"},
		{"create: malformed", "/v1/payments", n.APIKey, `{"amount":`, "", 400, "invalid_request"},
		{"create: text/plain", "/v1/payments", n.APIKey, good, "text/plain", 415, "unsupported_media_type"},
		{"create: bad amount", "/v1/payments", n.APIKey, `{"amount":"1e9","currency":"EUR","order_ref":"o"}`, "", 400, "invalid_request"},
		{"create: bad currency", "/v1/payments", n.APIKey, `{"amount":"1.00","currency":"eur","order_ref":"o"}`, "", 400, "invalid_request"},
		{"create: negative amount", "/v1/payments", n.APIKey, `{"amount_minor":-5,"currency":"EUR","order_ref":"o"}`, "", 400, "invalid_request"},
	}
	for _, step := range []string{"/method", "/auth/begin", "/auth/finish"} {
		path := "/v1/pay/" + tokens[step] + step
		cases = append(cases,
			tcase{"payer " + step + ": oversized body", path, "", big, "", 413, "body_too_large"},
			tcase{"payer " + step + ": deep objects", path, "", deep, "", 400, "json_too_deep"},
			tcase{"payer " + step + ": not an object", path, "", `"x"`, "", 400, "invalid_request"},
			tcase{"payer " + step + ": text/html", path, "", `{}`, "text/html", 415, "unsupported_media_type"})
	}
	cases = append(cases,
		tcase{"payer /method: unknown field", "/v1/pay/" + tokens["/method"] + "/method", "", `{"method":"card","cvv":"123"}`, "", 400, "unknown_field"},
		tcase{"payer /method: bad check digit", "/v1/pay/" + tokens["/method"] + "/method", "",
			`{"method":"card","card":{"number":"` + badPAN + `","expiry_month":12,"expiry_year":2039}}`, "", 400, "invalid_request"})
	hc := &http.Client{Timeout: 20 * time.Second}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("POST", "http://"+p.api+tc.path, strings.NewReader(tc.body))
			ct := tc.ctype
			if ct == "" {
				ct = "application/json"
			}
			req.Header.Set("Content-Type", ct)
			if tc.key != "" {
				req.Header.Set("Authorization", "Bearer "+tc.key)
			}
			mustProblem(t, hc, req, tc.status, tc.code)
		})
	}
	t.Run("create: endless streamed body", func(t *testing.T) {
		pr, pw := io.Pipe()
		go func() {
			chunk := []byte(strings.Repeat(" ", 4096))
			for {
				if _, err := pw.Write(chunk); err != nil {
					return
				}
			}
		}()
		defer pr.Close()
		req, _ := http.NewRequest("POST", "http://"+p.api+"/v1/payments", pr)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+n.APIKey)
		mustProblem(t, hc, req, 413, "body_too_large")
	})
	t.Run("oversized header", func(t *testing.T) {
		req, _ := http.NewRequest("GET", "http://"+p.api+"/v1/payments", nil)
		req.Header.Set("Authorization", "Bearer "+n.APIKey)
		req.Header.Set("X-Junk", strings.Repeat("j", 80<<10))
		res, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
			t.Fatalf("status %d, want 431", res.StatusCode)
		}
	})
	// Slow clients: the server gives up on them (ReadHeaderTimeout 10s,
	// ReadTimeout 30s) and meanwhile serves everyone else.
	t.Run("slow clients", func(t *testing.T) {
		t.Run("slowloris headers", func(t *testing.T) {
			t.Parallel()
			conns := make([]net.Conn, slowClients)
			for i := range conns {
				cn, err := net.Dial("tcp", p.api)
				if err != nil {
					t.Fatal(err)
				}
				defer cn.Close()
				io.WriteString(cn, "GET /v1/payments HTTP/1.1\r\nHost: x\r\n")
				conns[i] = cn
			}
			start := time.Now()
			// Trickle one header line a second; the server must hang up
			// at its ReadHeaderTimeout (10s), well before 20s.
			closed := make(chan time.Duration, len(conns))
			for _, cn := range conns {
				go func() {
					for time.Since(start) < 25*time.Second {
						if _, err := io.WriteString(cn, "X-Slow: 1\r\n"); err != nil {
							break
						}
						cn.SetReadDeadline(time.Now().Add(time.Second))
						if _, err := cn.Read(make([]byte, 1)); err != nil {
							if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
								break
							}
						} else {
							break
						}
					}
					closed <- time.Since(start)
				}()
			}
			// Others are served while the slow connections are open.
			if st, _, err := c.do("GET", "/v1/payments?limit=1", n.APIKey, nil, nil); err != nil || st != http.StatusOK {
				t.Errorf("a normal request during slowloris: %d %v", st, err)
			}
			for range conns {
				if d := <-closed; d > 20*time.Second {
					t.Fatalf("a slowloris connection was held for %s", d.Round(time.Second))
				}
			}
		})
		t.Run("slow body", func(t *testing.T) {
			t.Parallel()
			cn, err := net.Dial("tcp", p.api)
			if err != nil {
				t.Fatal(err)
			}
			defer cn.Close()
			start := time.Now()
			io.WriteString(cn, "POST /v1/payments HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nAuthorization: Bearer "+n.APIKey+
				"\r\nContent-Length: 100000\r\n\r\n{")
			type answer struct {
				res *http.Response
				err error
			}
			got := make(chan answer, 1)
			go func() {
				res, err := http.ReadResponse(bufio.NewReader(cn), nil)
				got <- answer{res, err}
			}()
			tick := time.NewTicker(time.Second)
			defer tick.Stop()
			for {
				select {
				case a := <-got:
					d := time.Since(start)
					if d > 40*time.Second {
						t.Fatalf("slow body held for %s", d.Round(time.Second))
					}
					if a.err == nil {
						// The body read failed at ReadTimeout: a problem,
						// never a stored payment.
						defer a.res.Body.Close()
						var pr problem
						json.NewDecoder(a.res.Body).Decode(&pr)
						if a.res.Header.Get("Content-Type") != "application/problem+json" || a.res.StatusCode != 400 || pr.Code != "invalid_request" {
							t.Fatalf("slow body answered %d %q %+v", a.res.StatusCode, a.res.Header.Get("Content-Type"), pr)
						}
					}
					t.Logf("slow body cut after %s (answer: %v)", d.Round(time.Second), a.err == nil)
					return
				case <-tick.C:
					if time.Since(start) > 45*time.Second {
						t.Fatal("slow body never cut off")
					}
					io.WriteString(cn, " ")
				}
			}
		})
	})
	p.stop(t)
	// Nothing stored: the three payments, still created, one event each.
	s := openStore(t, dataDir)
	err := s.View(context.Background(), func(tx store.Tx) error {
		for _, m := range []string{"shop", "other"} {
			ps, _, err := tx.ListPayments(m, "", 100)
			if err != nil {
				return err
			}
			want := map[string]int{"shop": len(tokens), "other": 0}[m]
			if len(ps) != want {
				t.Errorf("merchant %s: %d payments stored, want %d", m, len(ps), want)
			}
			for _, sp := range ps {
				evs, err := tx.Events(sp.ID)
				if err != nil {
					return err
				}
				if sp.State != "created" || len(evs) != 1 || sp.Method != "" {
					t.Errorf("payment %s changed by hostile input: state %s, method %q, %d events", sp.ID, sp.State, sp.Method, len(evs))
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	files, bodies, hits := leakScan(t, n, r, map[string]string{"rejected card number": badPAN}, dataDir)
	t.Logf("RESULT hostile input: %d request cases + endless body, oversized header, %d slowloris connections, slow body: nothing stored; leak scan: %d hits in %d files and %d webhook bodies",
		len(cases), slowClients, hits, files, bodies)
}

// mustProblem sends req and checks the answer is a problem+json with
// status and code.
func mustProblem(t *testing.T, hc *http.Client, req *http.Request, status int, code string) {
	t.Helper()
	res, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var p problem
	if err := json.NewDecoder(res.Body).Decode(&p); err != nil {
		t.Fatalf("status %d, body not JSON: %v", res.StatusCode, err)
	}
	if res.StatusCode != status || p.Code != code || p.Status != status {
		t.Fatalf("got %d %s (problem status %d), want %d %s", res.StatusCode, p.Code, p.Status, status, code)
	}
	if ct := res.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type %q, want application/problem+json", ct)
	}
}
