package passkeyplugin

import (
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/switchd/switchd/plugins/passkey/passkeytest"
	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
	"github.com/switchd/switchd/plugins/sdk"
)

// lastTx is the id of the last transaction committed to the instance's
// state file: it moves with every write.
func (f *fixture) lastTx() int {
	f.t.Helper()
	inst, err := f.p.instance("iss")
	if err != nil {
		f.t.Fatal(err)
	}
	var id int
	if err := inst.db.DB().View(func(tx *bolt.Tx) error { id = tx.ID(); return nil }); err != nil {
		f.t.Fatal(err)
	}
	return id
}

// storedSignCount is the sign counter passkey.db holds for the payer's
// passkey.
func (f *fixture) storedSignCount(payerRef string) uint32 {
	f.t.Helper()
	inst, err := f.p.instance("iss")
	if err != nil {
		f.t.Fatal(err)
	}
	_, rec, err := inst.payer(payerRef)
	if err != nil || len(rec.Credentials) != 1 {
		f.t.Fatalf("stored passkeys of %s: %v %v", payerRef, rec.Credentials, err)
	}
	return rec.Credentials[0].Authenticator.SignCount
}

// impostor has a's credential id and user handle but not its key: her
// assertions fail.
func impostor(t *testing.T, a *passkeytest.Authenticator) *passkeytest.Authenticator {
	t.Helper()
	m, err := passkeytest.New(testOrigin)
	if err != nil {
		t.Fatal(err)
	}
	m.CredentialID, m.RPID, m.UserHandle, m.NoCounter = a.CredentialID, a.RPID, a.UserHandle, a.NoCounter
	return m
}

// TestOnlyDurableStateIsWritten: Begin writes nothing to passkey.db (open
// challenges live in memory). An approved Finish writes only when the
// credential changed, which it does whenever the authenticator keeps a
// sign counter: the new count must survive a restart, or a cloned
// authenticator could replay an older one. A synced passkey (counter
// always 0) from a payer with no failures writes nothing. A failed
// assertion is written at once, and so is the reset of the count by the
// next good one.
func TestOnlyDurableStateIsWritten(t *testing.T) {
	t.Run("synced passkey, no counter", func(t *testing.T) {
		f := MustFixture(t, nil)
		a, err := passkeytest.New(testOrigin)
		if err != nil {
			t.Fatal(err)
		}
		a.NoCounter = true
		f.enrolWith("alice", a)
		tx0 := f.lastTx()
		f.wantApproved(f.pay("alice", a))
		if tx := f.lastTx(); tx != tx0 {
			t.Fatalf("an approved Begin and Finish committed %d transactions, want none", tx-tx0)
		}
		res, _ := f.pay("alice", impostor(t, a))
		wantDecline(t, res, sdk.DeclineAuthFailed)
		if tx := f.lastTx(); tx != tx0+1 {
			t.Fatalf("a failed assertion committed %d transactions, want 1", tx-tx0)
		}
		f.wantApproved(f.pay("alice", a))
		if tx := f.lastTx(); tx != tx0+2 {
			t.Fatalf("the reset after a failure committed %d transactions in all, want 2", tx-tx0)
		}
		f.wantApproved(f.pay("alice", a))
		if tx := f.lastTx(); tx != tx0+2 {
			t.Fatalf("an approved payment with no failures to reset committed %d transactions, want none", tx-tx0-2)
		}
	})
	t.Run("security key, counter", func(t *testing.T) {
		f := MustFixture(t, nil)
		a := f.enrol("alice")
		tx0 := f.lastTx()
		o, d := f.order(1000)
		b := f.begin("alice", o, d)
		if tx := f.lastTx(); tx != tx0 {
			t.Fatalf("Begin committed %d transactions, want none", tx-tx0)
		}
		ans, err := a.Get(b.GetChallengeData(), d)
		if err != nil {
			t.Fatal(err)
		}
		f.wantApproved(f.finish("alice", o, d, ans), d)
		if tx := f.lastTx(); tx != tx0+1 {
			t.Fatalf("an approved Finish that moved the counter committed %d transactions, want 1", tx-tx0)
		}
		if got := f.storedSignCount("alice"); got != a.SignCount {
			t.Fatalf("stored sign counter %d, want %d", got, a.SignCount)
		}
		// The counter outlives a restart: an older count is refused.
		f.restart()
		a.SignCount--
		o, d = f.order(1000)
		ans, err = a.Get(f.begin("alice", o, d).GetChallengeData(), d)
		if err != nil {
			t.Fatal(err)
		}
		wantDecline(t, f.finish("alice", o, d, ans), sdk.DeclineAuthFailed)
	})
}

