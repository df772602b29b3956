package boltgroup

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// BenchmarkUpdate64 writes one small key per operation from 64 goroutines
// to a fsynced bbolt file in a temp dir: plain bolt.DB.Update (one
// transaction and fsync each, serialised on bbolt's writer lock) against a
// Committer (group commit). Run with
//
//	go test -run '^$' -bench Update64 -benchmem ./internal/boltgroup/
func BenchmarkUpdate64(b *testing.B) {
	const writers = 64
	for _, mode := range []string{"db.Update", "Committer"} {
		b.Run(mode, func(b *testing.B) {
			db := mustOpen(b, filepath.Join(b.TempDir(), "bench.db"))
			update := func(fn func(*bolt.Tx) error) error { return db.Update(fn) }
			if mode == "Committer" {
				c := New(db, Options{})
				defer c.Close()
				update = func(fn func(*bolt.Tx) error) error { return c.Update(context.Background(), fn) }
			}
			var n atomic.Int64
			b.SetParallelism((writers + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					key := fmt.Appendf(nil, "k%09d", n.Add(1))
					if err := update(func(tx *bolt.Tx) error { return tx.Bucket(bucket).Put(key, key) }); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkUpdateSerialNoSync is the committer's own cost for a writer
// that is alone (an unloaded payment): one goroutine, fsync off so that
// only the CPU and the hand-off to the committer goroutine are measured.
func BenchmarkUpdateSerialNoSync(b *testing.B) {
	for _, mode := range []string{"db.Update", "Committer"} {
		b.Run(mode, func(b *testing.B) {
			db := mustOpen(b, filepath.Join(b.TempDir(), "bench.db"))
			db.NoSync = true
			update := func(fn func(*bolt.Tx) error) error { return db.Update(fn) }
			if mode == "Committer" {
				c := New(db, Options{})
				defer c.Close()
				update = func(fn func(*bolt.Tx) error) error { return c.Update(context.Background(), fn) }
			}
			for i := 0; b.Loop(); i++ {
				key := fmt.Appendf(nil, "k%09d", i)
				if err := update(func(tx *bolt.Tx) error { return tx.Bucket(bucket).Put(key, key) }); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
