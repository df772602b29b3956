package bench

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// echoed is what the test server saw of one request.
type echoed struct {
	Method, Path, Auth, Type, Body string
	Length                         int64
	Chunked                        bool // the server saw Transfer-Encoding: chunked
}

// testServer is a real net/http server counting the connections it
// accepted and the requests it handled.
type testServer struct {
	*httptest.Server
	conns, reqs atomic.Int64
	mu          sync.Mutex
	seen        []echoed
}

// newTestServer serves handle after recording each request; handle nil
// echoes the request as JSON.
func newTestServer(t *testing.T, handle func(w http.ResponseWriter, r *http.Request, n int64)) *testServer {
	t.Helper()
	ts := &testServer{}
	ts.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := ts.reqs.Add(1)
		body, _ := io.ReadAll(r.Body)
		e := echoed{Method: r.Method, Path: r.URL.Path, Auth: r.Header.Get("Authorization"), Type: r.Header.Get("Content-Type"),
			Body: string(body), Length: r.ContentLength, Chunked: len(r.TransferEncoding) > 0}
		ts.mu.Lock()
		ts.seen = append(ts.seen, e)
		ts.mu.Unlock()
		if handle != nil {
			handle(w, r, n)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(e)
	}))
	ts.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			ts.conns.Add(1)
		}
	}
	ts.Start()
	t.Cleanup(ts.Close)
	return ts
}

func (ts *testServer) addr() string { return strings.TrimPrefix(ts.URL, "http://") }

func TestHTTPConnKeepAlive(t *testing.T) {
	ts := newTestServer(t, nil)
	c := newHTTPConn(ts.addr())
	defer c.close()
	for i, tc := range []struct {
		name, method, path, key, body string
		want                          echoed
	}{
		{"post with key", http.MethodPost, "/v1/payments", "sk_1", `{"a":1}`,
			echoed{Method: "POST", Path: "/v1/payments", Auth: "Bearer sk_1", Type: "application/json", Body: `{"a":1}`, Length: 7}},
		{"post without key", http.MethodPost, "/v1/pay/tok/method", "", `{"method":"card"}`,
			echoed{Method: "POST", Path: "/v1/pay/tok/method", Type: "application/json", Body: `{"method":"card"}`, Length: 17}},
		{"post with empty body", http.MethodPost, "/v1/x", "", "",
			echoed{Method: "POST", Path: "/v1/x", Type: "application/json", Length: 0}},
		{"get", http.MethodGet, "/v1/payments/p1/events", "sk_2", "",
			echoed{Method: "GET", Path: "/v1/payments/p1/events", Auth: "Bearer sk_2", Length: 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var body []byte
			if tc.body != "" {
				body = []byte(tc.body)
			}
			status, b, err := c.do(tc.method, tc.path, tc.key, body)
			if err != nil || status != http.StatusOK {
				t.Fatalf("status %d, err %v", status, err)
			}
			var got echoed
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatalf("answer %q: %v", b, err)
			}
			if got != tc.want {
				t.Fatalf("server saw %+v, want %+v", got, tc.want)
			}
			if n := ts.conns.Load(); n != 1 {
				t.Fatalf("request %d: %d connections, want the first one reused", i+1, n)
			}
		})
	}
}

func TestHTTPConnChunkedAnswer(t *testing.T) {
	ts := newTestServer(t, func(w http.ResponseWriter, _ *http.Request, n int64) {
		// Flushing before the end, without a Content-Length, makes the
		// server answer chunked.
		for _, part := range []string{`{"state":`, `"approved",`, `"n":` + strconv.FormatInt(n, 10) + `}`} {
			_, _ = io.WriteString(w, part)
			w.(http.Flusher).Flush()
		}
	})
	c := newHTTPConn(ts.addr())
	defer c.close()
	for _, want := range []string{`{"state":"approved","n":1}`, `{"state":"approved","n":2}`} {
		status, b, err := c.do(http.MethodPost, "/x", "", []byte("{}"))
		if err != nil || status != http.StatusOK || string(b) != want {
			t.Fatalf("status %d, body %q, err %v; want 200 %s", status, b, err, want)
		}
	}
	if n := ts.conns.Load(); n != 1 {
		t.Fatalf("%d connections, want the connection reused after a chunked answer", n)
	}
}

