// Package storetest opens real bbolt stores for tests, in the style of
// bbolt's own btesting helper: every store is consistency-checked when the
// test ends.
package storetest

import (
	"path/filepath"
	"testing"

	"github.com/switchd/switchd/switchd/internal/store"
)

// MustOpen opens a fresh store in tb.TempDir() with fsync off (tests do
// not need durability against power loss). At cleanup it closes the store,
// reopens the file and fails the test if bbolt's consistency check finds a
// problem.
func MustOpen(tb testing.TB) *store.BoltStore {
	tb.Helper()
	return MustOpenAt(tb, filepath.Join(tb.TempDir(), "switchd.db"), store.Options{NoSync: true})
}

// MustOpenAt opens the store at path with opts, with the same cleanup
// check as MustOpen.
func MustOpenAt(tb testing.TB, path string, opts store.Options) *store.BoltStore {
	tb.Helper()
	s, err := store.Open(path, opts)
	if err != nil {
		tb.Fatalf("storetest: %v", err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("storetest: close: %v", err)
			return
		}
		MustCheck(tb, path)
	})
	return s
}

// MustCheck opens the database file at path, runs the consistency check
// and closes it; it fails the test on any problem.
func MustCheck(tb testing.TB, path string) {
	tb.Helper()
	s, err := store.Open(path, store.Options{NoSync: true})
	if err != nil {
		tb.Errorf("storetest: reopen for check: %v", err)
		return
	}
	defer s.Close()
	if err := s.Check(); err != nil {
		tb.Errorf("storetest: %v", err)
	}
}
