package testnet

import (
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// LedgerBalances reads every account balance of a built-in payment-method
// plugin's ledger file (card, banktransfer), by account id. The plugin
// must have stopped: bbolt locks the file while it is open.
func LedgerBalances(path string) (map[string]int64, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("ledger %s: %w", path, err)
	}
	defer db.Close()
	out := map[string]int64{}
	err = db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("accounts"))
		if b == nil {
			return fmt.Errorf("ledger %s: no accounts bucket", path)
		}
		return b.ForEach(func(k, v []byte) error {
			var a struct {
				Balance int64 `json:"balance"`
			}
			if err := json.Unmarshal(v, &a); err != nil {
				return fmt.Errorf("ledger %s: account %s: %w", path, k, err)
			}
			out[string(k)] = a.Balance
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
