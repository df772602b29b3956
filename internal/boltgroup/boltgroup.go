// Package boltgroup group-commits writes to a bbolt file: one committer
// goroutine runs the fns of all waiting Updates in a single read-write
// transaction and fsyncs it once.
//
// The committer starts a transaction as soon as an Update arrives (unless
// Options.MaxBatchDelay asks it to wait); the Updates that arrive while that
// transaction is being fsynced form the next batch. So an idle file adds no
// latency to a write, unlike bolt.DB.Batch with its timer, and a busy one
// shares each fsync among many writers instead of queueing them one fsync
// each behind bbolt's writer lock. An Update that finds the file idle (no
// commit under way, none queued, no MaxBatchDelay) commits in its own
// goroutine, sparing the two goroutine hand-offs to and from the
// committer; it follows the same rules as a batch of one.
//
// If one fn returns an error (or panics) the transaction is rolled back,
// that caller alone gets its error (or the panic), and the others' fns are
// run again in a fresh transaction. So a fn may be called more than once
// and in the same transaction as other callers' fns: it must have no effect
// outside the transaction, and must set anything it hands back to its caller
// afresh on every run. A fn must not call Update on the same Committer (the
// committer would wait for itself).
//
// Stats counts the transactions committed and the Updates in them, so
// that Updates per commit (the mean batch) can be watched in production.
//
// The daemon's store (switchd/internal/store) and the built-in plugins'
// state files and ledgers all write through it.
package boltgroup

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
)

// DefaultMaxBatchSize is the batch cap when Options.MaxBatchSize is 0.
const DefaultMaxBatchSize = 256

// Options tune a Committer. The zero value is the recommended setting.
type Options struct {
	// MaxBatchDelay is how long the committer waits for more Updates to
	// join a batch before it starts one. Zero (the default) starts at once:
	// batches still form from the Updates that arrive while the previous
	// commit is being fsynced.
	MaxBatchDelay time.Duration
	// MaxBatchSize caps how many Updates share one transaction; 0 means
	// DefaultMaxBatchSize.
	MaxBatchSize int
	// BeforeCommit, if set, is called before each read-write transaction
	// the Committer begins, and AfterCommit after it ends (committed, or
	// rolled back because a fn failed), by whichever goroutine runs it:
	// the committer's, or that of an Update committing alone. The store hangs its
	// crash-test failpoints on them.
	BeforeCommit func()
	AfterCommit  func()
}

// Committer group-commits Updates to one bbolt file. Its fns see the
// transaction as T: *bolt.Tx for New, or whatever the wrap function of
// NewWrapped makes of it (once per transaction). It is safe for concurrent
// use.
type Committer[T any] struct {
	db            *bolt.DB
	wrap          func(*bolt.Tx) T
	maxBatch      int
	delay         time.Duration
	before, after func()

	mu     sync.RWMutex // guards closed and sends on calls
	closed bool
	calls  chan *call[T]
	done   chan struct{} // closed when the committer has exited
	// token is held (one value in it) by whoever runs a commit: the
	// committer goroutine for a batch, or an Update committing alone.
	token chan struct{}
	// queued counts the Updates sent to the committer goroutine whose
	// batch has not been gathered yet.
	queued atomic.Int64
	// commits and updates are the totals Stats reports.
	commits, updates atomic.Uint64
}

// Stats are a Committer's totals since it was made.
type Stats struct {
	// Commits counts the read-write transactions that committed: one
	// per batch, or per Update committing alone. A batch retried because
	// one of its fns failed counts once, for the transaction that finally
	// committed; its rolled-back attempts, and a transaction whose commit
	// failed, count nothing.
	Commits uint64
	// Updates counts the Updates whose fn was committed, so Updates /
	// Commits is the mean batch size. An Update whose fn failed (or
	// panicked), whose context ended before its fn ran, or whose commit
	// failed is not counted.
	Updates uint64
}

// Stats returns the Committer's totals. It is safe to call at any time,
// also after Close; the two counters are read one after the other, not as
// one snapshot.
func (c *Committer[T]) Stats() Stats {
	return Stats{Commits: c.commits.Load(), Updates: c.updates.Load()}
}

type call[T any] struct {
	fn   func(T) error
	ctx  context.Context
	errc chan error
}

// panicError carries a panic out of the committer to the caller's goroutine.
type panicError struct{ v any }

func (p panicError) Error() string { return fmt.Sprintf("boltgroup: update panicked: %v", p.v) }

// New starts a committer for db whose fns see the *bolt.Tx itself.
func New(db *bolt.DB, opts Options) *Committer[*bolt.Tx] {
	return NewWrapped(db, opts, func(tx *bolt.Tx) *bolt.Tx { return tx })
}

// NewWrapped starts a committer for db whose fns see wrap(tx): wrap is
// called once per transaction and its result shared by the batch's fns.
func NewWrapped[T any](db *bolt.DB, opts Options, wrap func(*bolt.Tx) T) *Committer[T] {
	maxBatch := opts.MaxBatchSize
	if maxBatch <= 0 {
		maxBatch = DefaultMaxBatchSize
	}
	c := &Committer[T]{
		db:       db,
		wrap:     wrap,
		maxBatch: maxBatch,
		delay:    opts.MaxBatchDelay,
		before:   opts.BeforeCommit,
		after:    opts.AfterCommit,
		calls:    make(chan *call[T], maxBatch),
		done:     make(chan struct{}),
		token:    make(chan struct{}, 1),
	}
	go c.commitLoop()
	return c
}

