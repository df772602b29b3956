package boltgroup

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

var bucket = []byte("b")

// mustOpen opens a fsynced bbolt file in a temp dir with bucket in it; it
// is closed (after a consistency check) at the end of the test.
func mustOpen(t testing.TB, path string) *bolt.DB {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucketIfNotExists(bucket); return err }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := db.View(func(tx *bolt.Tx) error {
			for err := range tx.Check() {
				return err
			}
			return nil
		}); err != nil {
			t.Errorf("bbolt check: %v", err)
		}
		db.Close()
	})
	return db
}

func put(key string) func(*bolt.Tx) error {
	return func(tx *bolt.Tx) error { return tx.Bucket(bucket).Put([]byte(key), []byte("v")) }
}

func has(t testing.TB, db *bolt.DB, key string) bool {
	t.Helper()
	var ok bool
	if err := db.View(func(tx *bolt.Tx) error { ok = tx.Bucket(bucket).Get([]byte(key)) != nil; return nil }); err != nil {
		t.Fatal(err)
	}
	return ok
}

// gate holds the committer in BeforeCommit of its first transaction until
// release is called, so that the test can queue Updates behind it and know
// they will form the next batch.
type gate struct {
	entered, released chan struct{}
	enter, release    sync.Once
}

func (g *gate) before() {
	g.enter.Do(func() {
		close(g.entered)
		<-g.released
	})
}

func (g *gate) open() { g.release.Do(func() { close(g.released) }) }

// mustHeld opens a file and a committer with opts whose first transaction,
// an Update writing "first", is held at BeforeCommit until g.open(); first
// yields that Update's result.
func mustHeld(t testing.TB, opts Options) (db *bolt.DB, c *Committer[*bolt.Tx], g *gate, first <-chan error) {
	t.Helper()
	db = mustOpen(t, filepath.Join(t.TempDir(), "g.db"))
	g = &gate{entered: make(chan struct{}), released: make(chan struct{})}
	opts.BeforeCommit = g.before
	c = New(db, opts)
	t.Cleanup(func() { g.open(); c.Close() })
	res := make(chan error, 1)
	go func() { res <- c.Update(context.Background(), put("first")) }()
	<-g.entered
	return db, c, g, res
}

// waitQueued returns once n Updates wait in c's queue. It guards against a
// hang only; nothing is timed.
func waitQueued[T any](t testing.TB, c *Committer[T], n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for c.queued.Load() < int64(n) {
		if time.Now().After(deadline) {
			t.Fatalf("%d Updates queued, want %d", c.queued.Load(), n)
		}
		time.Sleep(50 * time.Microsecond)
	}
}

func TestConcurrentUpdatesAreDurable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "g.db")
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket(bucket); return err }); err != nil {
		t.Fatal(err)
	}
	c := New(db, Options{})
	const writers, each = 64, 8
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				if err := c.Update(context.Background(), put(fmt.Sprintf("w%02d-%d", w, i))); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	c.Close()
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db = mustOpen(t, path)
	n := 0
	db.View(func(tx *bolt.Tx) error { n = tx.Bucket(bucket).Stats().KeyN; return nil })
	if n != writers*each {
		t.Errorf("%d keys after reopen, want %d", n, writers*each)
	}
	for w := range writers {
		for i := range each {
			if key := fmt.Sprintf("w%02d-%d", w, i); !has(t, db, key) {
				t.Errorf("acknowledged %s lost", key)
			}
		}
	}
}

