package flow

import (
	"context"
	"crypto/ed25519"
	"sync/atomic"
	"testing"

	"github.com/switchd/switchd/internal/edsig"
	"github.com/switchd/switchd/switchd/internal/outbox"
	"github.com/switchd/switchd/switchd/internal/store"
)

// CountVerifies makes the engine count its Ed25519 attestation checks in
// n, for the benchmarks of package flow_test; restore undoes it.
func CountVerifies(n *atomic.Int64) (restore func()) {
	ed25519Verify = func(pub ed25519.PublicKey, msg, sig []byte) bool {
		n.Add(1)
		return edsig.Verify(pub, msg, sig)
	}
	return func() { ed25519Verify = edsig.Verify }
}

// StartWithOutbox makes an engine over opts and cfg whose acquirer notices
// go through a real outbox worker on opts.Store (webhooks are accepted and
// dropped), runs the worker until tb ends, and returns the engine. The
// benchmarks of both test packages wire it this way.
func StartWithOutbox(tb testing.TB, opts Options, cfg *Config) *Engine {
	tb.Helper()
	var w *outbox.Worker
	opts.Kick = func() { w.Kick() }
	e, err := New(opts, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	w = outbox.New(opts.Store, map[string]outbox.Handler{
		store.KindAcquirerNotice: e.HandleAcquirerNotice,
		store.KindWebhook:        func(context.Context, *store.OutboxMessage) error { return nil },
	}, outbox.Policy{}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); w.Run(ctx) }()
	tb.Cleanup(func() { cancel(); <-done })
	return e
}
