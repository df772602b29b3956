package store

import bolt "go.etcd.io/bbolt"

// TxStats returns bbolt's transaction statistics of s (pages allocated
// and written, nodes read), for the benchmarks of package store_test.
func TxStats(s *BoltStore) bolt.TxStats { return s.db.Stats().TxStats }
