// Package webhooktest is a seller's webhook endpoint for tests: an
// httptest server that verifies the signature of every delivery and
// records what it received, by webhook-id. The end-to-end, browser and
// reliability suites share it.
package webhooktest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchd/switchd/switchd/internal/webhook"
)

// Hook is one webhook-id as received: its event type, its payment and how
// many times it was delivered (more than once is a redelivery).
type Hook struct {
	ID, Type, PaymentID string
	Deliveries          int
}

// Receiver is the endpoint. It is safe for concurrent use.
type Receiver struct {
	srv    *httptest.Server
	mu     sync.Mutex
	secret string
	hooks  map[string]*Hook // by webhook-id
	bodies [][]byte         // every body received, verified or not
	bad    int              // deliveries refused: bad signature or body
}

// NewReceiver starts a receiver with a fresh secret (Secret); it is
// closed when the test ends.
func NewReceiver(t testing.TB) *Receiver {
	t.Helper()
	sec, err := webhook.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	r := &Receiver{secret: sec, hooks: map[string]*Hook{}}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *Receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.bodies = append(r.bodies, body)
	if err := webhook.Verify(r.secret, req.Header, body, 5*time.Minute); err != nil {
		r.bad++
		http.Error(w, "bad signature", http.StatusBadRequest)
		return
	}
	var wh struct {
		Type string `json:"type"`
		Data struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &wh); err != nil {
		r.bad++
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	id := req.Header.Get("webhook-id")
	h := r.hooks[id]
	if h == nil {
		h = &Hook{ID: id, Type: wh.Type, PaymentID: wh.Data.ID}
		r.hooks[id] = h
	}
	h.Deliveries++
}

// URL is the endpoint to configure as a merchant's webhook_url.
func (r *Receiver) URL() string { return r.srv.URL + "/hooks" }

// Secret is the secret deliveries are verified with.
func (r *Receiver) Secret() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.secret
}

// SetSecret replaces it, for a network that made its own.
func (r *Receiver) SetSecret(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.secret = s
}

// Hooks returns the webhook-ids received and verified so far, by id.
func (r *Receiver) Hooks() []Hook {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Hook, 0, len(r.hooks))
	for _, h := range r.hooks {
		out = append(out, *h)
	}
	slices.SortFunc(out, func(a, b Hook) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// Bad is how many deliveries were refused (bad signature or body).
func (r *Receiver) Bad() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.bad
}

// Bodies returns every body received, for leak scans.
func (r *Receiver) Bodies() [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.bodies)
}

// Events returns the event types received for payment paymentID.
func (r *Receiver) Events(paymentID string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, h := range r.hooks {
		if h.PaymentID == paymentID {
			out = append(out, h.Type)
		}
	}
	return out
}

// EventIDs returns, for each payment, the distinct webhook-ids received
// with event type typ.
func (r *Receiver) EventIDs(typ string) map[string][]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string][]string{}
	for _, h := range r.hooks {
		if h.Type == typ {
			out[h.PaymentID] = append(out[h.PaymentID], h.ID)
		}
	}
	return out
}

// WaitFor waits up to timeout for a verified webhook of type typ for
// payment paymentID, and fails the test if none came.
func (r *Receiver) WaitFor(t testing.TB, paymentID, typ string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if slices.Contains(r.Events(paymentID), typ) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("payment %s: no verified %s webhook; got %v (refused deliveries: %d)", paymentID, typ, r.Events(paymentID), r.Bad())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