// A batch of Updates queued behind one commit shares the next one.
func TestBatchSharesOneCommit(t *testing.T) {
	tests := []struct {
		name        string
		opts        Options
		queued      int
		wantCommits int64
	}{
		{"default", Options{}, 63, 2},
		{"capped", Options{MaxBatchSize: 16}, 32, 3},
		{"no batching", Options{MaxBatchSize: 1}, 5, 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var commits atomic.Int64
			opts := tt.opts
			opts.AfterCommit = func() { commits.Add(1) }
			db, c, g, first := mustHeld(t, opts)
			var wg sync.WaitGroup
			for i := range tt.queued {
				wg.Go(func() {
					if err := c.Update(context.Background(), put(fmt.Sprint(i))); err != nil {
						t.Error(err)
					}
				})
			}
			waitQueued(t, c, min(tt.queued, cap(c.calls)))
			g.open()
			if err := <-first; err != nil {
				t.Fatal(err)
			}
			wg.Wait()
			if got := commits.Load(); got != tt.wantCommits {
				t.Errorf("%d Updates took %d commits, want %d", tt.queued+1, got, tt.wantCommits)
			}
			for i := range tt.queued {
				if !has(t, db, fmt.Sprint(i)) {
					t.Errorf("write %d missing", i)
				}
			}
		})
	}
}

func TestFailingFnFailsAlone(t *testing.T) {
	db, c, g, first := mustHeld(t, Options{})

	errNo := errors.New("no")
	const n = 10
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			errs[i] = c.Update(context.Background(), func(tx *bolt.Tx) error {
				if err := put(fmt.Sprint(i))(tx); err != nil {
					return err
				}
				if i%3 == 1 {
					return fmt.Errorf("caller %d: %w", i, errNo)
				}
				return nil
			})
		})
	}
	waitQueued(t, c, n)
	g.open()
	wg.Wait()
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	for i, err := range errs {
		fails := i%3 == 1
		if fails != errors.Is(err, errNo) || (!fails && err != nil) {
			t.Errorf("caller %d: err = %v", i, err)
		}
		if has(t, db, fmt.Sprint(i)) == fails {
			t.Errorf("caller %d: write present = %v, fn failed = %v", i, !fails, fails)
		}
	}
}

func TestPanicReachesItsCallerOnly(t *testing.T) {
	db, c, g, first := mustHeld(t, Options{})

	panicked := make(chan any, 1)
	go func() {
		defer func() { panicked <- recover() }()
		c.Update(context.Background(), func(tx *bolt.Tx) error {
			put("panicker")(tx)
			panic("boom")
		})
	}()
	waitQueued(t, c, 1)
	const n = 4
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = c.Update(context.Background(), put(fmt.Sprint(i))) })
	}
	waitQueued(t, c, n+1)
	g.open()
	wg.Wait()
	if v := <-panicked; v != "boom" {
		t.Errorf("panicking caller recovered %v, want boom", v)
	}
	<-first
	for i, err := range errs {
		if err != nil || !has(t, db, fmt.Sprint(i)) {
			t.Errorf("caller %d beside the panic: err %v, written %v", i, err, has(t, db, fmt.Sprint(i)))
		}
	}
	if has(t, db, "panicker") {
		t.Error("the panicking fn's write was committed")
	}
	// The committer still works.
	if err := c.Update(context.Background(), put("after")); err != nil || !has(t, db, "after") {
		t.Errorf("Update after a panic: %v", err)
	}
}

func TestContextDoneBeforeRun(t *testing.T) {
	t.Run("before Update", func(t *testing.T) {
		db := mustOpen(t, filepath.Join(t.TempDir(), "g.db"))
		c := New(db, Options{})
		defer c.Close()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		ran := false
		err := c.Update(ctx, func(*bolt.Tx) error { ran = true; return nil })
		if !errors.Is(err, context.Canceled) || ran {
			t.Errorf("Update(cancelled) = %v, fn ran: %v", err, ran)
		}
	})
	t.Run("while queued", func(t *testing.T) {
		db, c, g, first := mustHeld(t, Options{})
		ctx, cancel := context.WithCancel(context.Background())
		var ran atomic.Bool
		res := make(chan error, 1)
		go func() {
			res <- c.Update(ctx, func(tx *bolt.Tx) error { ran.Store(true); return put("late")(tx) })
		}()
		waitQueued(t, c, 1)
		cancel()
		g.open()
		if err := <-res; !errors.Is(err, context.Canceled) || ran.Load() || has(t, db, "late") {
			t.Errorf("Update cancelled in the queue = %v, fn ran: %v", err, ran.Load())
		}
		if err := <-first; err != nil {
			t.Fatal(err)
		}
	})
}

