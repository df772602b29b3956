package reliability

import (
	"context"
	"math/rand/v2"
	"net/http"
	"testing"
	"time"

	"github.com/switchd/switchd/switchd/internal/webhook/webhooktest"
)

// TestReliabilityCrashLoop kills `switchd serve` with SIGKILL at a random
// moment under concurrent load, restarts it on the same data, and repeats
// for SWITCHD_RELIABILITY_ROUNDS rounds (default 5). After each kill the
// store and the ledgers pass bbolt's check, balance, and hold every
// acknowledged payment with nothing paid twice. After the last round the
// daemon runs past every payment's expiry, then verify checks every
// invariant (see verify) and the leak scan finds no secret anywhere.
func TestReliabilityCrashLoop(t *testing.T) {
	skipUnlessSubprocesses(t)
	k := rounds(t, 5)
	// Kill after 0.3-2.8 s of load in the short run; the soak (more than
	// 5 rounds) lets each round run 1-8 s, a few hundred payments each.
	minRound, maxRound := 300*time.Millisecond, 2800*time.Millisecond
	if k > 5 {
		minRound, maxRound = time.Second, 8*time.Second
	}
	bin := daemonBin(t)
	r := webhooktest.NewReceiver(t)
	n := newNetwork(t, r.URL())
	r.SetSecret(n.WebhookSec)
	dataDir := t.TempDir()
	l := &load{n: n, expiry: 10 * time.Second}
	var p *proc
	for round := 1; round <= k; round++ {
		p = startDaemon(t, bin, n, dataDir, nil)
		c := newClient(p.api)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		before := l.approved.Load()
		go func() { l.run(ctx, c, 6); close(done) }()
		time.Sleep(minRound + rand.N(maxRound-minRound))
		p.kill() // SIGKILL, mid-flight
		cancel()
		<-done
		acked := l.payments()
		// Between rounds, with everything dead: files consistent, nothing
		// acknowledged lost, nothing paid twice.
		st := openStore(t, dataDir)
		ids := make([]string, len(acked))
		for i, a := range acked {
			ids[i] = a.id
		}
		if got := storedPayments(t, st, ids); len(got) != len(acked) {
			t.Errorf("round %d: %d of %d acknowledged payments in the store", round, len(got), len(acked))
		}
		for _, lp := range [][2]string{{"card", "bank_a"}, {"banktransfer", "bank_a"}, {"card", "acq"}, {"banktransfer", "acq"}} {
			led, err := readLedger(st, lp[0], lp[1])
			if err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
			for _, op := range []string{"debit", "credit"} {
				if _, twice := led.moved(op); twice != 0 {
					t.Errorf("round %d: %s/%s: %d payments with two kept %ss", round, lp[0], lp[1], twice, op)
				}
			}
		}
		st.Close()
		t.Logf("round %d: killed after %d more approvals; %d acknowledged so far", round, l.approved.Load()-before, len(acked))
		if t.Failed() {
			t.FailNow()
		}
	}
	// Recovery run: past every expiry, so the sweeper ends what is left.
	p = startDaemon(t, bin, n, dataDir, nil)
	c := newClient(p.api)
	acked := l.payments()
	states := waitFinal(t, c, n.APIKey, acked, l.expiry+20*time.Second)
	waitWebhooks(r, states, 15*time.Second)
	p.stop(t)
	o := verify(t, n, dataDir, r, acked)
	files, bodies, hits := leakScan(t, n, r, nil, dataDir)
	t.Logf("RESULT crash loop: %d rounds, %d payments acknowledged (creates refused, by status: %v), states %v: %d lost, %d stuck, %d double-paid, %d debits reversed, %d ledger mismatches, %d duplicate webhook ids, %d missing webhooks; leak scan: %d hits in %d files and %d webhook bodies",
		k, len(acked), l.refusals(), o.States, o.Lost, o.Stuck, o.DoublePaid, o.Reversed, o.Mismatched, o.WebhookDupes, o.Missing, hits, files, bodies)
	for st := range l.refusals() {
		if st != http.StatusTooManyRequests {
			t.Errorf("well-formed creates answered %d", st)
		}
	}
	if o.Approved == 0 {
		t.Error("no payment was approved: the load did not exercise the flow")
	}
}
