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

	"github.com/switchd/switchd/internal/boltgroup"
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
// Updates are group-committed by a boltgroup.Committer: one committer
// goroutine runs the fns of all waiting Updates in a single read-write
// transaction and fsyncs it once. If one fn returns an error (or panics)
// the transaction is rolled back, that caller alone gets its error, and the
// others' fns are run again in a fresh transaction. So a fn may be called
// more than once and must have no effect outside the Tx; an error from a fn
// never aborts another caller's work. A fn must not call Update or View on
// the same store (the committer would wait for itself).
type BoltStore struct {
	db        *bolt.DB
	path      string
	committer *boltgroup.Committer[Tx]
	// opened is bbolt's transaction statistics once Open's own writes
	// were done: WriteStats counts from there.
	opened bolt.TxStats

	mu     sync.RWMutex // guards closed
	closed bool
}

var _ Store = (*BoltStore)(nil)

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
	s := &BoltStore{db: db, path: path, opened: db.Stats().TxStats}
	s.committer = boltgroup.NewWrapped(db, boltgroup.Options{
		MaxBatchDelay: opts.MaxBatchDelay,
		MaxBatchSize:  opts.MaxBatchSize,
		BeforeCommit:  func() { failpointHit("store.commit", "before") },
		AfterCommit:   func() { failpointHit("store.commit", "after") },
	}, func(tx *bolt.Tx) Tx { return &boltTx{tx: tx} })
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
	err := s.committer.Update(ctx, fn)
	if errors.Is(err, boltgroup.ErrClosed) {
		return ErrClosed
	}
	return err
}

// WriteStats are a BoltStore's write totals since Open (Open's own
// writes, creating the buckets, excluded). They only grow; a monitoring
// system takes their rates, a benchmark their differences over its load.
type WriteStats struct {
	// Commits is the number of read-write transactions committed, and
	// Updates the number of Updates committed in them (see
	// boltgroup.Stats): Updates / Commits is the mean group-commit batch.
	Commits, Updates uint64
	// PagesWritten is the number of page writes to the file (bbolt's
	// TxStats.Write): one pwrite per dirty page (a node spanning several
	// pages is one write) and one for the meta page, per commit. It, not
	// the number of commits, is what a commit's CPU and I/O follow.
	PagesWritten uint64
	// WriteTime is the time committing transactions spent writing their
	// pages and meta page and fsyncing them (bbolt's TxStats.WriteTime).
	WriteTime time.Duration
}

// WriteStats returns the store's write totals. It is cheap (two atomic
// loads and a copy of bbolt's statistics under its lock) and safe to call
// at any time, also concurrently with Updates; bbolt adds a transaction's
// figures when it closes, so a commit under way is not in them yet.
func (s *BoltStore) WriteStats() WriteStats {
	c := s.committer.Stats()
	tx := s.db.Stats().TxStats
	return WriteStats{
		Commits:      c.Commits,
		Updates:      c.Updates,
		PagesWritten: uint64(tx.GetWrite() - s.opened.GetWrite()),
		WriteTime:    tx.GetWriteTime() - s.opened.GetWriteTime(),
	}
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
	s.mu.Unlock()
	s.committer.Close()
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
