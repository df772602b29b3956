package merchantsigplugin

import (
	"container/heap"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"sync"
	"time"

	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
)

// A replay record, in the host's state and in ExportState:
//
//	key:   signed_at ms (8 bytes, big endian) || sha256(signature)
//	value: uvarint(len(payment id)) || payment id || merchant id
//
// The key leads with the signing time, so the records an approval writes
// are the newest keys of the instance's bucket in the host and the expired
// ones the first. A record converted from a version before 1.1.0 holds,
// in place of signed_at, the time its window ended then (expires_ms): a
// later time than the real signed_at, so it is kept at least as long as
// its signature can pass the window check (see exportLegacy).
const (
	recordTimeLen = 8
	recordKeyLen  = recordTimeLen + sha256.Size
)

// PurgePerAnswer bounds how many expired records one approval deletes
// (empty values in its state_writes). At one approval per record expiring,
// a backlog (after a restart, or a burst followed by quiet) shrinks by
// PurgePerAnswer-1 records per approval.
const PurgePerAnswer = 16

// MaxReplayWindow is the widest replay_window_seconds a configuration may
// set. ExportState and LoadState, which run before Configure, keep the
// records signed within it of now: no configuration can need older ones.
const MaxReplayWindow = 24 * time.Hour

// recordKey is the key of the record of a signature made at signedAtMS
// whose SHA-256 is sum.
func recordKey(signedAtMS int64, sum []byte) []byte {
	return append(binary.BigEndian.AppendUint64(make([]byte, 0, recordKeyLen), uint64(signedAtMS)), sum...)
}

// keyMS is the time (Unix ms) a record key starts with.
func keyMS(k []byte) int64 { return int64(binary.BigEndian.Uint64(k)) }

func encodeRecord(paymentID, merchantID string) []byte {
	b := binary.AppendUvarint(make([]byte, 0, binary.MaxVarintLen16+len(paymentID)+len(merchantID)), uint64(len(paymentID)))
	return append(append(b, paymentID...), merchantID...)
}

// decodeRecord returns the payment and merchant ids of a record value.
func decodeRecord(v []byte) (paymentID, merchantID string, err error) {
	n, w := binary.Uvarint(v)
	if w <= 0 || n > uint64(len(v)-w) || n == 0 {
		return "", "", fmt.Errorf("%w: value of %d bytes", ErrCorruptRecord, len(v))
	}
	rest := v[w:]
	return string(rest[:n]), string(rest[n:]), nil
}

// entry is a record in memory: the time its key starts with and its value.
type entry struct {
	at    int64
	value string
}

// byTime is a min-heap of records, by the time their keys start with.
type byTime []timed

type timed struct {
	at  int64
	sum [sha256.Size]byte
}

func (h byTime) Len() int           { return len(h) }
func (h byTime) Less(i, j int) bool { return h[i].at < h[j].at }
func (h byTime) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *byTime) Push(x any)        { *h = append(*h, x.(timed)) }
func (h *byTime) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// replay is one instance's working state: the signatures it approved that
// may still pass the window check, and the keys of expired records it has
// dropped from memory but still has to delete in the host. It is safe for
// concurrent use.
type replay struct {
	mu     sync.Mutex
	bySum  map[[sha256.Size]byte]entry // by the signature's SHA-256
	times  byTime                      // the same records, oldest first
	doomed [][]byte                    // keys to delete in the host, oldest first
}

// newReplay builds the working state from records (an instance's
// committed records, or an export), in any order. A record signed before
// cutoffMS is not kept: its key goes to the delete queue. Of two records
// of one signature (which no version writes) the later one is kept and
// the other deleted. It returns an error wrapping ErrCorruptRecord, and
// no state, if a record cannot be decoded.
func newReplay(records []*pb.StateWrite, cutoffMS int64) (*replay, error) {
	r := &replay{bySum: make(map[[sha256.Size]byte]entry, len(records))}
	for i, rec := range records {
		k, v := rec.GetKey(), rec.GetValue()
		if len(k) != recordKeyLen {
			return nil, fmt.Errorf("record %d: %w: key of %d bytes, want %d", i, ErrCorruptRecord, len(k), recordKeyLen)
		}
		if _, _, err := decodeRecord(v); err != nil {
			return nil, fmt.Errorf("record %d: %w", i, err)
		}
		at := keyMS(k)
		if at < cutoffMS {
			r.doomed = append(r.doomed, k)
			continue
		}
		sum := [sha256.Size]byte(k[recordTimeLen:])
		if old, dup := r.bySum[sum]; dup {
			if old.at > at {
				r.doomed = append(r.doomed, k)
				continue
			}
			r.doomed = append(r.doomed, recordKey(old.at, sum[:]))
			// old stays in times; expire skips it as it is no longer live.
		}
		r.bySum[sum] = entry{at: at, value: string(v)}
		r.times = append(r.times, timed{at: at, sum: sum})
	}
	heap.Init(&r.times)
	return r, nil
}

