package outbox_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchd/switchd/switchd/internal/outbox"
	"github.com/switchd/switchd/switchd/internal/store"
	"github.com/switchd/switchd/switchd/internal/store/storetest"
	"github.com/switchd/switchd/switchd/internal/webhook"
)

// fast is a retry policy short enough for tests.
var fast = outbox.Policy{MaxAttempts: 4, InitialBackoff: 40 * time.Millisecond, MaxBackoff: 200 * time.Millisecond, PollInterval: time.Second}

// receiver is a seller's webhook endpoint: it answers with the statuses
// in script (then 200) and keeps what it received.
type receiver struct {
	srv    *httptest.Server
	secret string

	mu     sync.Mutex
	script []int
	got    []received
}

type received struct {
	at     time.Time
	header http.Header
	body   []byte
	status int
}

func newReceiver(t *testing.T, script ...int) *receiver {
	t.Helper()
	secret, err := webhook.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	r := &receiver{secret: secret, script: script}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		status := http.StatusOK
		if len(r.script) > 0 {
			status, r.script = r.script[0], r.script[1:]
		}
		r.got = append(r.got, received{at: time.Now(), header: req.Header.Clone(), body: body, status: status})
		r.mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) setScript(script ...int) {
	r.mu.Lock()
	r.script = script
	r.mu.Unlock()
}

func (r *receiver) received() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.got...)
}

func (r *receiver) handler() outbox.Handler {
	return outbox.WebhookHandler(func(merchantID string) (string, string, bool) {
		if merchantID != "m1" {
			return "", "", false
		}
		return r.srv.URL + "/hooks", r.secret, true
	}, r.srv.Client())
}