// TestOpenChallengeForgottenAtRestart: open challenges are not kept
// across a restart; an answer to one is declined "replay" (the switch lets
// the payer begin again), no failure is counted, and a new Begin works.
func TestOpenChallengeForgottenAtRestart(t *testing.T) {
	f := MustFixture(t, map[string]any{"max_failures": 1})
	a := f.enrol("alice")
	o, d := f.order(1000)
	ans, err := a.Get(f.begin("alice", o, d).GetChallengeData(), d)
	if err != nil {
		t.Fatal(err)
	}
	f.restart()
	wantDecline(t, f.finish("alice", o, d, ans), sdk.DeclineReplay)
	ans, err = a.Get(f.begin("alice", o, d).GetChallengeData(), d)
	if err != nil {
		t.Fatal(err)
	}
	f.wantApproved(f.finish("alice", o, d, ans), d)
}

// TestLegacyPendingBucketDropped: a state file written by a version that
// kept open challenges on disk loses them (they could not be answered
// after that version stopped either) and keeps its passkeys and lockouts.
func TestLegacyPendingBucketDropped(t *testing.T) {
	f := MustFixture(t, nil)
	alice := f.enrol("alice")
	f.enrol("bob")
	if err := f.p.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := bolt.Open(filepath.Join(f.dir, StateFile), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("iss"))
		pending, err := b.CreateBucket(bucketPending)
		if err != nil {
			return err
		}
		if err := pending.Put([]byte("alice\x00pay-old"), []byte(`{"digest":"AA=="}`)); err != nil {
			return err
		}
		locked, _ := json.Marshal(payerState{Failures: 5, Locked: true})
		return b.Bucket(bucketPayers).Put([]byte("bob"), locked)
	}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	f.p = nil
	f.restart()
	inst, _ := f.p.instance("iss")
	if err := inst.db.DB().View(func(tx *bolt.Tx) error {
		if tx.Bucket([]byte("iss")).Bucket(bucketPending) != nil {
			t.Error("the old open challenges are still in the file")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	f.wantApproved(f.pay("alice", alice))
	o, d := f.order(1000)
	if b := f.begin("bob", o, d); b.GetDeclineCode() != sdk.DeclineLocked {
		t.Fatalf("the lock was not kept: %v", b)
	}
}

// TestOpenChallengesBounded: one payer keeps at most MaxOpenPerPayer
// challenges open; beyond it the one that expires first is forgotten.
func TestOpenChallengesBounded(t *testing.T) {
	f := MustFixture(t, nil)
	a := f.enrol("alice")
	type open struct {
		o      *pb.Order
		d, ans []byte
	}
	var opened []open
	for range MaxOpenPerPayer + 1 {
		o, d := f.order(1000)
		ans, err := a.Get(f.begin("alice", o, d).GetChallengeData(), d)
		if err != nil {
			t.Fatal(err)
		}
		opened = append(opened, open{o, d, ans})
		f.now = f.now.Add(time.Millisecond)
	}
	if n := f.p.open.Count("iss"); n != MaxOpenPerPayer {
		t.Fatalf("%d open challenges, want %d", n, MaxOpenPerPayer)
	}
	last := opened[MaxOpenPerPayer]
	f.wantApproved(f.finish("alice", last.o, last.d, last.ans), last.d)
	first := opened[0]
	wantDecline(t, f.finish("alice", first.o, first.d, first.ans), sdk.DeclineReplay)
}
