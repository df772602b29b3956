// Package outbox delivers the messages the flow writes to the store's
// outbox (webhooks to sellers, notices to acquirers) after the transaction
// that caused them has committed.
//
// Delivery is at least once: a message is marked delivered only after its
// handler returned nil, and every attempt's outcome (attempts, next
// attempt, last error, delivered or gave up) is recorded durably, so a
// restarted worker carries on where the last one stopped. Receivers
// deduplicate on the message ID (the webhook-id header for webhooks).
package outbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchd/switchd/switchd/internal/store"
)

// Handler delivers one message. It returns nil when the message was
// delivered, an error wrapped with Permanent to give up at once, and any
// other error to retry later according to the Policy. It must honour ctx.
type Handler func(ctx context.Context, m *store.OutboxMessage) error

// Policy is the retry schedule and the worker's limits.
//
// After the n-th failed attempt (n = 1, 2, ...) the next attempt is due
// after a delay drawn uniformly from [d/2, d], where
// d = min(MaxBackoff, InitialBackoff * 2^(n-1)). After MaxAttempts
// attempts the message is given up. With DefaultPolicy (12 attempts, 5s,
// 1h) the delays are about 5s, 10s, 20s, 40s, 80s, 160s, 320s, 640s,
// 1280s, 2560s and 3600s: the last attempt comes roughly 1.1 to 2.3 hours
// after the first.
type Policy struct {
	MaxAttempts    int
	InitialBackoff time.Duration
	MaxBackoff     time.Duration
	// Concurrency bounds how many messages of one kind are delivered at
	// once; 0 means 8.
	Concurrency int
	// KindConcurrency overrides Concurrency for a kind. The daemon gives
	// acquirer notices their own, larger share, so that step D's credit
	// never queues behind slow merchant webhooks.
	KindConcurrency map[string]int
	// AttemptTimeout bounds one delivery attempt; 0 means 30s.
	AttemptTimeout time.Duration
	// PollInterval is how often the worker looks for due messages when
	// nothing wakes it (a Kick, a scheduled retry); 0 means one minute.
	PollInterval time.Duration
}

// DefaultPolicy is the schedule used when New is given a zero Policy.
var DefaultPolicy = Policy{MaxAttempts: 12, InitialBackoff: 5 * time.Second, MaxBackoff: time.Hour}

// withDefaults fills in zero fields.
func (p Policy) withDefaults() Policy {
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = DefaultPolicy.MaxAttempts
	}
	if p.InitialBackoff <= 0 {
		p.InitialBackoff = DefaultPolicy.InitialBackoff
	}
	if p.MaxBackoff <= 0 {
		p.MaxBackoff = DefaultPolicy.MaxBackoff
	}
	if p.MaxBackoff < p.InitialBackoff {
		p.MaxBackoff = p.InitialBackoff
	}
	if p.Concurrency <= 0 {
		p.Concurrency = 8
	}
	if p.AttemptTimeout <= 0 {
		p.AttemptTimeout = 30 * time.Second
	}
	if p.PollInterval <= 0 {
		p.PollInterval = time.Minute
	}
	return p
}

// Backoff returns d, the upper bound of the delay after the attempt-th
// failed attempt (the worker waits a random time in [d/2, d]).
func (p Policy) Backoff(attempt int) time.Duration {
	p = p.withDefaults()
	d := p.InitialBackoff
	for i := 1; i < attempt && d < p.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, p.MaxBackoff)
}

// Worker delivers due outbox messages. Create it with New and start it
// with Run.
type Worker struct {
	st       store.Store
	handlers map[string]Handler
	p        Policy
	log      *slog.Logger
	kick     chan struct{}

	// Deliveries, when set before Run, counts attempts by kind and result
	// ("delivered", "retry", "gave_up"); see metrics.Metrics.WebhookDeliveries.
	Deliveries *prometheus.CounterVec

	mu       sync.Mutex
	inflight map[string]string // message id -> kind
	perKind  map[string]int    // deliveries in flight by kind
}

// New returns a worker delivering the messages of st with handlers by
// message Kind (store.KindWebhook, store.KindAcquirerNotice). A message
// whose kind has no handler is given up with ErrNoHandler. A zero Policy
// means DefaultPolicy; a nil logger discards.
func New(st store.Store, handlers map[string]Handler, p Policy, logger *slog.Logger) *Worker {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Worker{
		st:       st,
		handlers: handlers,
		p:        p.withDefaults(),
		log:      logger,
		kick:     make(chan struct{}, 1),
		inflight: map[string]string{},
		perKind:  map[string]int{},
	}
}