func TestHTTPConnServerCloses(t *testing.T) {
	t.Run("Connection: close answer", func(t *testing.T) {
		ts := newTestServer(t, func(w http.ResponseWriter, _ *http.Request, n int64) {
			if n == 1 {
				w.Header().Set("Connection", "close")
			}
			_, _ = io.WriteString(w, `{"ok":true}`)
		})
		c := newHTTPConn(ts.addr())
		defer c.close()
		for i := range 3 {
			if status, b, err := c.do(http.MethodPost, "/x", "", []byte("{}")); err != nil || status != 200 || string(b) != `{"ok":true}` {
				t.Fatalf("request %d: status %d, body %q, err %v", i+1, status, b, err)
			}
		}
		if c, r := ts.conns.Load(), ts.reqs.Load(); c != 2 || r != 3 {
			t.Fatalf("%d connections for %d requests, want 2 for 3 (a new one after the close only)", c, r)
		}
	})
	t.Run("idle connection closed", func(t *testing.T) {
		ts := newTestServer(t, nil)
		c := newHTTPConn(ts.addr())
		defer c.close()
		c.peek = 0
		if _, _, err := c.do(http.MethodPost, "/x", "", []byte("{}")); err != nil {
			t.Fatal(err)
		}
		ts.CloseClientConnections() // as an idle timeout does
		deadline := time.Now().Add(5 * time.Second)
		for c.alive() && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond) // until the FIN arrived
		}
		status, _, err := c.do(http.MethodPost, "/y", "", []byte("{}"))
		if err != nil || status != 200 {
			t.Fatalf("after the server closed the idle connection: status %d, err %v; want a new connection", status, err)
		}
		if c, r := ts.conns.Load(), ts.reqs.Load(); c != 2 || r != 2 {
			t.Fatalf("%d connections, %d requests, want 2 and 2", c, r)
		}
	})
	t.Run("reset connection: nothing sent, sent once on a new one", func(t *testing.T) {
		ts := newTestServer(t, nil)
		c := newHTTPConn(ts.addr())
		defer c.close()
		c.peek = time.Hour // do does not look first: its write fails
		if _, _, err := c.do(http.MethodPost, "/x", "", []byte("{}")); err != nil {
			t.Fatal(err)
		}
		ts.CloseClientConnections()
		deadline := time.Now().Add(5 * time.Second)
		for c.alive() && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond) // until the FIN arrived
		}
		_, _ = c.c.Write([]byte("\r\n")) // answered by a reset
		time.Sleep(50 * time.Millisecond)
		status, b, err := c.do(http.MethodPost, "/y", "", []byte(`{"pay":1}`))
		if err != nil || status != 200 || !strings.Contains(string(b), `"Path":"/y"`) {
			t.Fatalf("status %d, body %q, err %v; want the request sent once on a new connection", status, b, err)
		}
		if c, r := ts.conns.Load(), ts.reqs.Load(); c != 2 || r != 2 {
			t.Fatalf("%d connections, %d requests, want 2 and 2", c, r)
		}
	})
	t.Run("broken mid-request is not sent again", func(t *testing.T) {
		ts := newTestServer(t, func(w http.ResponseWriter, _ *http.Request, n int64) {
			if n == 2 {
				conn, _, err := w.(http.Hijacker).Hijack()
				if err == nil {
					_ = conn.Close() // the request arrived; no answer
				}
				return
			}
			_, _ = io.WriteString(w, `{"ok":true}`)
		})
		c := newHTTPConn(ts.addr())
		defer c.close()
		if _, _, err := c.do(http.MethodPost, "/x", "", []byte("{}")); err != nil {
			t.Fatal(err)
		}
		_, _, err := c.do(http.MethodPost, "/x", "", []byte(`{"pay":1}`))
		if !errors.Is(err, errBroken) {
			t.Fatalf("err %v, want errBroken", err)
		}
		if r := ts.reqs.Load(); r != 2 {
			t.Fatalf("the server handled %d requests, want 2: the broken one must not be sent again", r)
		}
		if status, _, err := c.do(http.MethodPost, "/x", "", []byte("{}")); err != nil || status != 200 {
			t.Fatalf("next request: status %d, err %v; want a new connection", status, err)
		}
		if n := ts.conns.Load(); n != 2 {
			t.Fatalf("%d connections, want 2", n)
		}
	})
}

