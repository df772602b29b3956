package store_test

import (
	"errors"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/switchd/switchd/switchd/internal/store"
	"github.com/switchd/switchd/switchd/internal/store/storetest"
)

// WriteStats counts what committed Updates wrote, from Open on: nothing
// for a failed Update or a View, at least a data page and the meta page
// per commit, and more pages for a bigger transaction.
func TestWriteStats(t *testing.T) {
	// fsync on, as the daemon runs, so that WriteTime covers real syncs.
	s := storetest.MustOpenAt(t, filepath.Join(t.TempDir(), "switchd.db"), store.Options{})
	if w := s.WriteStats(); w != (store.WriteStats{}) {
		t.Fatalf("a fresh store's WriteStats = %+v, want zero (Open's own writes excluded)", w)
	}
	errNo := errors.New("no")
	many := make([]*store.Payment, 200)
	for i := range many {
		many[i] = payment(fmt.Sprintf("pm%03d", i), "m1", t0, "created")
	}
	steps := []struct {
		name string
		do   func() error
		// wantCommits and wantUpdates are the growth; minPages the least
		// page writes added (0: none at all).
		wantCommits, wantUpdates uint64
		minPages                 uint64
	}{
		{"one payment", func() error {
			return s.Update(ctx, func(tx store.Tx) error { return tx.PutPayment(payment("p1", "m1", t0, "created")) })
		}, 1, 1, 2},
		{"failed update", func() error {
			err := s.Update(ctx, func(tx store.Tx) error {
				if err := tx.PutPayment(payment("p2", "m1", t0, "created")); err != nil {
					return err
				}
				return errNo
			})
			if !errors.Is(err, errNo) {
				return fmt.Errorf("failing Update returned %v", err)
			}
			return nil
		}, 0, 0, 0},
		{"view", func() error {
			return s.View(ctx, func(tx store.Tx) error { _, err := tx.GetPayment("p1"); return err })
		}, 0, 0, 0},
		{"200 payments in one Update", func() error {
			return s.Update(ctx, func(tx store.Tx) error {
				for _, p := range many {
					if err := tx.PutPayment(p); err != nil {
						return err
					}
				}
				return nil
			})
		}, 1, 1, 10},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			before := s.WriteStats()
			if err := st.do(); err != nil {
				t.Fatal(err)
			}
			after := s.WriteStats()
			if c := after.Commits - before.Commits; c != st.wantCommits {
				t.Errorf("Commits grew by %d, want %d", c, st.wantCommits)
			}
			if u := after.Updates - before.Updates; u != st.wantUpdates {
				t.Errorf("Updates grew by %d, want %d", u, st.wantUpdates)
			}
			pages, wrote := after.PagesWritten-before.PagesWritten, after.WriteTime-before.WriteTime
			t.Logf("%d page writes in %v", pages, wrote)
			if st.minPages == 0 && (pages != 0 || wrote != 0) {
				t.Errorf("nothing committed, yet %d page writes and %v write time added", pages, wrote)
			}
			if st.minPages > 0 && (pages < st.minPages || wrote <= 0) {
				t.Errorf("%d page writes (want at least %d) and %v write time added", pages, st.minPages, wrote)
			}
		})
	}
}