// Kick wakes the worker to look for due messages now. The flow calls it
// after committing a transaction that enqueued something. It never blocks.
func (w *Worker) Kick() {
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// farFuture is later than any NextAttempt.
var farFuture = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)

// Run delivers messages until ctx is done. It starts with everything
// already due (recovery after a restart) and then wakes on Kick, when a
// scheduled retry falls due, and every PollInterval. When ctx is done it
// waits for the deliveries in progress; attempts cut short by the shutdown
// are not counted, so those messages are retried by the next worker. It
// returns nil then, or an error if the store is closed under it.
func (w *Worker) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	finished := make(chan struct{}, 1)
	for {
		next, err := w.dispatch(ctx, &wg, finished)
		if err != nil {
			if errors.Is(err, store.ErrClosed) {
				return fmt.Errorf("outbox: %w", err)
			}
			if ctx.Err() != nil {
				return nil
			}
			w.log.Error("outbox: reading due messages", "err", err)
			next = time.Now().Add(w.p.PollInterval)
		}
		timer := time.NewTimer(time.Until(next))
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil
		case <-w.kick:
		case <-finished:
		case <-timer.C:
		}
		timer.Stop()
	}
}

// dispatch starts deliveries of due messages not already in flight, as far
// as Concurrency allows, and returns when the worker should look again.
func (w *Worker) dispatch(ctx context.Context, wg *sync.WaitGroup, finished chan<- struct{}) (time.Time, error) {
	now := time.Now()
	w.mu.Lock()
	busy := len(w.inflight)
	w.mu.Unlock()
	poll := now.Add(w.p.PollInterval)
	capacity := w.capacity()
	if busy >= capacity {
		return poll, nil // a finishing delivery wakes Run
	}
	var due []store.OutboxRef
	err := w.st.View(ctx, func(tx store.Tx) (err error) {
		// Messages in flight are still pending, so ask for enough to
		// fill every free slot after skipping them.
		// The window is wider than the free slots so that one kind whose
		// slots are full does not hide due messages of another. Only the
		// due index is read: a message is decoded when it is started.
		due, err = tx.DueOutboxRefs(farFuture, 4*capacity+busy+1)
		return err
	})
	if err != nil {
		return time.Time{}, err
	}
	next := poll
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, r := range due {
		if _, ok := w.inflight[r.ID]; ok {
			continue
		}
		if r.NextAttempt.After(now) {
			// The earliest message not started says when to look again.
			if r.NextAttempt.Before(next) {
				next = r.NextAttempt
			}
			break
		}
		if w.perKind[r.Kind] >= w.limit(r.Kind) {
			continue // this kind's slots are full; a finishing delivery wakes Run
		}
		w.inflight[r.ID] = r.Kind
		w.perKind[r.Kind]++
		wg.Add(1)
		go func() {
			defer wg.Done()
			if m := w.current(ctx, r.ID); m != nil {
				w.deliver(ctx, m)
			}
			w.mu.Lock()
			delete(w.inflight, r.ID)
			w.perKind[r.Kind]--
			w.mu.Unlock()
			select {
			case finished <- struct{}{}:
			default:
			}
		}()
	}
	return next, nil
}

// limit is how many messages of kind may be delivered at once.
func (w *Worker) limit(kind string) int {
	if n := w.p.KindConcurrency[kind]; n > 0 {
		return n
	}
	return w.p.Concurrency
}

// capacity is how many deliveries may run at once over all kinds that have
// a handler.
func (w *Worker) capacity() int {
	n := 0
	for kind := range w.handlers {
		n += w.limit(kind)
	}
	return max(n, w.p.Concurrency)
}

// current reads message id and returns it if it is still pending and
// due, or nil. dispatch reads the due index before it takes its lock, so a
// delivery of the message that finished in between is already recorded
// (delivered, given up, or rescheduled) and must not be repeated; now
// that the message is marked in flight no other delivery of it can be
// running, so this read sees the last one's outcome.
func (w *Worker) current(ctx context.Context, id string) *store.OutboxMessage {
	var m *store.OutboxMessage
	err := w.st.View(ctx, func(tx store.Tx) (err error) {
		m, err = tx.GetOutbox(id)
		return err
	})
	if err != nil || m.State != store.OutboxPending || m.NextAttempt.After(time.Now()) {
		return nil
	}
	return m
}

