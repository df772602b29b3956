package checkout

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Event is a verified webhook.
type Event struct {
	ID        string // webhook-id
	Type      string // e.g. "payment.approved"
	PaymentID string
	Received  time.Time
}

// Webhooks is the store's webhook endpoint: it accepts a delivery only
// with a valid Standard Webhooks signature under the store's secret and a
// timestamp within five minutes, and answers 400 otherwise, so switchd
// retries.
type Webhooks struct {
	secret string
	ln     net.Listener
	srv    *http.Server

	mu       sync.Mutex
	events   map[string]chan Event // payment id -> its final-state events
	rejected int
}

// ListenWebhooks listens on addr (host:port; port 0 picks one) and serves
// the endpoint at any path.
func ListenWebhooks(addr, secret string) (*Webhooks, error) {
	if !strings.HasPrefix(secret, "whsec_") {
		return nil, errors.New("checkout: the webhook secret is not whsec_<base64>")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("checkout: webhook listener (the merchant's webhook_url must point here): %w", err)
	}
	w := &Webhooks{secret: secret, ln: ln, events: map[string]chan Event{}}
	w.srv = &http.Server{Handler: w, ReadHeaderTimeout: 5 * time.Second}
	go w.srv.Serve(ln)
	return w, nil
}

// Addr is the address the endpoint listens on.
func (w *Webhooks) Addr() string { return w.ln.Addr().String() }

// Close stops the listener.
func (w *Webhooks) Close() error { return w.srv.Close() }

// Rejected counts deliveries refused for a bad signature or body.
func (w *Webhooks) Rejected() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.rejected
}

func (w *Webhooks) channel(paymentID string) chan Event {
	w.mu.Lock()
	defer w.mu.Unlock()
	ch, ok := w.events[paymentID]
	if !ok {
		ch = make(chan Event, 16)
		w.events[paymentID] = ch
	}
	return ch
}

// Expect registers a payment whose webhooks are awaited.
func (w *Webhooks) Expect(paymentID string) { w.channel(paymentID) }

// Wait returns the first verified webhook for paymentID.
func (w *Webhooks) Wait(ctx context.Context, paymentID string, timeout time.Duration) (Event, error) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case ev := <-w.channel(paymentID):
		return ev, nil
	case <-t.C:
		return Event{}, fmt.Errorf("%w for %s within %s (%d deliveries refused)", ErrNoWebhook, paymentID, timeout, w.Rejected())
	case <-ctx.Done():
		return Event{}, ctx.Err()
	}
}

// ServeHTTP verifies one delivery.
func (w *Webhooks) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	received := time.Now()
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err == nil {
		err = VerifyWebhook(w.secret, r.Header, body, 5*time.Minute, time.Now())
	}
	var msg struct {
		Type string `json:"type"`
		Data struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	if err == nil {
		err = json.Unmarshal(body, &msg)
		if err == nil && (msg.Type == "" || msg.Data.ID == "") {
			err = errors.New("no type or payment id")
		}
	}
	if err != nil {
		w.mu.Lock()
		w.rejected++
		w.mu.Unlock()
		http.Error(rw, "webhook refused: "+err.Error(), http.StatusBadRequest)
		return
	}
	ev := Event{ID: r.Header.Get("webhook-id"), Type: msg.Type, PaymentID: msg.Data.ID, Received: received}
	select {
	case w.channel(ev.PaymentID) <- ev:
	default: // nobody waits for this payment any more
	}
	rw.WriteHeader(http.StatusNoContent)
}
