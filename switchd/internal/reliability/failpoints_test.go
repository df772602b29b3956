package reliability

import (
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/switchd/switchd/switchd/internal/reliability/failpoint"
	"github.com/switchd/switchd/switchd/internal/webhook/webhooktest"
)

// TestReliabilityFailpoints runs a daemon built with -tags failpoints under
// load, armed to crash itself (SIGKILL) at one point: just before or just
// after a bbolt commit, a webhook delivery attempt, or each plugin call of
// the flow. After each crash it restarts on the same data with the next
// point armed; at the end a clean daemon runs past every expiry and verify
// checks every invariant, as in the crash loop. With
// SWITCHD_RELIABILITY_ROUNDS=k the list runs max(1, k/5) times with fresh
// random hit counts.
func TestReliabilityFailpoints(t *testing.T) {
	skipUnlessSubprocesses(t)
	passes := max(1, rounds(t, 5)/5)
	bin := daemonBin(t, "-tags", "failpoints")
	r := webhooktest.NewReceiver(t)
	n := newNetwork(t, r.URL())
	r.SetSecret(n.WebhookSec)
	dataDir := t.TempDir()
	l := &load{n: n, expiry: 10 * time.Second}
	type fp struct {
		spec     string
		mustFire bool
	}
	var points []fp
	for pass := 0; pass < passes; pass++ {
		for _, side := range []string{"before", "after"} {
			points = append(points,
				fp{"store.commit:" + side + "@" + strconv.Itoa(20+rand.IntN(150)), true},
				fp{"outbox.deliver:" + side + "@" + strconv.Itoa(1+rand.IntN(30)), true})
			for _, rpc := range []string{"ResolveInstrument", "AuthenticateSeller", "BeginMutualAuth", "FinishMutualAuth", "Debit", "Credit", "Reverse"} {
				// Reverse happens for one payment in sixteen (the closed
				// shop), so it is armed early enough to fire on a slow
				// machine too.
				most := 10
				if rpc == "Reverse" {
					most = 3
				}
				points = append(points, fp{"flow.call." + side + ":" + rpc + "@" + strconv.Itoa(1+rand.IntN(most)), true})
			}
			// Between a host_state plugin's answer and the commit of its
			// state writes, and between that commit and the answer's
			// return to the flow (package pluginhost): the ledgers' Debit
			// and Credit, merchantsig's AuthenticateSeller.
			for _, rpc := range []string{"AuthenticateSeller", "Debit", "Credit"} {
				points = append(points, fp{"pluginhost.commit." + side + ":" + rpc + "@" + strconv.Itoa(1+rand.IntN(10)), true})
			}
			// The ledgers' opening balances, committed at Configure (at
			// start, so it may not be needed again).
			points = append(points, fp{"pluginhost.commit." + side + ":Configure@1", false})
		}
		// The recovery after a crash right after Debit asks the issuer
		// for the outcome; crash during that too (it may not be needed).
		points = append(points, fp{"flow.call.after:Debit@1", true}, fp{"flow.call.after:GetOperationStatus@1", false})
	}
	fired := 0
	for _, pt := range points {
		if _, _, _, err := failpoint.Parse(pt.spec); err != nil {
			t.Fatal(err)
		}
		logBefore, _ := os.ReadFile(dataDir + "/daemon.log")
		var startErr error // the daemon exited before it was ready (a failpoint may fire at start)
		p, err := tryStartDaemon(t, bin, n, dataDir, []string{failpoint.Env + "=" + pt.spec})
		if err == nil {
			c := newClient(p.api)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { l.run(ctx, c, 6); close(done) }()
			select {
			case <-p.exited:
			case <-time.After(30 * time.Second):
			}
			cancel()
			<-done
			p.kill()
		} else if !errors.Is(err, errExited) {
			t.Fatal(err)
		} else {
			startErr = err
		}
		logAfter, _ := os.ReadFile(dataDir + "/daemon.log")
		name, _, _ := strings.Cut(pt.spec, "@")
		if strings.Contains(string(logAfter[len(logBefore):]), "failpoint "+strings.TrimSuffix(name, ":")) {
			fired++
			t.Logf("%s: fired; %d payments acknowledged so far", pt.spec, len(l.payments()))
		} else if pt.mustFire {
			// The daemon's log of this round says what the load waited on.
			lines := strings.Split(strings.TrimSpace(string(logAfter[len(logBefore):])), "\n")
			if startErr != nil {
				t.Errorf("%s: did not fire: the daemon exited before it was ready: %v", pt.spec, startErr)
				continue
			}
			t.Errorf("%s: did not fire within 30s of load (%d payments acknowledged so far); the round's last daemon log lines:\n%s",
				pt.spec, len(l.payments()), strings.Join(lines[max(0, len(lines)-40):], "\n"))
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	p := startDaemon(t, bin, n, dataDir, nil)
	c := newClient(p.api)
	acked := l.payments()
	states := waitFinal(t, c, n.APIKey, acked, l.expiry+20*time.Second)
	waitWebhooks(r, states, 15*time.Second)
	p.stop(t)
	o := verify(t, n, dataDir, r, acked)
	files, bodies, hits := leakScan(t, n, r, nil, dataDir)
	t.Logf("RESULT failpoints: %d crashes at %d armed points, %d payments acknowledged, states %v: %d lost, %d stuck, %d double-paid, %d debits reversed, %d ledger mismatches, %d duplicate webhook ids, %d missing webhooks; leak scan: %d hits in %d files and %d webhook bodies",
		fired, len(points), len(acked), o.States, o.Lost, o.Stuck, o.DoublePaid, o.Reversed, o.Mismatched, o.WebhookDupes, o.Missing, hits, files, bodies)
}