func TestCloseWaitsForQueuedWork(t *testing.T) {
	db, c, g, first := mustHeld(t, Options{})
	const n = 20
	errs := make(chan error, n)
	for i := range n {
		go func() { errs <- c.Update(context.Background(), put(fmt.Sprint(i))) }()
	}
	waitQueued(t, c, n)
	closed := make(chan struct{})
	go func() { c.Close(); close(closed) }()
	g.open()
	<-closed
	// Close has returned: every queued write is committed.
	for i := range n {
		if !has(t, db, fmt.Sprint(i)) {
			t.Errorf("queued write %d not committed when Close returned", i)
		}
	}
	for range n {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if err := c.Update(context.Background(), put("late")); !errors.Is(err, ErrClosed) {
		t.Errorf("Update after Close = %v, want ErrClosed", err)
	}
	c.Close() // twice is harmless
}

// NewWrapped hands every fn of a batch the same wrapped transaction.
func TestNewWrappedSharesWrapPerTransaction(t *testing.T) {
	db := mustOpen(t, filepath.Join(t.TempDir(), "g.db"))
	type wrapped struct{ tx *bolt.Tx }
	var wraps atomic.Int64
	gt := &gate{entered: make(chan struct{}), released: make(chan struct{})}
	c := NewWrapped(db, Options{BeforeCommit: gt.before}, func(tx *bolt.Tx) *wrapped { wraps.Add(1); return &wrapped{tx} })
	t.Cleanup(func() { gt.open(); c.Close() })
	res := make(chan error, 4)
	go func() { res <- c.Update(context.Background(), func(w *wrapped) error { return put("first")(w.tx) }) }()
	<-gt.entered
	seen := make(chan *wrapped, 3)
	for i := range 3 {
		go func() {
			res <- c.Update(context.Background(), func(w *wrapped) error { seen <- w; return put(fmt.Sprint(i))(w.tx) })
		}()
	}
	waitQueued(t, c, 3)
	gt.open()
	for range 4 {
		if err := <-res; err != nil {
			t.Fatal(err)
		}
	}
	a, b, d := <-seen, <-seen, <-seen
	if a != b || b != d || wraps.Load() != 2 {
		t.Errorf("batch of 3 saw distinct wrappers or %d wraps for 2 transactions", wraps.Load())
	}
}

// An Update on an idle file commits in its caller's goroutine (no
// committer hand-off) with the same outcomes as in a batch: its write is
// durable, its error or panic is its own and writes nothing, a done
// context runs nothing, and both paths keep working afterwards.
func TestLoneUpdate(t *testing.T) {
	errNo := errors.New("no")
	tests := []struct {
		name    string
		ctx     func() context.Context
		fn      func(*bolt.Tx) error
		wantErr error
		panics  bool
		written bool
	}{
		{"commits", context.Background, put("k"), nil, false, true},
		{"fn error", context.Background, func(tx *bolt.Tx) error { put("k")(tx); return errNo }, errNo, false, false},
		{"fn panic", context.Background, func(tx *bolt.Tx) error { put("k")(tx); panic("boom") }, nil, true, false},
		{"context done", func() context.Context {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return ctx
		}, put("k"), context.Canceled, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := mustOpen(t, filepath.Join(t.TempDir(), "g.db"))
			var commits atomic.Int64
			c := New(db, Options{AfterCommit: func() { commits.Add(1) }})
			defer c.Close()
			var err error
			var recovered any
			func() {
				defer func() { recovered = recover() }()
				err = c.Update(tt.ctx(), tt.fn)
			}()
			if (recovered != nil) != tt.panics || !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("err %v, panic %v", err, recovered)
			}
			if has(t, db, "k") != tt.written {
				t.Fatalf("written = %v, want %v", !tt.written, tt.written)
			}
			if err := c.Update(context.Background(), put("after")); err != nil || !has(t, db, "after") {
				t.Fatalf("Update afterwards: %v", err)
			}
			// A lone Update took no committer goroutine: nothing queued.
			if q := c.queued.Load(); q != 0 {
				t.Fatalf("%d Updates left queued", q)
			}
		})
	}
}

