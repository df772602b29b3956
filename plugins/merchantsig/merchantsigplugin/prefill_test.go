package merchantsigplugin

import (
	"context"
	"crypto/sha256"
	"strconv"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// mustPrefill records, for instance "acq", approvals of made-up
// signatures signed at from, from+step, ... up to before to, in the state
// file's layout, as if the plugin had approved them.
func mustPrefill(t testing.TB, p *Plugin, from, to time.Time, step time.Duration) {
	t.Helper()
	inst, err := p.instance("acq")
	if err != nil {
		t.Fatal(err)
	}
	var times []int64
	for at := from; at.Before(to); at = at.Add(step) {
		times = append(times, at.UnixMilli())
	}
	const perTx = 10000
	for start := 0; start < len(times); start += perTx {
		chunk := times[start:min(start+perTx, len(times))]
		if err := inst.db.Update(context.Background(), func(tx *bolt.Tx) error {
			b := approvedBucket(tx.Bucket([]byte("acq")))
			for j, ms := range chunk {
				id := strconv.Itoa(start + j)
				sum := sha256.Sum256([]byte(id))
				if err := b.Put(recordKey(ms, sum[:]), encodeRecord("prefill-"+id, "shop-1")); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
}
