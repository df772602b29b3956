package api

import (
	"math"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// keyedLimiter is one token bucket per key (a merchant id, or the hash of a
// payer token). Idle buckets are dropped once the map grows past maxKeys,
// so hostile keys cannot grow it without bound.
type keyedLimiter struct {
	limit rate.Limit
	burst int

	mu      sync.Mutex
	buckets map[string]*rate.Limiter
}

const maxKeys = 10000

func newKeyedLimiter(perSecond float64, burst int) *keyedLimiter {
	return &keyedLimiter{limit: rate.Limit(perSecond), burst: burst, buckets: map[string]*rate.Limiter{}}
}

// allow takes one token for key at now. When none is left it returns false
// and the whole seconds to wait (at least 1), for Retry-After.
func (k *keyedLimiter) allow(key string, now time.Time) (bool, string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	l, ok := k.buckets[key]
	if !ok {
		if len(k.buckets) >= maxKeys {
			k.sweep(now)
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
func (k *keyedLimiter) sweep(now time.Time) {
	for key, l := range k.buckets {
		if l.TokensAt(now) >= float64(k.burst) {
			delete(k.buckets, key)
		}
	}
}