// deliver makes one attempt and records its outcome.
func (w *Worker) deliver(ctx context.Context, m *store.OutboxMessage) {
	failpointHit("outbox.deliver", "before")
	derr := w.call(ctx, m)
	failpointHit("outbox.deliver", "after")
	if derr != nil && ctx.Err() != nil {
		return // shutting down: the attempt does not count
	}
	now := time.Now()
	// Drawn outside the Update fn, which may run more than once.
	jitter := rand.Float64()
	var rec store.OutboxMessage
	werr := w.st.Update(context.WithoutCancel(ctx), func(tx store.Tx) error {
		cur, err := tx.GetOutbox(m.ID)
		if err != nil {
			return err
		}
		if cur.State != store.OutboxPending {
			rec = *cur
			return nil // resolved elsewhere meanwhile; keep that
		}
		cur.Attempts++
		switch {
		case derr == nil:
			cur.State = store.OutboxDelivered
			cur.DeliveredAt = now
			cur.LastError = ""
		case IsPermanent(derr) || cur.Attempts >= w.p.MaxAttempts:
			cur.State = store.OutboxGaveUp
			cur.LastError = truncate(derr.Error())
		default:
			d := w.p.Backoff(cur.Attempts)
			cur.NextAttempt = now.Add(d/2 + time.Duration(jitter*float64(d/2)))
			cur.LastError = truncate(derr.Error())
		}
		rec = *cur
		return tx.PutOutbox(cur)
	})
	if werr != nil {
		w.log.Error("outbox: recording delivery attempt", "id", m.ID, "kind", m.Kind, "err", werr)
		return
	}
	result := "retry"
	switch rec.State {
	case store.OutboxDelivered:
		result = "delivered"
		w.log.Info("outbox: delivered", "id", rec.ID, "kind", rec.Kind, "payment_id", rec.PaymentID, "attempts", rec.Attempts)
	case store.OutboxGaveUp:
		result = "gave_up"
		w.log.Error("outbox: gave up", "id", rec.ID, "kind", rec.Kind, "payment_id", rec.PaymentID, "attempts", rec.Attempts, "err", rec.LastError)
	default:
		w.log.Warn("outbox: will retry", "id", rec.ID, "kind", rec.Kind, "payment_id", rec.PaymentID, "attempts", rec.Attempts, "next_attempt", rec.NextAttempt, "err", rec.LastError)
	}
	if w.Deliveries != nil {
		w.Deliveries.WithLabelValues(rec.Kind, result).Inc()
	}
}

// call runs the message's handler with the attempt timeout, turning a
// missing handler or a panic into an error.
func (w *Worker) call(ctx context.Context, m *store.OutboxMessage) (err error) {
	h := w.handlers[m.Kind]
	if h == nil {
		return Permanent(fmt.Errorf("%w: %q", ErrNoHandler, m.Kind))
	}
	actx, cancel := context.WithTimeout(ctx, w.p.AttemptTimeout)
	defer cancel()
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("outbox: handler for %q panicked: %v", m.Kind, v)
		}
	}()
	return h(actx, m)
}

// Resend puts a delivered or given-up message back to pending, due now,
// with its attempt count reset (the admin "resend webhook" action), and
// wakes the worker. A message still pending is just made due now. The
// message keeps its ID, so the receiver can tell it is the same one.
func (w *Worker) Resend(ctx context.Context, id string) error {
	now := time.Now()
	err := w.st.Update(ctx, func(tx store.Tx) error {
		m, err := tx.GetOutbox(id)
		if err != nil {
			return err
		}
		if m.State != store.OutboxPending {
			m.State = store.OutboxPending
			m.Attempts = 0
			m.LastError = ""
			m.DeliveredAt = time.Time{}
		}
		m.NextAttempt = now
		return tx.PutOutbox(m)
	})
	if err != nil {
		return fmt.Errorf("outbox: resend %s: %w", id, err)
	}
	w.Kick()
	return nil
}

func truncate(s string) string {
	const max = 512
	if len(s) <= max {
		return s
	}
	return s[:max] + "…"
}