// Stats counts committed transactions and committed Updates: a batch
// retried around failing fns is one commit, and the failed Updates are
// not counted.
func TestStats(t *testing.T) {
	errNo := errors.New("no")
	tests := []struct {
		name string
		// held queues the Updates behind a held first commit (so they
		// form exactly one batch); otherwise they race freely.
		held        bool
		n           int
		fails       func(i int) bool
		wantCommits uint64 // 0: anything from 1 to wantUpdates
		wantUpdates uint64
	}{
		{name: "concurrent", n: 64, fails: func(int) bool { return false }, wantUpdates: 64},
		{name: "one batch", held: true, n: 10, fails: func(int) bool { return false }, wantCommits: 2, wantUpdates: 11},
		{name: "batch with failing fns", held: true, n: 10, fails: func(i int) bool { return i%3 == 1 }, wantCommits: 2, wantUpdates: 8},
		{name: "all fail", n: 5, fails: func(int) bool { return true }, wantUpdates: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var (
				c     *Committer[*bolt.Tx]
				g     *gate
				first <-chan error
			)
			if tt.held {
				_, c, g, first = mustHeld(t, Options{})
			} else {
				c = New(mustOpen(t, filepath.Join(t.TempDir(), "g.db")), Options{})
				t.Cleanup(c.Close)
			}
			if s := c.Stats(); s != (Stats{}) { // a held first Update has not committed yet
				t.Fatalf("a new Committer's Stats: %+v", s)
			}
			var wg sync.WaitGroup
			for i := range tt.n {
				wg.Go(func() {
					err := c.Update(context.Background(), func(tx *bolt.Tx) error {
						if err := put(fmt.Sprint(i))(tx); err != nil {
							return err
						}
						if tt.fails(i) {
							return errNo
						}
						return nil
					})
					if (err != nil) != tt.fails(i) {
						t.Errorf("Update %d: %v", i, err)
					}
				})
			}
			if tt.held {
				waitQueued(t, c, tt.n)
				g.open()
				if err := <-first; err != nil {
					t.Fatal(err)
				}
			}
			wg.Wait()
			s := c.Stats()
			if s.Updates != tt.wantUpdates {
				t.Errorf("Updates = %d, want %d", s.Updates, tt.wantUpdates)
			}
			if tt.wantCommits > 0 && s.Commits != tt.wantCommits {
				t.Errorf("Commits = %d, want %d", s.Commits, tt.wantCommits)
			}
			if tt.wantCommits == 0 && (s.Commits > s.Updates || (s.Updates > 0 && s.Commits == 0)) {
				t.Errorf("Commits = %d for %d Updates", s.Commits, s.Updates)
			}
		})
	}
}

// An Update whose context ended before its fn ran is not counted.
func TestStatsSkipsCancelled(t *testing.T) {
	_, c, g, first := mustHeld(t, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	res := make(chan error, 1)
	go func() { res <- c.Update(ctx, put("late")) }()
	waitQueued(t, c, 1)
	cancel()
	g.open()
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if err := <-res; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Update: %v", err)
	}
	if s := c.Stats(); s != (Stats{Commits: 1, Updates: 1}) {
		t.Errorf("Stats = %+v, want the first Update's commit alone", s)
	}
}
