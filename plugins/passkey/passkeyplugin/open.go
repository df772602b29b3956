package passkeyplugin

import (
	"cmp"
	"slices"
	"sync"

	"github.com/go-webauthn/webauthn/webauthn"
)

// MaxOpenPerPayer is how many step-C challenges one payer may have open at
// one issuer at a time, one per payment. A Begin beyond it forgets the
// payer's challenge that expires first, so memory stays bounded by the
// configured payers whatever callers do.
const MaxOpenPerPayer = 64

// pendingRecord is an open step-C challenge. Nothing in it is secret.
type pendingRecord struct {
	digest    []byte
	nonce     []byte
	session   webauthn.SessionData
	expiresMS int64
}

// openSet holds the open step-C challenges of every instance, in memory: a
// challenge lives from Begin until its Finish, its expiry or the plugin's
// restart, whichever comes first. None of these needs a write to disk: a
// challenge that is forgotten can no longer be answered (Finish declines
// "replay" and the payer begins again), which is the safe way to fail.
// So Begin writes nothing; credentials, sign counters, open enrolments,
// failure counts and locks, which must outlive a restart, stay in
// passkey.db. It is safe for concurrent use.
//
// It has the shape of ocra's openSet (plugins/ocra/ocraplugin/open.go);
// only the record differs.
type openSet struct {
	mu     sync.Mutex
	payers map[payerKey]*payerOpen
}

type payerKey struct{ instance, payer string }

// payerOpen is one payer's open challenges at one instance.
type payerOpen struct {
	// finish serialises the payer's Finishes: the lock check, the
	// challenge, the assertion, the sign counter and the failure count are
	// one step.
	finish sync.Mutex
	open   map[string]pendingRecord // by payment id; guarded by openSet.mu
}

func newOpenSet() *openSet { return &openSet{payers: map[payerKey]*payerOpen{}} }

// payer returns the payer's entry, made on first use. Entries are never
// removed: there is one per configured payer that has begun or finished
// at least once.
func (s *openSet) payer(instance, payer string) *payerOpen {
	k := payerKey{instance, payer}
	s.mu.Lock()
	defer s.mu.Unlock()
	po := s.payers[k]
	if po == nil {
		po = &payerOpen{open: map[string]pendingRecord{}}
		s.payers[k] = po
	}
	return po
}

// put opens rec as the challenge of the payment, replacing any open one
// for the same payment. It first forgets the payer's expired challenges
// and then, at MaxOpenPerPayer, the one that expires first.
func (s *openSet) put(po *payerOpen, paymentID string, rec pendingRecord, nowMS int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, r := range po.open {
		if r.expiresMS < nowMS {
			delete(po.open, id)
		}
	}
	if _, replacing := po.open[paymentID]; !replacing && len(po.open) >= MaxOpenPerPayer {
		ids := make([]string, 0, len(po.open))
		for id := range po.open {
			ids = append(ids, id)
		}
		first := slices.MinFunc(ids, func(a, b string) int {
			return cmp.Compare(po.open[a].expiresMS, po.open[b].expiresMS)
		})
		delete(po.open, first)
	}
	po.open[paymentID] = rec
}

// take removes and returns the payment's open challenge.
func (s *openSet) take(po *payerOpen, paymentID string) (pendingRecord, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := po.open[paymentID]
	delete(po.open, paymentID)
	return rec, ok
}

// count is the number of challenges open at instance (for tests).
func (s *openSet) count(instance string) int {
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