// DB returns the bbolt file the Committer writes to, for reads (View).
func (c *Committer[T]) DB() *bolt.DB { return c.db }

// Update runs fn in a read-write transaction and returns once the
// transaction is committed (and fsynced, unless the DB has NoSync). It
// returns fn's error unchanged; a commit failure as "boltgroup: commit: …";
// and re-panics with fn's panic value. If ctx is done before fn starts,
// Update returns ctx.Err() and fn does not run; once fn has started, Update
// waits for the commit so that its answer is never ambiguous. After Close
// it returns ErrClosed.
func (c *Committer[T]) Update(ctx context.Context, fn func(T) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	cl := &call[T]{fn: fn, ctx: ctx, errc: make(chan error, 1)}
	if err := c.submit(cl); err != nil {
		return err
	}
	err := <-cl.errc
	if p, ok := err.(panicError); ok {
		panic(p.v)
	}
	return err
}

// submit commits cl at once (commitAlone) or queues it for the committer.
func (c *Committer[T]) submit(cl *call[T]) error {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.closed {
		return ErrClosed
	}
	if !c.commitAlone(cl) {
		// Counted once sent, so that a count of n means n calls the
		// committer can gather. (The committer may subtract a call
		// before it is counted; the count is then briefly low, which
		// only lets another Update commit alone meanwhile.)
		c.calls <- cl
		c.queued.Add(1)
	}
	return nil
}

// commitAlone commits cl in the caller's goroutine if no commit is under
// way and no Update is queued (and MaxBatchDelay is not set), and reports
// whether it did. The caller holds c.mu's read lock, so Close waits for it.
func (c *Committer[T]) commitAlone(cl *call[T]) bool {
	if c.delay > 0 {
		return false
	}
	select {
	case c.token <- struct{}{}:
	default:
		return false // a commit is under way: join the next batch
	}
	defer func() { <-c.token }()
	if c.queued.Load() > 0 {
		return false // others are waiting: batch with them
	}
	c.commit([]*call[T]{cl})
	return true
}

// Close waits for the queued Updates to commit and stops the committer.
// It does not close the DB. Calling Close twice is harmless.
func (c *Committer[T]) Close() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		<-c.done
		return
	}
	c.closed = true
	close(c.calls)
	c.mu.Unlock()
	<-c.done
}

// commitLoop is the single committer: it takes the waiting calls as one
// batch and commits them together.
func (c *Committer[T]) commitLoop() {
	defer close(c.done)
	for cl := range c.calls {
		c.token <- struct{}{} // wait for an Update committing alone
		batch := c.gather([]*call[T]{cl})
		c.queued.Add(-int64(len(batch)))
		c.commit(batch)
		<-c.token
	}
}

// gather adds the calls already waiting (and, with MaxBatchDelay, those
// arriving within it) to batch.
func (c *Committer[T]) gather(batch []*call[T]) []*call[T] {
	var timeout <-chan time.Time
	if c.delay > 0 {
		t := time.NewTimer(c.delay)
		defer t.Stop()
		timeout = t.C
	}
	for len(batch) < c.maxBatch {
		if timeout == nil {
			select {
			case cl, ok := <-c.calls:
				if !ok {
					return batch
				}
				batch = append(batch, cl)
			default:
				return batch
			}
			continue
		}
		select {
		case cl, ok := <-c.calls:
			if !ok {
				return batch
			}
			batch = append(batch, cl)
		case <-timeout:
			timeout = nil
		}
	}
	return batch
}

// commit runs the batch's fns in one transaction. A failing fn is answered
// with its error and removed, and the rest are retried in a new
// transaction. Callers whose context ended before their fn ran are
// answered with the context's error.
func (c *Committer[T]) commit(batch []*call[T]) {
	live := batch[:0]
	for _, cl := range batch {
		if err := cl.ctx.Err(); err != nil {
			cl.errc <- err
			continue
		}
		live = append(live, cl)
	}
	batch = live
	for len(batch) > 0 {
		failed := -1
		var failErr error
		if c.before != nil {
			c.before()
		}
		err := c.db.Update(func(tx *bolt.Tx) error {
			wtx := c.wrap(tx)
			for i, cl := range batch {
				if err := safeCall(cl.fn, wtx); err != nil {
					failed, failErr = i, err
					return err
				}
			}
			return nil
		})
		if c.after != nil {
			c.after()
		}
		if failed >= 0 {
			batch[failed].errc <- failErr
			batch = append(batch[:failed], batch[failed+1:]...)
			continue
		}
		if err != nil {
			err = fmt.Errorf("boltgroup: commit: %w", err)
		} else {
			// Counted before the callers are answered, so that an
			// Update that returned is in Stats.
			c.commits.Add(1)
			c.updates.Add(uint64(len(batch)))
		}
		for _, cl := range batch {
			cl.errc <- err
		}
		return
	}
}

func safeCall[T any](fn func(T) error, tx T) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = panicError{v}
		}
	}()
	return fn(tx)
}
