package authkit

import (
	"fmt"
	"sync"
	"testing"

	"github.com/switchd/switchd/plugins/sdk"
)

type rec struct {
	n   int
	exp int64
}

func (r rec) ExpiresUnixMS() int64 { return r.exp }

func TestChallenges(t *testing.T) {
	s := NewChallenges[rec]()
	alice := s.Payer("iss", "alice")
	if s.Payer("iss", "alice") != alice || s.Payer("other", "alice") == alice {
		t.Fatal("Payer must return one entry per instance and payer")
	}
	t.Run("take spends", func(t *testing.T) {
		s.Put(alice, "p1", rec{n: 1, exp: 100}, 0)
		if r, ok := s.Take(alice, "p1"); !ok || r.n != 1 {
			t.Fatalf("Take = %v %v", r, ok)
		}
		if _, ok := s.Take(alice, "p1"); ok {
			t.Fatal("a challenge was taken twice")
		}
	})
	t.Run("put replaces the payment's challenge", func(t *testing.T) {
		s.Put(alice, "p1", rec{n: 1, exp: 100}, 0)
		s.Put(alice, "p1", rec{n: 2, exp: 100}, 0)
		if r, _ := s.Take(alice, "p1"); r.n != 2 || s.Count("iss") != 0 {
			t.Fatalf("got %v, %d left", r, s.Count("iss"))
		}
	})
	t.Run("expired ones go at the next put", func(t *testing.T) {
		s.Put(alice, "old", rec{exp: 10}, 0)
		s.Put(alice, "new", rec{exp: 100}, 11)
		if _, ok := s.Take(alice, "old"); ok {
			t.Fatal("an expired challenge was kept")
		}
		s.Take(alice, "new")
	})
	t.Run("bounded per payer", func(t *testing.T) {
		for i := range MaxOpenPerPayer + 1 {
			s.Put(alice, fmt.Sprint("b", i), rec{n: i, exp: int64(1000 + i)}, 0)
		}
		if n := s.Count("iss"); n != MaxOpenPerPayer {
			t.Fatalf("%d open, want %d", n, MaxOpenPerPayer)
		}
		if _, ok := s.Take(alice, "b0"); ok {
			t.Fatal("the challenge expiring first was kept")
		}
		if _, ok := s.Take(alice, fmt.Sprint("b", MaxOpenPerPayer)); !ok {
			t.Fatal("the newest challenge was dropped")
		}
	})
}

// TestChallengesConcurrentTake: of many Finishes racing for one
// challenge, exactly one gets it.
func TestChallengesConcurrentTake(t *testing.T) {
	s := NewChallenges[rec]()
	po := s.Payer("iss", "alice")
	s.Put(po, "p", rec{exp: 100}, 0)
	var wg sync.WaitGroup
	var mu sync.Mutex
	won := 0
	for range 32 {
		wg.Go(func() {
			if _, ok := s.Take(po, "p"); ok {
				mu.Lock()
				won++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if won != 1 {
		t.Fatalf("%d Takes got the challenge, want 1", won)
	}
}

func TestLockoutAnswer(t *testing.T) {
	var l Lockout
	for i := 1; i <= 2; i++ {
		if code, n := l.Answer(false, 3); code != sdk.DeclineAuthFailed || n != i || l.Locked {
			t.Fatalf("wrong answer %d: %q %d %+v", i, code, n, l)
		}
	}
	if code, n := l.Answer(true, 3); code != "" || n != 0 || l != (Lockout{}) {
		t.Fatalf("a right answer must clear the run: %q %d %+v", code, n, l)
	}
	for range 3 {
		l.Answer(false, 3)
	}
	if !l.Locked || l.Failures != 3 {
		t.Fatalf("three wrong answers in a row with max 3 must lock: %+v", l)
	}
}