// TestExchangeClassifies: what the payment steps see of an answer, as
// stepError kinds, and never a body.
func TestExchangeClassifies(t *testing.T) {
	const pan = "4111111111111111"
	ts := newTestServer(t, func(w http.ResponseWriter, r *http.Request, _ int64) {
		switch r.URL.Path {
		case "/ok":
			_, _ = io.WriteString(w, `{"id":"p1"}`)
		case "/bad-json":
			_, _ = io.WriteString(w, `{"id":`+pan)
		case "/declined":
			w.WriteHeader(http.StatusUnprocessableEntity)
			_, _ = io.WriteString(w, `{"code":"card_declined","detail":"card `+pan+`"}`)
		case "/plain":
			http.Error(w, "card "+pan, http.StatusBadGateway)
		default:
			w.WriteHeader(http.StatusNotFound)
			_, _ = io.WriteString(w, `{"code":"not_found"}`)
		}
	})
	closed := httptest.NewServer(http.NotFoundHandler())
	closedAddr := strings.TrimPrefix(closed.URL, "http://")
	closed.Close()
	for _, tc := range []struct {
		name, addr, path, want string
	}{
		{"2xx decoded", ts.addr(), "/ok", ""},
		{"2xx not json", ts.addr(), "/bad-json", "A create: bad json"},
		{"4xx with problem code", ts.addr(), "/declined", "A create: 422 card_declined"},
		{"404", ts.addr(), "/nowhere", "A create: 404 not_found"},
		{"5xx without json", ts.addr(), "/plain", "A create: 502 "},
		{"no server", closedAddr, "/ok", "A create: transport"},
		{"path with a space", ts.addr(), "/ok ", "A create: unusable request"},
		{"path with a line break", ts.addr(), "/ok\r\nX: y", "A create: unusable request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newHTTPConn(tc.addr)
			defer c.close()
			var out struct {
				ID string `json:"id"`
			}
			err := post(c, stepCreate, tc.path, "sk_1", []byte("{}"), &out)
			if tc.want == "" {
				if err != nil || out.ID != "p1" {
					t.Fatalf("err %v, id %q", err, out.ID)
				}
				return
			}
			var se *stepError
			if !errors.As(err, &se) || err.Error() != tc.want {
				t.Fatalf("err %v, want stepError %q", err, tc.want)
			}
			if strings.Contains(err.Error(), pan) {
				t.Fatalf("error carries the body: %v", err)
			}
		})
	}
}

// BenchmarkExchange compares one POST and its decoded answer through
// httpConn and through net/http's Client (server CPU included in both).
func BenchmarkExchange(b *testing.B) {
	answer := bytes.Repeat([]byte("x"), 600)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"id":"p1","pad":"`))
		_, _ = w.Write(answer)
		_, _ = w.Write([]byte(`"}`))
	}))
	defer srv.Close()
	body := []byte(`{"amount_minor":1234,"currency":"EUR","order_ref":"bench-1"}`)
	var out struct {
		ID string `json:"id"`
	}
	b.Run("httpConn", func(b *testing.B) {
		c := newHTTPConn(strings.TrimPrefix(srv.URL, "http://"))
		defer c.close()
		b.ReportAllocs()
		for b.Loop() {
			if err := post(c, stepCreate, "/v1/payments", "sk_1", body, &out); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("net/http", func(b *testing.B) {
		cl := &http.Client{Timeout: httpTimeout}
		defer cl.CloseIdleConnections()
		b.ReportAllocs()
		for b.Loop() {
			req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/payments", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer sk_1")
			res, err := cl.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			raw, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if err := json.Unmarshal(raw, &out); err != nil {
				b.Fatal(err)
			}
		}
	})
}
