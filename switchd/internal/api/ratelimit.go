package api

import (
	"math"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// keyedLimiter is one token bucket per key (a merchant id, or the hash of a
// payer token). Idle buckets (full again) are dropped once the map grows
// past maxKeys, and the next sweep waits until the map has doubled from
// what the last one left (at least maxKeys): hostile keys cannot grow it
// beyond twice the buckets still refilling, and a busy switch, with more
// than maxKeys payments inside one refill time, does not scan the whole
// map on every new key.
type keyedLimiter[K comparable] struct {
	limit rate.Limit
	burst int

	mu      sync.Mutex
	buckets map[K]*rate.Limiter
	sweepAt int // sweep when the map has this many buckets
}

const maxKeys = 10000

func newKeyedLimiter[K comparable](perSecond float64, burst int) *keyedLimiter[K] {
	return &keyedLimiter[K]{limit: rate.Limit(perSecond), burst: burst, buckets: map[K]*rate.Limiter{}, sweepAt: maxKeys}
}

// allow takes one token for key at now. When none is left it returns false
// and the whole seconds to wait (at least 1), for Retry-After.
func (k *keyedLimiter[K]) allow(key K, now time.Time) (bool, string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	l, ok := k.buckets[key]
	if !ok {
		if len(k.buckets) >= k.sweepAt {
			k.sweep(now)
			k.sweepAt = max(maxKeys, 2*len(k.buckets))
		}
		l = rate.NewLimiter(k.limit, k.burst)
		k.buckets[key] = l
	}
	res := l.ReserveN(now, 1)
	if !res.OK() {
		return false, "60"
	}
	delay := res.DelayFrom(now)
	if delay == 0 {
		return true, ""
	}
	res.CancelAt(now)
	return false, strconv.Itoa(int(math.Ceil(delay.Seconds())))
}

// sweep drops buckets that are full again (idle long enough that forgetting
// them changes nothing). Called with mu held.
func (k *keyedLimiter[K]) sweep(now time.Time) {
	for key, l := range k.buckets {
		if l.TokensAt(now) >= float64(k.burst) {
			delete(k.buckets, key)
		}
	}
}
