package pluginhost

import (
	"context"
	"fmt"
	"sync"

	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
	"github.com/switchd/switchd/plugins/sdk"
	"github.com/switchd/switchd/switchd/internal/store"
)

// StateStore keeps the durable records of plugins that list
// sdk.CapHostState, per plugin and instance (see Options.State).
type StateStore interface {
	// Load calls fn for each record of the instance, in key order. key and
	// value are valid only during fn.
	Load(ctx context.Context, plugin, instance string, fn func(key, value []byte) error) error
	// Has reports whether the instance holds any record.
	Has(ctx context.Context, plugin, instance string) (bool, error)
	// Commit writes every record of writes durably, or none of them. An
	// empty value deletes its key.
	Commit(ctx context.Context, plugin, instance string, writes []*pb.StateWrite) error
}

// NewStoreState returns the StateStore of the daemon: the records live in
// st (switchd.db, bucket plugin_state), and each Commit is one
// group-committed, fsynced Update.
func NewStoreState(st store.Store) StateStore { return storeState{st} }

type storeState struct{ st store.Store }

func (s storeState) Load(ctx context.Context, plugin, instance string, fn func(key, value []byte) error) error {
	return s.st.View(ctx, func(tx store.Tx) error { return tx.PluginState(plugin, instance, fn) })
}

func (s storeState) Has(ctx context.Context, plugin, instance string) (bool, error) {
	var has bool
	err := s.st.View(ctx, func(tx store.Tx) error {
		var err error
		has, err = tx.HasPluginState(plugin, instance)
		return err
	})
	return has, err
}

func (s storeState) Commit(ctx context.Context, plugin, instance string, writes []*pb.StateWrite) error {
	return s.st.Update(ctx, func(tx store.Tx) error {
		for _, w := range writes {
			if err := tx.PutPluginState(plugin, instance, w.GetKey(), w.GetValue()); err != nil {
				return err
			}
		}
		return nil
	})
}

// NewMemState returns a StateStore held in memory, lost when the process
// ends. It is for commands that configure plugins in a throw-away data
// directory (`switchd validate`, `switchd plugins ...`) and for tests.
func NewMemState() StateStore { return &memState{m: map[[2]string]sdk.StateMap{}} }

type memState struct {
	mu sync.Mutex
	m  map[[2]string]sdk.StateMap
}

func (s *memState) Load(_ context.Context, plugin, instance string, fn func(key, value []byte) error) error {
	s.mu.Lock()
	recs := s.m[[2]string{plugin, instance}].Records()
	s.mu.Unlock()
	for _, r := range recs {
		if err := fn(r.GetKey(), r.GetValue()); err != nil {
			return err
		}
	}
	return nil
}

func (s *memState) Has(_ context.Context, plugin, instance string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m[[2]string{plugin, instance}]) > 0, nil
}

func (s *memState) Commit(_ context.Context, plugin, instance string, writes []*pb.StateWrite) error {
	if err := checkWrites(writes, len(writes)); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	id := [2]string{plugin, instance}
	if s.m[id] == nil {
		s.m[id] = sdk.StateMap{}
	}
	s.m[id].Apply(writes)
	return nil
}

// MaxStateWrites bounds the state_writes of one answer (and of one
// ExportState): an answer with more is refused as invalid.
const MaxStateWrites = 4096

// checkWrites checks writes against the store's bounds
// (store.MaxStateKey, store.MaxStateValue) and at most limit records.
func checkWrites(writes []*pb.StateWrite, limit int) error {
	if len(writes) > limit {
		return fmt.Errorf("%w: %d records (at most %d)", ErrInvalidStateWrites, len(writes), limit)
	}
	for i, w := range writes {
		if n := len(w.GetKey()); n == 0 || n > store.MaxStateKey {
			return fmt.Errorf("%w: record %d: key of %d bytes (want 1 to %d)", ErrInvalidStateWrites, i, n, store.MaxStateKey)
		}
		if n := len(w.GetValue()); n > store.MaxStateValue {
			return fmt.Errorf("%w: record %d: value of %d bytes (at most %d)", ErrInvalidStateWrites, i, n, store.MaxStateValue)
		}
	}
	return nil
}
