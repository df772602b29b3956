package flow

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchd/switchd/config"
	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
	"github.com/switchd/switchd/plugins/sdk"
	"github.com/switchd/switchd/switchd/internal/api/resource"
	"github.com/switchd/switchd/switchd/internal/metrics"
	"github.com/switchd/switchd/switchd/internal/store"
)

// Plugins gives the engine the supervised plugin clients by plugin name.
// *pluginhost.Host satisfies it.
type Plugins interface {
	Authenticator(name string) (sdk.Authenticator, error)
	PaymentMethod(name string) (sdk.PaymentMethod, error)
	Enroller(name string) (sdk.Enroller, error)
}

// Config is one generation of the network configuration, as the engine
// uses it. The daemon builds a new one on every (re)load, after every
// plugin use has been configured.
type Config struct {
	// Generation increases with every successful (re)load.
	Generation int64
	// Network is the decoded network.
	Network *config.Network
	// Infos are the plugins' GetInfo answers, by plugin name.
	Infos map[string]*pb.GetInfoResponse
	// AttestationKeys are the Ed25519 keys each institution signs
	// attestations with, by institution id then key id, collected from the
	// ConfigureResponses of the institution's plugin uses.
	AttestationKeys map[string]map[string]ed25519.PublicKey
}

// Options configure an Engine.
type Options struct {
	Store   store.Store
	Plugins Plugins
	Logger  *slog.Logger
	Metrics *metrics.Metrics // optional
	// PublicURL is the base of payment page URLs: <PublicURL>/pay/<token>.
	PublicURL string
	// TokenKey (32 bytes) derives each payment's payer capability token as
	// HMAC-SHA256(TokenKey, payment id), so the token is never stored (only
	// its hash is) yet the page URL can be shown again, e.g. as a QR code.
	// The daemon keeps it in <data-dir>/token.key. Empty: a random key for
	// this Engine only (tokens cannot be re-derived after a restart).
	TokenKey []byte
	// DefaultExpiry applies when a payment names no expiry (default 15m).
	DefaultExpiry time.Duration
	// MaxExpiry caps how far in the future a payment may expire (default 24h).
	MaxExpiry time.Duration
	// PluginCallTimeout caps each plugin call (default 10s).
	PluginCallTimeout time.Duration
	// RetryDelay is the pause before the one retry of a retryable plugin
	// error (default 200ms), leaving the host time to restart the plugin.
	RetryDelay time.Duration
	// ResultWait bounds how long FinishAuth waits for the acquirer's answer
	// (default 5s).
	ResultWait time.Duration
	// SweepInterval is how often expiry and stale pending operations are
	// checked (default 1s).
	SweepInterval time.Duration
	// StaleAfter is how old an unresolved Pending operation must be before
	// the sweeper resolves it (default 2 x PluginCallTimeout).
	StaleAfter time.Duration
	// Kick wakes the outbox worker after a commit that enqueued a message.
	Kick func()
	// Resend puts an outbox message back to pending (outbox.Worker.Resend).
	Resend func(ctx context.Context, id string) error
	// RenderPayment renders a payment as the API does, for webhook bodies.
	// Default: resource.NewPayment.
	RenderPayment func(p *store.Payment) any
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Engine runs payments through steps A to E. It is safe for concurrent
// use.
type Engine struct {
	opts Options
	st   store.Store
	log  *slog.Logger

	cur  atomic.Pointer[Config]
	gmu  sync.Mutex
	gens map[int64]*Config
	// pages caches the payment page's lists per configuration
	// (*Config → *pageLists).
	pages sync.Map

	lmu   sync.Mutex
	locks map[string]*keyLock

	wmu     sync.Mutex
	waiters map[string][]chan struct{}
}

// New returns an engine serving cfg.
func New(opts Options, cfg *Config) (*Engine, error) {
	if opts.Store == nil || opts.Plugins == nil || cfg == nil || cfg.Network == nil {
		return nil, errors.New("flow: New needs a store, plugins and a config")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.DefaultExpiry <= 0 {
		opts.DefaultExpiry = 15 * time.Minute
	}
	if opts.MaxExpiry <= 0 {
		opts.MaxExpiry = 24 * time.Hour
	}
	if opts.PluginCallTimeout <= 0 {
		opts.PluginCallTimeout = 10 * time.Second
	}
	if opts.RetryDelay <= 0 {
		opts.RetryDelay = 200 * time.Millisecond
	}
	if opts.ResultWait <= 0 {
		opts.ResultWait = 5 * time.Second
	}
	if opts.SweepInterval <= 0 {
		opts.SweepInterval = time.Second
	}
	if opts.StaleAfter <= 0 {
		opts.StaleAfter = 2 * opts.PluginCallTimeout
	}
	if len(opts.TokenKey) == 0 {
		opts.TokenKey = randomBytes(32)
	}
	if opts.Kick == nil {
		opts.Kick = func() {}
	}
	if opts.RenderPayment == nil {
		opts.RenderPayment = func(p *store.Payment) any { return resource.NewPayment(p) }
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	e := &Engine{opts: opts, st: opts.Store, log: opts.Logger, gens: map[int64]*Config{}, waiters: map[string][]chan struct{}{}, locks: map[string]*keyLock{}}
	e.SetConfig(cfg)
	return e, nil
}

// SetConfig makes cfg the current configuration: new payments are created
// and routed under it. Payments already running keep resolving the
// institutions and merchant they reference by id, in the current
// configuration first and in the generation they started in otherwise
// (see the package doc).
func (e *Engine) SetConfig(cfg *Config) {
	e.gmu.Lock()
	e.gens[cfg.Generation] = cfg
	e.gmu.Unlock()
	e.cur.Store(cfg)
}

// Config returns the current configuration.
func (e *Engine) Config() *Config { return e.cur.Load() }

func (e *Engine) now() time.Time { return e.opts.Now().UTC() }

// lock serializes work on one payment inside this process.
func (e *Engine) lock(id string) func() {
	l := e.lockRef(id)
	l.mu.Lock()
	return func() { l.mu.Unlock(); e.lockUnref(id) }
}

type keyLock struct {
	mu   sync.Mutex
	refs int
}

func (e *Engine) lockRef(id string) *keyLock {
	e.lmu.Lock()
	defer e.lmu.Unlock()
	l := e.locks[id]
	if l == nil {
		l = &keyLock{}
		e.locks[id] = l
	}
	l.refs++
	return l
}

func (e *Engine) lockUnref(id string) {
	e.lmu.Lock()
	defer e.lmu.Unlock()
	if l := e.locks[id]; l != nil {
		l.refs--
		if l.refs == 0 {
			delete(e.locks, id)
		}
	}
}

// tryLock takes the payment's lock if it is free.
func (e *Engine) tryLock(id string) (unlock func(), ok bool) {
	l := e.lockRef(id)
	if !l.mu.TryLock() {
		e.lockUnref(id)
		return nil, false
	}
	return func() { l.mu.Unlock(); e.lockUnref(id) }, true
}

// ---- configuration lookups --------------------------------------------------

func (e *Engine) genFor(p *store.Payment) *Config {
	e.gmu.Lock()
	defer e.gmu.Unlock()
	return e.gens[p.ConfigGeneration]
}

func (e *Engine) institution(p *store.Payment, id string) (*config.Institution, *Config, error) {
	if c := e.cur.Load(); c != nil {
		if in, ok := c.Network.Institutions[id]; ok {
			return in, c, nil
		}
	}
	if g := e.genFor(p); g != nil {
		if in, ok := g.Network.Institutions[id]; ok {
			return in, g, nil
		}
	}
	return nil, nil, &Error{Code: CodeInternal, Msg: fmt.Sprintf("institution %q is no longer configured", id)}
}

func (e *Engine) merchant(p *store.Payment) (*config.Merchant, error) {
	if c := e.cur.Load(); c != nil {
		if m, ok := c.Network.Merchants[p.MerchantID]; ok {
			return m, nil
		}
	}
	if g := e.genFor(p); g != nil {
		if m, ok := g.Network.Merchants[p.MerchantID]; ok {
			return m, nil
		}
	}
	return nil, &Error{Code: CodeInternal, Msg: fmt.Sprintf("merchant %q is no longer configured", p.MerchantID)}
}

func (e *Engine) methodPlugin(p *store.Payment, instID string) (sdk.PaymentMethod, string, error) {
	in, _, err := e.institution(p, instID)
	if err != nil {
		return nil, "", err
	}
	m, _ := parseMethod(p.Method)
	use := in.Methods[m]
	if use == nil {
		return nil, "", &Error{Code: CodeInternal, Msg: fmt.Sprintf("institution %q no longer offers %s", instID, p.Method)}
	}
	pm, err := e.opts.Plugins.PaymentMethod(use.Plugin)
	if err != nil {
		return nil, "", &Error{Code: CodePluginUnavailable, Msg: "payment method plugin unavailable", Err: err}
	}
	return pm, use.Plugin, nil
}

func (e *Engine) authPlugin(use *config.PluginUse) (sdk.Authenticator, error) {
	if use == nil {
		return nil, &Error{Code: CodeInternal, Msg: "institution has no authenticator for this step"}
	}
	a, err := e.opts.Plugins.Authenticator(use.Plugin)
	if err != nil {
		return nil, &Error{Code: CodePluginUnavailable, Msg: "authenticator plugin unavailable", Err: err}
	}
	return a, nil
}

// ---- the one transition function --------------------------------------------

// change is one state change: the event, and what else to record with it.
type change struct {
	ev     Event
	detail string
	// mutate sets fields of the payment (Pending, references, ...).
	mutate func(p *store.Payment)
	// expect, when set, is the state the payment must be in.
	expect string
	// at is when the step happened, for its event; zero means the time of
	// the commit. A change committed together with a later one (A with B)
	// keeps its own time, so the timeline still shows how long B took.
	at time.Time
}

// transition applies the changes cs, in order, to payment id in ONE
// store.Update: for each it checks the transition table, runs mutate,
// bumps Version, appends an Event and enqueues the outbox messages the new
// state causes (acquirer notice on paid, webhook on every final state). A
// change that leaves paid also marks the acquirer notice delivered, in
// the same transaction: the notice was carried (inline by FinishAuth, or
// by the outbox worker) or the payment was settled otherwise (expiry).
// Several changes share one commit only when nothing outside the
// switch's database needs the first one durable before the next (see
// ChooseMethod). It wakes waiters, and the outbox when a message it
// enqueued is due now, after commit.
func (e *Engine) transition(ctx context.Context, id string, cs ...change) (*store.Payment, error) {
	var out *store.Payment
	var kick bool
	err := e.st.Update(ctx, func(tx store.Tx) error {
		kick = false
		p, err := tx.GetPayment(id)
		if err != nil {
			return err
		}
		now := e.now()
		for _, c := range cs {
			if err := e.apply(tx, p, c, now, &kick); err != nil {
				return err
			}
		}
		if err := tx.PutPayment(p); err != nil {
			return err
		}
		out = p
		return nil
	})
	if err != nil {
		return nil, err
	}
	if kick {
		e.opts.Kick()
	}
	if IsFinal(out.State) && e.opts.Metrics != nil {
		e.opts.Metrics.PaymentsFinal.WithLabelValues(out.State).Inc()
	}
	e.notify(id)
	return out, nil
}

// apply is one change of transition, on p within tx. It sets *kick when
// it enqueued a message that is due now.
func (e *Engine) apply(tx store.Tx, p *store.Payment, c change, now time.Time, kick *bool) error {
	if c.expect != "" && p.State != c.expect {
		return fmt.Errorf("%w: payment is %s, expected %s", errIllegalTransition, p.State, c.expect)
	}
	from := p.State
	to, ok := Next(from, c.ev)
	if !ok {
		return fmt.Errorf("%w: %s --%s-->", errIllegalTransition, from, c.ev)
	}
	if c.mutate != nil {
		c.mutate(p)
	}
	p.State = to
	p.Version++
	p.UpdatedAt = now
	if IsFinal(to) {
		p.Pending = ""
	}
	detail := c.detail
	if detail == "" && IsFinal(to) {
		detail = p.DeclineCode
	}
	// A state change is named after the state reached (as webhooks
	// are); a step within a state after the event.
	typ := "payment." + to
	if to == from {
		typ = "payment." + string(c.ev)
	}
	at := now
	if !c.at.IsZero() {
		at = c.at
	}
	if err := tx.AppendEvent(&store.Event{PaymentID: p.ID, At: at, Type: typ, From: from, To: to, Detail: detail}); err != nil {
		return err
	}
	if to == from {
		return nil
	}
	for _, m := range e.outboxFor(p, to, now) {
		if err := tx.Enqueue(m); err != nil {
			return err
		}
		*kick = *kick || !m.NextAttempt.After(now)
	}
	if from == StatePaid {
		return settleNotice(tx, p.ID, now)
	}
	return nil
}

// Webhook is the body of a webhook POST.
type Webhook struct {
	Type      string `json:"type"`
	Timestamp string `json:"timestamp"`
	Data      any    `json:"data"`
}

// NoticeGrace is how long the acquirer notice queued with paid waits
// before the outbox worker may carry it. The request that made the
// payment paid carries it itself at once (step E inline in FinishAuth);
// the queued notice is the durable recovery path for when that request
// did not finish (crash, acquirer outage), so the worker must not race it.
const NoticeGrace = 30 * time.Second

func noticeID(paymentID string) string { return "an_" + paymentID }

func (e *Engine) outboxFor(p *store.Payment, to string, now time.Time) []*store.OutboxMessage {
	switch {
	case to == StatePaid:
		return []*store.OutboxMessage{{
			ID: noticeID(p.ID), Kind: store.KindAcquirerNotice, PaymentID: p.ID, MerchantID: p.MerchantID,
			EventType: "payment.paid", CreatedAt: now, State: store.OutboxPending, NextAttempt: now.Add(NoticeGrace),
		}}
	case IsFinal(to):
		typ := webhookType(to)
		body, err := json.Marshal(Webhook{Type: typ, Timestamp: now.Format(time.RFC3339), Data: e.opts.RenderPayment(p)})
		if err != nil {
			body = []byte(`{}`)
		}
		return []*store.OutboxMessage{{
			ID: "wh_" + p.ID + "_" + to, Kind: store.KindWebhook, PaymentID: p.ID, MerchantID: p.MerchantID,
			EventType: typ, Body: body, CreatedAt: now, State: store.OutboxPending, NextAttempt: now,
		}}
	}
	return nil
}

// settleNotice marks payment id's acquirer notice delivered, if it is
// still pending: the payment has left paid, so there is nothing left to
// carry. It is part of the transaction that records the state reached.
func settleNotice(tx store.Tx, id string, now time.Time) error {
	m, err := tx.GetOutbox(noticeID(id))
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if m.State != store.OutboxPending {
		return nil
	}
	m.State = store.OutboxDelivered
	m.DeliveredAt = now
	m.Attempts++
	m.LastError = ""
	return tx.PutOutbox(m)
}

// noticeDueNow makes payment id's pending acquirer notice due at once and
// wakes the outbox worker: the notice was not carried inline (the acquirer
// call failed, or the process restarted), so the worker takes over without
// waiting for NoticeGrace.
func (e *Engine) noticeDueNow(ctx context.Context, id string) error {
	var moved bool
	err := e.st.Update(ctx, func(tx store.Tx) error {
		moved = false
		m, err := tx.GetOutbox(noticeID(id))
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		now := e.now()
		if m.State != store.OutboxPending || !m.NextAttempt.After(now) {
			return nil
		}
		m.NextAttempt = now
		moved = true
		return tx.PutOutbox(m)
	})
	if moved {
		e.opts.Kick()
	}
	return err
}

// ---- waiting for a payment to change -------------------------------------------

func (e *Engine) notify(id string) {
	e.wmu.Lock()
	ws := e.waiters[id]
	delete(e.waiters, id)
	e.wmu.Unlock()
	for _, w := range ws {
		close(w)
	}
}

// waitWhile waits until payment id leaves state (or d passes, or ctx ends)
// and returns the payment as it is then.
func (e *Engine) waitWhile(ctx context.Context, id, state string, d time.Duration) (*store.Payment, error) {
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		ch := make(chan struct{})
		e.wmu.Lock()
		e.waiters[id] = append(e.waiters[id], ch)
		e.wmu.Unlock()
		p, err := e.get(ctx, id)
		if err != nil || p.State != state {
			return p, err
		}
		select {
		case <-ch:
		case <-timer.C:
			return p, nil
		case <-ctx.Done():
			return p, nil
		}
	}
}

func (e *Engine) get(ctx context.Context, id string) (*store.Payment, error) {
	var p *store.Payment
	err := e.st.View(ctx, func(tx store.Tx) error {
		var err error
		p, err = tx.GetPayment(id)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, internal(err)
	}
	return p, nil
}

// ---- plugin calls -------------------------------------------------------------

// call runs one plugin call with a deadline of min(ctx deadline, payment
// deadline (when bounded), plugin call timeout) and retries it once when
// the error is retryable (sdk.IsRetryable: outage or plugin restart).
func call[T any](e *Engine, ctx context.Context, plugin, rpc string, deadline time.Time, fn func(context.Context) (T, error)) (T, error) {
	var res T
	var err error
	for attempt := 0; attempt < 2; attempt++ {
		if attempt > 0 {
			select {
			case <-time.After(e.opts.RetryDelay):
			case <-ctx.Done():
				return res, err
			}
		}
		// The payment deadline is on the engine's clock; the context
		// deadline is on the real one.
		d := e.opts.PluginCallTimeout
		if !deadline.IsZero() {
			if left := deadline.Sub(e.opts.Now()); left < d {
				d = left
			}
		}
		cctx, cancel := context.WithTimeout(ctx, d)
		start := time.Now()
		failpointHit("flow.call.before", rpc)
		res, err = fn(cctx)
		failpointHit("flow.call.after", rpc)
		cancel()
		if m := e.opts.Metrics; m != nil {
			m.PluginCallSeconds.WithLabelValues(plugin, rpc).Observe(time.Since(start).Seconds())
			if err != nil {
				m.PluginCallErrors.WithLabelValues(plugin, rpc, sdk.CodeOf(err).String()).Inc()
			}
		}
		if err == nil || !sdk.IsRetryable(err) {
			break
		}
		e.log.Warn("plugin call failed, retrying once", "plugin", plugin, "rpc", rpc, "err", err)
	}
	if err != nil {
		return res, pluginErr(plugin, rpc, err)
	}
	return res, nil
}

func pluginErr(plugin, rpc string, err error) *Error {
	code := CodePluginUnavailable
	switch sdk.CodeOf(err) {
	case sdk.CodeInvalidArgument:
		code = CodeInvalidRequest
	case sdk.CodeFailedPrecondition, sdk.CodeUnimplemented:
		// The institution cannot do this now or at all (a payer who
		// already has a passkey, a bank that does not enrol): the
		// payer's request does not fit the state, it is not our fault.
		code = CodeInvalidState
	case sdk.CodeInternal, sdk.CodeNotFound:
		code = CodeInternal
	}
	return &Error{Code: code, Msg: fmt.Sprintf("%s.%s failed", plugin, rpc), Err: err}
}

func (e *Engine) observeStep(step string, start time.Time) {
	if m := e.opts.Metrics; m != nil {
		m.StepSeconds.WithLabelValues(step).Observe(time.Since(start).Seconds())
	}
}
