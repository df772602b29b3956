package storetest

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/switchd/switchd/plugins/ledgerstate"
	"github.com/switchd/switchd/switchd/internal/store"
)

// ErrNoLedger is returned by Ledger for an institution whose plugin has
// no ledger records in the store.
var ErrNoLedger = errors.New("storetest: no ledger")

// Ledger reads the ledger that a built-in payment-method plugin (card,
// banktransfer) keeps for institution inst in the switch's database at
// path (host_state: the records live in switchd.db, see
// plugins/ledgerstate), and checks the ledger's invariants
// (ledgerstate.View.Check). The daemon must have stopped: bbolt locks the
// file while it is open.
func Ledger(path, plugin, inst string) (*ledgerstate.View, error) {
	st, err := store.Open(path, store.Options{NoSync: true, LockTimeout: 10 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("ledger of %s/%s: %w", plugin, inst, err)
	}
	defer st.Close()
	return LedgerIn(st, plugin, inst)
}

// LedgerIn is Ledger on a store that is already open.
func LedgerIn(st store.Store, plugin, inst string) (*ledgerstate.View, error) {
	v := ledgerstate.NewView()
	err := st.View(context.Background(), func(tx store.Tx) error {
		return tx.PluginState(plugin, inst, v.Put)
	})
	if err != nil {
		return nil, fmt.Errorf("ledger of %s/%s: %w", plugin, inst, err)
	}
	if len(v.Accounts()) == 0 {
		return nil, fmt.Errorf("ledger of %s/%s: %w: no accounts", plugin, inst, ErrNoLedger)
	}
	if err := v.Check(); err != nil {
		return nil, fmt.Errorf("ledger of %s/%s: %w", plugin, inst, err)
	}
	return v, nil
}