// start runs a worker until the test ends.
func start(t *testing.T, st store.Store, handlers map[string]outbox.Handler, p outbox.Policy) *outbox.Worker {
	t.Helper()
	w := outbox.New(st, handlers, p, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return w
}

func enqueue(t *testing.T, st store.Store, ms ...*store.OutboxMessage) {
	t.Helper()
	err := st.Update(context.Background(), func(tx store.Tx) error {
		for _, m := range ms {
			if err := tx.Enqueue(m); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func hook(id string) *store.OutboxMessage {
	return &store.OutboxMessage{
		ID: id, Kind: store.KindWebhook, PaymentID: "pay_" + id, MerchantID: "m1", EventType: "payment.approved",
		Body: []byte(`{"type":"payment.approved","data":{"id":"pay_` + id + `"}}`), CreatedAt: time.Now(),
	}
}

func get(t *testing.T, st store.Store, id string) *store.OutboxMessage {
	t.Helper()
	var m *store.OutboxMessage
	err := st.View(context.Background(), func(tx store.Tx) (err error) {
		m, err = tx.GetOutbox(id)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// waitState waits (up to 10s) for message id to reach state.
func waitState(t *testing.T, st store.Store, id, state string) *store.OutboxMessage {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		m := get(t, st, id)
		if m.State == state {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("message %s is %s after %d attempts (last error %q), want %s", id, m.State, m.Attempts, m.LastError, state)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestDeliversSignedWebhook(t *testing.T) {
	st := storetest.MustOpen(t)
	r := newReceiver(t)
	w := start(t, st, map[string]outbox.Handler{store.KindWebhook: r.handler()}, fast)
	m := hook("out_1")
	enqueue(t, st, m)
	w.Kick()

	got := waitState(t, st, "out_1", store.OutboxDelivered)
	if got.Attempts != 1 || got.DeliveredAt.IsZero() || got.LastError != "" {
		t.Errorf("delivered message = %+v", got)
	}
	reqs := r.received()
	if len(reqs) != 1 {
		t.Fatalf("receiver got %d requests, want 1", len(reqs))
	}
	req := reqs[0]
	if err := webhook.Verify(r.secret, req.header, req.body, time.Minute); err != nil {
		t.Errorf("receiver cannot verify the webhook: %v", err)
	}
	if id := req.header.Get("webhook-id"); id != "out_1" {
		t.Errorf("webhook-id = %q, want out_1", id)
	}
	if string(req.body) != string(m.Body) {
		t.Errorf("body = %s, want %s", req.body, m.Body)
	}
	if ct := req.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
}

func TestRetriesWithBackoffAndStableID(t *testing.T) {
	st := storetest.MustOpen(t)
	r := newReceiver(t, 500, 503, 429)
	w := start(t, st, map[string]outbox.Handler{store.KindWebhook: r.handler()}, fast)
	enqueue(t, st, hook("out_r"))
	w.Kick()

	got := waitState(t, st, "out_r", store.OutboxDelivered)
	if got.Attempts != 4 {
		t.Errorf("attempts = %d, want 4 (three failures, then success)", got.Attempts)
	}
	reqs := r.received()
	if len(reqs) != 4 {
		t.Fatalf("receiver got %d requests, want 4", len(reqs))
	}
	for i, req := range reqs {
		if id := req.header.Get("webhook-id"); id != "out_r" {
			t.Errorf("attempt %d: webhook-id = %q, want out_r", i+1, id)
		}
		if err := webhook.Verify(r.secret, req.header, req.body, time.Minute); err != nil {
			t.Errorf("attempt %d: %v", i+1, err)
		}
		if i == 0 {
			continue
		}
		// The wait after failure n is at least half of Backoff(n).
		gap, min := req.at.Sub(reqs[i-1].at), fast.Backoff(i)/2
		if gap < min {
			t.Errorf("attempt %d came %v after the previous one, want at least %v", i+1, gap, min)
		}
	}
}

func TestGivesUp(t *testing.T) {
	tests := []struct {
		name     string
		script   []int
		attempts int
		errHas   string
	}{
		{"retryable until MaxAttempts", []int{500, 500, 500, 500, 500}, 4, "answered 500"},
		{"permanent 4xx at once", []int{400}, 1, "answered 400"},
		{"gone", []int{410}, 1, "answered 410"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := storetest.MustOpen(t)
			r := newReceiver(t, tt.script...)
			w := start(t, st, map[string]outbox.Handler{store.KindWebhook: r.handler()}, fast)
			enqueue(t, st, hook("out_g"))
			w.Kick()
			got := waitState(t, st, "out_g", store.OutboxGaveUp)
			if got.Attempts != tt.attempts || !strings.Contains(got.LastError, tt.errHas) {
				t.Errorf("gave up after %d attempts with %q; want %d and %q", got.Attempts, got.LastError, tt.attempts, tt.errHas)
			}
			if strings.Contains(got.LastError, r.secret) || strings.Contains(got.LastError, r.srv.URL+"/hooks") {
				t.Errorf("last error leaks the secret or URL: %q", got.LastError)
			}
			if n := len(r.received()); n != tt.attempts {
				t.Errorf("receiver got %d requests, want %d", n, tt.attempts)
			}
		})
	}
}

func TestResend(t *testing.T) {
	st := storetest.MustOpen(t)
	r := newReceiver(t, 400)
	w := start(t, st, map[string]outbox.Handler{store.KindWebhook: r.handler()}, fast)
	enqueue(t, st, hook("out_x"))
	w.Kick()
	waitState(t, st, "out_x", store.OutboxGaveUp)

	// The seller fixed their endpoint; the admin resends.
	if err := w.Resend(context.Background(), "out_x"); err != nil {
		t.Fatal(err)
	}
	got := waitState(t, st, "out_x", store.OutboxDelivered)
	if got.Attempts != 1 || got.LastError != "" {
		t.Errorf("after resend: %+v", got)
	}
	// A delivered message can be resent too, with the same webhook-id.
	if err := w.Resend(context.Background(), "out_x"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(r.received()) < 3 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	waitState(t, st, "out_x", store.OutboxDelivered)
	reqs := r.received()
	if len(reqs) != 3 {
		t.Fatalf("receiver got %d requests, want 3", len(reqs))
	}
	for i, req := range reqs {
		if id := req.header.Get("webhook-id"); id != "out_x" {
			t.Errorf("request %d: webhook-id %q", i, id)
		}
	}

	if err := w.Resend(context.Background(), "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Resend(missing) = %v, want ErrNotFound", err)
	}
}

func TestRestartedWorkerDeliversPending(t *testing.T) {
	path := filepath.Join(t.TempDir(), "outbox.db")
	r := newReceiver(t, 503, 503, 503)

	// First life: the receiver is down; the attempts are recorded.
	st, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	slow := fast
	slow.InitialBackoff, slow.MaxBackoff = 50*time.Millisecond, 50*time.Millisecond
	w := outbox.New(st, map[string]outbox.Handler{store.KindWebhook: r.handler()}, slow, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	enqueue(t, st, hook("a"), hook("b"), hook("c"))
	w.Kick()
	deadline := time.Now().Add(10 * time.Second)
	for len(r.received()) < 3 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	// Second life on the same file, receiver back up.
	st = storetest.MustOpenAt(t, path, store.Options{})
	for _, id := range []string{"a", "b", "c"} {
		if m := get(t, st, id); m.State != store.OutboxPending {
			t.Fatalf("%s is %s before restart", id, m.State)
		}
	}
	start(t, st, map[string]outbox.Handler{store.KindWebhook: r.handler()}, slow)
	for _, id := range []string{"a", "b", "c"} {
		waitState(t, st, id, store.OutboxDelivered)
	}
	delivered := map[string]bool{}
	for _, req := range r.received() {
		if req.status == 200 {
			delivered[req.header.Get("webhook-id")] = true
		}
	}
	if len(delivered) != 3 {
		t.Errorf("receiver accepted %v, want a, b and c", delivered)
	}
}

func TestConcurrencyIsBoundedAndNoDoubleStart(t *testing.T) {
	tests := []struct {
		name        string
		msgs, slots int
		wantPeak    int32
	}{
		{"more messages than slots", 10, 3, 3},
		{"free slots while messages are in flight", 2, 3, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := storetest.MustOpen(t)
			var cur, peak atomic.Int32
			var callsMu sync.Mutex
			calls := map[string]int{}
			release := make(chan struct{})
			h := func(ctx context.Context, m *store.OutboxMessage) error {
				callsMu.Lock()
				calls[m.ID]++
				callsMu.Unlock()
				n := cur.Add(1)
				defer cur.Add(-1)
				for {
					p := peak.Load()
					if n <= p || peak.CompareAndSwap(p, n) {
						break
					}
				}
				select {
				case <-release:
				case <-ctx.Done():
					return ctx.Err()
				}
				return nil
			}
			p := fast
			p.Concurrency = tt.slots
			w := start(t, st, map[string]outbox.Handler{store.KindAcquirerNotice: h}, p)
			var ms []*store.OutboxMessage
			for i := range tt.msgs {
				ms = append(ms, &store.OutboxMessage{ID: fmt.Sprintf("n%d", i), Kind: store.KindAcquirerNotice, PaymentID: "p"})
			}
			enqueue(t, st, ms...)
			w.Kick()
			deadline := time.Now().Add(10 * time.Second)
			for cur.Load() < tt.wantPeak && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			// Wake-ups while messages are in flight must not start one twice.
			for range 20 {
				w.Kick()
				time.Sleep(time.Millisecond)
			}
			close(release)
			for _, m := range ms {
				waitState(t, st, m.ID, store.OutboxDelivered)
			}
			if got := peak.Load(); got != tt.wantPeak {
				t.Errorf("peak concurrent deliveries = %d, want %d", got, tt.wantPeak)
			}
			callsMu.Lock()
			defer callsMu.Unlock()
			for _, m := range ms {
				if calls[m.ID] != 1 {
					t.Errorf("message %s handled %d times, want once", m.ID, calls[m.ID])
				}
			}
		})
	}
}

func TestHandlerOutcomes(t *testing.T) {
	tests := []struct {
		name    string
		handler outbox.Handler
		kind    string
		state   string
		errHas  string
	}{
		{"no handler for kind", nil, "carrier_pigeon", store.OutboxGaveUp, "no handler"},
		{"permanent error", func(context.Context, *store.OutboxMessage) error {
			return outbox.Permanent(errors.New("acquirer rejects notice"))
		}, store.KindAcquirerNotice, store.OutboxGaveUp, "acquirer rejects notice"},
		{"panic is retried then given up", func(context.Context, *store.OutboxMessage) error {
			panic("handler bug")
		}, store.KindAcquirerNotice, store.OutboxGaveUp, "handler bug"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := storetest.MustOpen(t)
			handlers := map[string]outbox.Handler{}
			if tt.handler != nil {
				handlers[tt.kind] = tt.handler
			}
			w := start(t, st, handlers, fast)
			enqueue(t, st, &store.OutboxMessage{ID: "x", Kind: tt.kind, PaymentID: "p"})
			w.Kick()
			got := waitState(t, st, "x", tt.state)
			if !strings.Contains(got.LastError, tt.errHas) {
				t.Errorf("last error %q, want it to mention %q", got.LastError, tt.errHas)
			}
		})
	}
}

func TestWebhookHandlerWithoutEndpoint(t *testing.T) {
	h := outbox.WebhookHandler(func(string) (string, string, bool) { return "", "", false }, nil)
	err := h(context.Background(), hook("z"))
	if !outbox.IsPermanent(err) || !errors.Is(err, outbox.ErrNoEndpoint) {
		t.Fatalf("err = %v, want permanent ErrNoEndpoint", err)
	}
	h = outbox.WebhookHandler(func(string) (string, string, bool) { return "http://x", "whsec_short", true }, nil)
	err = h(context.Background(), hook("z"))
	if !outbox.IsPermanent(err) || !errors.Is(err, webhook.ErrSecretEncoding) {
		t.Fatalf("err = %v, want permanent secret error", err)
	}
}

func TestBackoffSchedule(t *testing.T) {
	p := outbox.DefaultPolicy
	tests := []struct {
		attempt int
		want    time.Duration
	}{
		{1, 5 * time.Second}, {2, 10 * time.Second}, {3, 20 * time.Second},
		{10, 2560 * time.Second}, {11, time.Hour}, {50, time.Hour},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.attempt), func(t *testing.T) {
			if got := p.Backoff(tt.attempt); got != tt.want {
				t.Errorf("Backoff(%d) = %v, want %v", tt.attempt, got, tt.want)
			}
		})
	}
}

// TestKindsHaveTheirOwnSlots: webhooks stuck on a slow receiver must not
// hold up acquirer notices, which carry step D of live payments.
func TestKindsHaveTheirOwnSlots(t *testing.T) {
	st := storetest.MustOpen(t)
	release := make(chan struct{})
	defer close(release)
	slow := func(ctx context.Context, m *store.OutboxMessage) error {
		select {
		case <-release:
		case <-ctx.Done():
		}
		return ctx.Err()
	}
	var notices atomic.Int32
	quick := func(ctx context.Context, m *store.OutboxMessage) error { notices.Add(1); return nil }
	p := fast
	p.Concurrency = 2
	p.KindConcurrency = map[string]int{store.KindAcquirerNotice: 4}
	w := start(t, st, map[string]outbox.Handler{store.KindWebhook: slow, store.KindAcquirerNotice: quick}, p)
	var ms []*store.OutboxMessage
	for i := range 6 {
		ms = append(ms, hook(fmt.Sprintf("w%d", i)))
	}
	for i := range 5 {
		ms = append(ms, &store.OutboxMessage{ID: fmt.Sprintf("n%d", i), Kind: store.KindAcquirerNotice, PaymentID: "p"})
	}
	enqueue(t, st, ms...)
	w.Kick()
	for i := range 5 {
		waitState(t, st, fmt.Sprintf("n%d", i), store.OutboxDelivered)
	}
	if n := notices.Load(); n != 5 {
		t.Fatalf("%d notices handled, want 5", n)
	}
}