// replace makes r's state that of from (built by newReplay).
func (r *replay) replace(from *replay) {
	r.mu.Lock()
	r.bySum, r.times, r.doomed = from.bySum, from.times, from.doomed
	r.mu.Unlock()
}

// len returns how many records r holds in memory and how many keys it
// has yet to delete in the host.
func (r *replay) len() (records, doomed int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.bySum), len(r.doomed)
}

// expire drops from memory every record signed before cutoffMS, queueing
// their keys for deletion in the host. Configure calls it with the
// configured window.
func (r *replay) expire(cutoffMS int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for len(r.times) > 0 && r.times[0].at < cutoffMS {
		t := heap.Pop(&r.times).(timed)
		if e, ok := r.bySum[t.sum]; ok && e.at == t.at {
			delete(r.bySum, t.sum)
			r.doomed = append(r.doomed, recordKey(t.at, t.sum[:]))
		}
	}
}

// approve records the approval of the signature whose SHA-256 is sum,
// signed at signedAtMS, for the payment and merchant, unless it was
// approved before. It returns the payment id it was approved for before
// ("" if it was not) and, when the answer is an approval (not before, or
// before for this payment), the writes that make it true: the record, and
// deletes of up to PurgePerAnswer records signed before cutoffMS. A
// replay returns no writes and changes nothing.
func (r *replay) approve(sum [sha256.Size]byte, signedAtMS int64, paymentID, merchantID string, cutoffMS int64) (before string, writes []*pb.StateWrite, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e, found := r.bySum[sum]
	if found {
		// signed_at is part of the signed message, so the signature
		// verified for this signed_at only: the hash is the whole lookup.
		// A record converted from 1.0.0 has another time in its key.
		before, _, err = decodeRecord([]byte(e.value))
		if err != nil || before != paymentID {
			return before, nil, err
		}
	} else {
		e = entry{at: signedAtMS, value: string(encodeRecord(paymentID, merchantID))}
		r.bySum[sum] = e
		heap.Push(&r.times, timed{at: e.at, sum: sum})
	}
	writes = append(make([]*pb.StateWrite, 0, 1+PurgePerAnswer), &pb.StateWrite{Key: recordKey(e.at, sum[:]), Value: []byte(e.value)})
	return before, r.purge(writes, cutoffMS), nil
}

// purge appends to writes the deletes of up to PurgePerAnswer expired
// records: first the queued keys, then the oldest records in memory if
// they were signed before cutoffMS. r.mu is held.
func (r *replay) purge(writes []*pb.StateWrite, cutoffMS int64) []*pb.StateWrite {
	n := 0
	for n < PurgePerAnswer && len(r.doomed) > 0 {
		k := r.doomed[0]
		r.doomed[0] = nil
		r.doomed = r.doomed[1:]
		// A queued key approved again since (only possible after the
		// window was widened) is live: keep it.
		if e, ok := r.bySum[[sha256.Size]byte(k[recordTimeLen:])]; ok && e.at == keyMS(k) {
			continue
		}
		writes = append(writes, &pb.StateWrite{Key: k})
		n++
	}
	if len(r.doomed) == 0 {
		r.doomed = nil // let the backing array go
	}
	for n < PurgePerAnswer && len(r.times) > 0 && r.times[0].at < cutoffMS {
		t := heap.Pop(&r.times).(timed)
		if e, ok := r.bySum[t.sum]; !ok || e.at != t.at {
			continue // a duplicate, queued for deletion at load
		}
		delete(r.bySum, t.sum)
		writes = append(writes, &pb.StateWrite{Key: recordKey(t.at, t.sum[:])})
		n++
	}
	return writes
}
