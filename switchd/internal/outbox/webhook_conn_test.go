package outbox_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/switchd/switchd/switchd/internal/outbox"
	"github.com/switchd/switchd/switchd/internal/webhook"
)

// The default client keeps its connections to a shop open across
// concurrent deliveries: 8 deliveries at a time, 10 rounds, must not open
// a new connection per delivery (net/http's default transport keeps only
// 2 idle connections per host and would open ~60 here).
func TestWebhookHandlerReusesConnections(t *testing.T) {
	secret, err := webhook.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	h := outbox.WebhookHandler(func(string) (string, string, bool) { return srv.URL, secret, true }, nil)
	const parallel, rounds = 8, 10
	for round := range rounds {
		var wg sync.WaitGroup
		errs := make(chan error, parallel)
		for i := range parallel {
			wg.Go(func() {
				errs <- h(context.Background(), hook(fmt.Sprintf("r%d_%d", round, i)))
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	if n := conns.Load(); n > 2*parallel {
		t.Errorf("%d deliveries opened %d connections, want at most %d", parallel*rounds, n, 2*parallel)
	}
}
