package plugintest

import (
	"fmt"
	"runtime"
	"sync"
	"testing"
)

// recorder is a tb that records failures instead of failing the test, so
// the kit's tests can assert that a check fails.
type recorder struct {
	t        *testing.T // for TempDir only
	name     string
	mu       sync.Mutex
	failed   bool
	cleanups []func()
	log      *[]string
	failures *[]string // names of failed checks
}

func newRecorder(t *testing.T) *recorder {
	return &recorder{t: t, log: new([]string), failures: new([]string)}
}

func (r *recorder) Helper() {}

func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failed = true
	*r.log = append(*r.log, r.name+": "+fmt.Sprintf(format, args...))
}

func (r *recorder) Fatalf(format string, args ...any) {
	r.Errorf(format, args...)
	runtime.Goexit()
}

func (r *recorder) Logf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	*r.log = append(*r.log, r.name+": (log) "+fmt.Sprintf(format, args...))
}

// Skipf logs and ends the check without failing it.
func (r *recorder) Skipf(format string, args ...any) {
	r.Logf("(skip) "+format, args...)
	runtime.Goexit()
}

func (r *recorder) Failed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.failed
}

func (r *recorder) Cleanup(f func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cleanups = append(r.cleanups, f)
}

func (r *recorder) TempDir() string { return r.t.TempDir() }

// Run runs f as a subtest in its own goroutine, as testing does, so that
// Fatalf ends only that subtest.
func (r *recorder) Run(name string, f func(tb)) bool {
	full := name
	if r.name != "" {
		full = r.name + "/" + name
	}
	c := &recorder{t: r.t, name: full, log: r.log, failures: r.failures}
	c.run(f)
	if c.Failed() {
		r.mu.Lock()
		r.failed = true
		r.mu.Unlock()
	}
	return !c.Failed()
}

func (r *recorder) run(f func(tb)) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer func() {
			for i := len(r.cleanups) - 1; i >= 0; i-- {
				r.cleanups[i]()
			}
		}()
		f(r)
	}()
	<-done
	if r.Failed() {
		r.mu.Lock()
		*r.failures = append(*r.failures, r.name) // "" is the whole run
		r.mu.Unlock()
	}
}

// record runs the kit on s under a recorder and returns the names of the
// checks that failed (a parent fails with its child) and the log.
func record(t *testing.T, s Suite) (failed map[string]bool, log []string) {
	r := newRecorder(t)
	r.run(func(t tb) { run(t, s) })
	failed = map[string]bool{}
	for _, n := range *r.failures {
		failed[n] = true
	}
	return failed, *r.log
}
