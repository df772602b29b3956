package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// Options tune a BoltStore.
type Options struct {
	// NoSync skips fsync on commit. Only for tests and benchmarks: a crash
	// can then lose acknowledged writes.
	NoSync bool
	// MaxBatchDelay is how long the committer waits for more Updates to
	// join a batch before it starts one. Zero (the default) starts at once:
	// batches still form from the Updates that arrive while the previous
	// commit is being fsynced, so an idle store adds no latency and a busy
	// one shares one fsync among many Updates.
	MaxBatchDelay time.Duration
	// MaxBatchSize caps how many Updates share one transaction; 0 means 256.
	MaxBatchSize int
	// LockTimeout is how long Open waits for the file lock held by another
	// process; 0 means one second.
	LockTimeout time.Duration
}

// BoltStore is the bbolt implementation of Store. It is safe for
// concurrent use.
//
// Updates are group-committed: one committer goroutine runs the fns of all
// waiting Updates in a single read-write transaction and fsyncs it once.
// If one fn returns an error (or panics) the transaction is rolled back,
// that caller alone gets its error, and the others' fns are run again in a
// fresh transaction. So a fn may be called more than once and must have no
// effect outside the Tx; an error from a fn never aborts another caller's
// work. A fn must not call Update or View on the same store (the
// committer would wait for itself).
type BoltStore struct {
	db       *bolt.DB
	path     string
	maxBatch int
	delay    time.Duration

	mu     sync.RWMutex // guards closed and sends on calls
	closed bool
	calls  chan *call
	done   chan struct{} // closed when the committer has exited
}

var _ Store = (*BoltStore)(nil)

type call struct {
	fn   func(Tx) error
	ctx  context.Context
	errc chan error
}

// panicError carries a panic out of the committer to the caller's goroutine.
type panicError struct{ v any }

func (p panicError) Error() string { return fmt.Sprintf("store: update panicked: %v", p.v) }

// Open opens (creating if needed) the bbolt database at path and starts
// its committer.
func Open(path string, opts Options) (*BoltStore, error) {
	lock := opts.LockTimeout
	if lock <= 0 {
		lock = time.Second
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout:      lock,
		NoSync:       opts.NoSync,
		FreelistType: bolt.FreelistMapType,
	})
	if err != nil {
		if errors.Is(err, bolterrors.ErrTimeout) {
			return nil, fmt.Errorf("store: open %s: file is locked by another process: %w", path, err)
		}
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return fmt.Errorf("bucket %s: %w", b, err)
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	maxBatch := opts.MaxBatchSize
	if maxBatch <= 0 {
		maxBatch = 256
	}
	s := &BoltStore{
		db:       db,
		path:     path,
		maxBatch: maxBatch,
		delay:    opts.MaxBatchDelay,
		calls:    make(chan *call, maxBatch),
		done:     make(chan struct{}),
	}
	go s.commitLoop()
	return s, nil
}

// Path returns the database file's path.
func (s *BoltStore) Path() string { return s.path }

// Update runs fn in a read-write transaction and returns once the
// transaction is committed and fsynced (see BoltStore for group commit).
// If ctx is done before fn starts, Update returns ctx.Err() and fn does not
// run; once fn has started, Update waits for the commit so that its answer
// is never ambiguous.
func (s *BoltStore) Update(ctx context.Context, fn func(Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c := &call{fn: fn, ctx: ctx, errc: make(chan error, 1)}
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return ErrClosed
	}
	s.calls <- c
	s.mu.RUnlock()
	err := <-c.errc
	if p, ok := err.(panicError); ok {
		panic(p.v)
	}
	return err
}

// View runs fn in a read-only transaction.
func (s *BoltStore) View(ctx context.Context, fn func(Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return ErrClosed
	}
	return s.db.View(func(tx *bolt.Tx) error { return fn(&boltTx{tx: tx}) })
}

// Close waits for queued Updates to commit, then closes the database.
// Further calls return ErrClosed; calling Close twice is harmless.
func (s *BoltStore) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.calls)
	s.mu.Unlock()
	<-s.done
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("store: close: %w", err)
	}
	return nil
}

// Check runs bbolt's consistency check over the whole file and returns
// every problem found, wrapped in ErrCorrupt. A page so damaged that bbolt
// panics on it is reported as ErrCorrupt too.
func (s *BoltStore) Check() (err error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return ErrClosed
	}
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("%w: %v", ErrCorrupt, v)
		}
	}()
	var errs []error
	err = s.db.View(func(tx *bolt.Tx) error {
		for e := range tx.Check() {
			errs = append(errs, e)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: check: %w", err)
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", ErrCorrupt, errors.Join(errs...))
	}
	return nil
}

// Snapshot writes a consistent copy of the database to w (an online
// backup: writers are not blocked). The copy is a valid bbolt file that
// Open accepts.
func (s *BoltStore) Snapshot(w io.Writer) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return ErrClosed
	}
	err := s.db.View(func(tx *bolt.Tx) error {
		_, err := tx.WriteTo(w)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: snapshot: %w", err)
	}
	return nil
}

// commitLoop is the single committer: it takes the waiting calls as one
// batch and commits them together.
func (s *BoltStore) commitLoop() {
	defer close(s.done)
	for c := range s.calls {
		batch := []*call{c}
		batch = s.gather(batch)
		s.commit(batch)
	}
}

// gather adds the calls already waiting (and, with MaxBatchDelay, those
// arriving within it) to batch.
func (s *BoltStore) gather(batch []*call) []*call {
	var timeout <-chan time.Time
	if s.delay > 0 {
		t := time.NewTimer(s.delay)
		defer t.Stop()
		timeout = t.C
	}
	for len(batch) < s.maxBatch {
		if timeout == nil {
			select {
			case c, ok := <-s.calls:
				if !ok {
					return batch
				}
				batch = append(batch, c)
			default:
				return batch
			}
			continue
		}
		select {
		case c, ok := <-s.calls:
			if !ok {
				return batch
			}
			batch = append(batch, c)
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
func (s *BoltStore) commit(batch []*call) {
	live := batch[:0]
	for _, c := range batch {
		if err := c.ctx.Err(); err != nil {
			c.errc <- err
			continue
		}
		live = append(live, c)
	}
	batch = live
	for len(batch) > 0 {
		failed := -1
		var failErr error
		failpointHit("store.commit", "before")
		err := s.db.Update(func(tx *bolt.Tx) error {
			btx := &boltTx{tx: tx}
			for i, c := range batch {
				if err := safeCall(c.fn, btx); err != nil {
					failed, failErr = i, err
					return err
				}
			}
			return nil
		})
		failpointHit("store.commit", "after")
		if failed >= 0 {
			batch[failed].errc <- failErr
			batch = append(batch[:failed], batch[failed+1:]...)
			continue
		}
		if err != nil {
			err = fmt.Errorf("store: commit: %w", err)
		}
		for _, c := range batch {
			c.errc <- err
		}
		return
	}
}

func safeCall(fn func(Tx) error, tx Tx) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = panicError{v}
		}
	}()
	return fn(tx)
}
