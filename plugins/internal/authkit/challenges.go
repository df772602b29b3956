package authkit

import (
	"sync"

	"github.com/switchd/switchd/plugins/sdk"
)

// MaxOpenPerPayer is how many challenges one payer may have open at one
// issuer at a time, one per payment. A Begin beyond it forgets the
// payer's challenge that expires first, so memory stays bounded by the
// configured payers whatever callers do.
const MaxOpenPerPayer = 64

// Record is an open challenge as an authenticator keeps it: anything, as
// long as it says when it expires (Unix milliseconds).
type Record interface{ ExpiresUnixMS() int64 }

// Challenges holds the open step-C challenges of every instance of an
// authenticator, in memory: a challenge lives from Begin until its
// Finish, its expiry or the plugin's restart, whichever comes first. None
// of these needs a write to disk: a challenge that is forgotten can no
// longer be answered (Finish declines "replay" and switchd lets the payer
// begin again), which is the safe way to fail; single use holds because
// Finish takes the challenge out under a lock. So Begin writes nothing,
// and only what must outlive a restart (failure counts, locks,
// credentials) goes to the state file. It is safe for concurrent use.
type Challenges[R Record] struct {
	mu     sync.Mutex
	payers map[payerKey]*Payer[R]
}

type payerKey struct{ instance, payer string }

// Payer is one payer's open challenges at one instance.
type Payer[R Record] struct {
	// Finish serialises the payer's Finishes: the lock check, the
	// challenge, the answer and the failure count (and whatever else the
	// authenticator keeps per payer) are one step.
	Finish sync.Mutex
	open   map[string]R // by payment id; guarded by Challenges.mu
}

// NewChallenges returns an empty set.
func NewChallenges[R Record]() *Challenges[R] {
	return &Challenges[R]{payers: map[payerKey]*Payer[R]{}}
}

// Payer returns the payer's entry, made on first use. Entries are never
// removed: there is one per configured payer that has begun or finished
// at least once.
func (s *Challenges[R]) Payer(instance, payer string) *Payer[R] {
	k := payerKey{instance, payer}
	s.mu.Lock()
	defer s.mu.Unlock()
	po := s.payers[k]
	if po == nil {
		po = &Payer[R]{open: map[string]R{}}
		s.payers[k] = po
	}
	return po
}

// Put opens rec as the challenge of the payment, replacing any open one
// for the same payment. It first forgets the payer's expired challenges
// and then, at MaxOpenPerPayer, the one that expires first.
func (s *Challenges[R]) Put(po *Payer[R], paymentID string, rec R, nowMS int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, r := range po.open {
		if r.ExpiresUnixMS() < nowMS {
			delete(po.open, id)
		}
	}
	if _, replacing := po.open[paymentID]; !replacing && len(po.open) >= MaxOpenPerPayer {
		first, firstMS := "", int64(0)
		for id, r := range po.open {
			if ms := r.ExpiresUnixMS(); first == "" || ms < firstMS {
				first, firstMS = id, ms
			}
		}
		delete(po.open, first)
	}
	po.open[paymentID] = rec
}

// Take removes and returns the payment's open challenge.
func (s *Challenges[R]) Take(po *Payer[R], paymentID string) (R, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := po.open[paymentID]
	delete(po.open, paymentID)
	return rec, ok
}

// Count is the number of challenges open at instance.
func (s *Challenges[R]) Count(instance string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for k, po := range s.payers {
		if k.instance == instance {
			n += len(po.open)
		}
	}
	return n
}

// Lockout is a payer's run of wrong answers at one issuer, as the
// authenticators keep it in their state files (JSON {"failures": n,
// "locked": b}).
type Lockout struct {
	Failures int  `json:"failures"`
	Locked   bool `json:"locked"`
}

// Answer applies one checked answer: a right one clears the run; a wrong
// one extends it and locks the payer at maxFailures. It returns the
// decline code ("" for a right answer) and, after a wrong one, the count.
func (l *Lockout) Answer(right bool, maxFailures int) (code string, failures int) {
	if right {
		*l = Lockout{}
		return "", 0
	}
	l.Failures++
	l.Locked = l.Failures >= maxFailures
	return sdk.DeclineAuthFailed, l.Failures
}
