package e2e

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/switchd/switchd/internal/servetest"
	"github.com/switchd/switchd/internal/testbin"
	"github.com/switchd/switchd/switchd/internal/webhook/webhooktest"
)

// proc is switchd running as a subprocess.
type proc struct {
	cmd        *exec.Cmd
	api, admin string // the bound addresses, from the daemon's log
	stderr     *os.File
	exited     chan struct{}
}

// startProc runs the daemon binary on n with data in dataDir and waits
// until /readyz answers 200. The daemon listens on 127.0.0.1:0 for both
// APIs, so the kernel picks free ports at bind time (no other process can
// take them between a choice and the bind, as with a port chosen by
// listening and closing first); startProc reads them from the "switchd
// serving" line this start appends to dataDir's daemon.log
// (servetest.WaitReady). A restarted daemon gets new ports.
func startProc(t *testing.T, bin string, n *network, dataDir string) *proc {
	t.Helper()
	p := &proc{exited: make(chan struct{})}
	logf, err := os.OpenFile(filepath.Join(dataDir, "daemon.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	p.stderr = logf
	fi, err := logf.Stat()
	if err != nil {
		logf.Close()
		t.Fatal(err)
	}
	from := fi.Size() // an earlier start's lines (that daemon has exited) end here
	startLog := func() string {
		b, _ := os.ReadFile(logf.Name())
		if int64(len(b)) < from {
			return ""
		}
		return string(b[from:])
	}
	// --log-level info: the "switchd serving" line is an info line. The
	// public URL is only the base of pay_url links, which the tests never
	// follow (the payer drives /v1/pay/<token> on the bound API address).
	p.cmd = exec.Command(bin, "--api-addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0", "--public-url", "http://127.0.0.1",
		"--data-dir", dataDir, "--config", n.Dir, "--plugin-dir", n.Dir, "--log-level", "info", "--log-format", "text",
		"--webhook-initial-backoff", "50ms", "--webhook-max-backoff", "1s")
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	p.cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() { p.kill(); logf.Close() })
	p.api, p.admin, err = servetest.WaitReady(startLog, p.exited, 60*time.Second)
	if err != nil {
		t.Fatalf("%v:\n%s", err, startLog())
	}
	return p
}

func (p *proc) kill() {
	if p.cmd.Process != nil {
		p.cmd.Process.Kill() // SIGKILL
		<-p.exited
	}
}

func (p *proc) stop(t *testing.T) {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(20 * time.Second):
		t.Error("daemon did not stop on SIGTERM")
		p.kill()
	}
}

type crashPayment struct {
	id, token string
	amount    int64
	card      bool
}

// TestCrashRecovery kills the daemon with SIGKILL during 200 concurrent
// payments, restarts it on the same data, and checks that every
// acknowledged payment is there, none is paid twice, none is stuck past
// its expiry, and every approval reached the seller under one event id.
func TestCrashRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test runs real subprocesses for about half a minute")
	}
	bin := testbin.MustBuild(t, "./switchd/internal/e2e/testdata/serve")
	r := webhooktest.NewReceiver(t)
	n := newNetwork(t, r.URL())
	r.SetSecret(n.WebhookSec)
	bk := n.Banks[0]
	dataDir := t.TempDir()
	p := startProc(t, bin, n, dataDir)
	c := &client{base: "http://" + p.api, apiKey: n.APIKey, http: &http.Client{Timeout: 20 * time.Second}}

	const total = 200
	expiry := time.Now().Add(25 * time.Second)
	var (
		mu       sync.Mutex
		acked    []crashPayment
		approved atomic.Int64
		wg       sync.WaitGroup
	)
	for i := 0; i < total; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			amount := int64(100 + i)
			st, cr, _, err := c.create("shop", n.APIKey, createReq("shop", amount, "crash-"+strconv.Itoa(i), expiry, n.SellerKey), "crash-"+strconv.Itoa(i))
			if err != nil || st != http.StatusCreated {
				return
			}
			cp := crashPayment{id: cr.ID, token: cr.PayToken, amount: amount, card: i%2 == 0}
			mu.Lock()
			acked = append(acked, cp)
			mu.Unlock()
			choice := accountChoice(bk.BankCode, bk.Account)
			if cp.card {
				choice = cardChoice(bk.PAN)
			}
			if state, _, err := c.pay(cr.PayToken, choice, bk.OCRAKeys["alice"]); err == nil && state == "approved" {
				approved.Add(1)
			}
		}()
	}
	// Kill once a good share of payments went through, mid-flight.
	// SIGKILL: no shutdown code runs; the plugins die with the daemon.
	deadline := time.Now().Add(20 * time.Second)
	for approved.Load() < 40 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	p.kill()
	killedAt := approved.Load()
	wg.Wait()
	t.Logf("killed with %d payments approved, %d acknowledged", killedAt, len(acked))

	p = startProc(t, bin, n, dataDir)
	c.base = "http://" + p.api
	// Wait past the expiry: every payment must become final within a few
	// sweeps (polling, so a slow machine does not fail the test).
	time.Sleep(time.Until(expiry))
	final := map[string]string{}
	for end := time.Now().Add(30 * time.Second); time.Now().Before(end) && len(final) < len(acked); {
		for _, cp := range acked {
			if _, ok := final[cp.id]; ok {
				continue
			}
			state, _, err := c.getPayment(n.APIKey, cp.id)
			if err != nil {
				t.Fatalf("acknowledged payment %s: %v", cp.id, err)
			}
			switch state {
			case "approved", "expired", "declined", "failed", "refused", "cancelled":
				final[cp.id] = state
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	states := map[string]int{}
	var wantIssCard, wantIssBT int64
	approvedIDs := map[string]bool{}
	for _, cp := range acked {
		state, _, err := c.getPayment(n.APIKey, cp.id)
		if err != nil {
			t.Fatalf("acknowledged payment %s: %v", cp.id, err)
		}
		states[state]++
		switch state {
		case "approved":
			approvedIDs[cp.id] = true
			if cp.card {
				wantIssCard += cp.amount
			} else {
				wantIssBT += cp.amount
			}
		case "expired", "declined", "failed", "refused", "cancelled":
		default:
			t.Errorf("payment %s stuck in %s past its expiry", cp.id, state)
		}
	}
	t.Logf("final states after restart: %v", states)
	if states["approved"] < int(killedAt) {
		t.Errorf("%d approved after restart, but the payer saw %d approved before the crash", states["approved"], killedAt)
	}
	// Every approval reached the seller, under exactly one event id.
	for id := range approvedIDs {
		r.WaitFor(t, id, "payment.approved", hookWait)
	}
	ids := map[string]int{}
	redelivered := 0
	for _, h := range r.Hooks() {
		if h.Type == "payment.approved" {
			ids[h.PaymentID]++
		}
		redelivered += h.Deliveries - 1
	}
	bad := r.Bad()
	for pay, k := range ids {
		if k != 1 || !approvedIDs[pay] {
			t.Errorf("payment %s: %d approval event ids (approved: %v)", pay, k, approvedIDs[pay])
		}
	}
	t.Logf("webhook redeliveries of an already received id (at-least-once across the crash): %d", redelivered)
	if bad != 0 {
		t.Errorf("%d webhooks failed signature verification", bad)
	}

	p.stop(t)
	// None paid twice, every unapproved debit put back: the ledgers hold
	// exactly the approved amounts.
	issCard := balances(t, dataDir, "card", bk.ID)
	issBT := balances(t, dataDir, "banktransfer", bk.ID)
	acqCard := balances(t, dataDir, "card", "acq")
	acqBT := balances(t, dataDir, "banktransfer", "acq")
	for _, tc := range []struct {
		name      string
		got, want int64
	}{
		{"payer card", sumPrefix(issCard, "card:"), -wantIssCard},
		{"payer account", issBT["acct:"+bk.Account], 1000000 - wantIssBT},
		{"shop card receivable", acqCard["merchant:"+n.Settlement], wantIssCard},
		{"shop account", acqBT["acct:"+n.Settlement], wantIssBT},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, tc.got, tc.want)
		}
	}
	if t.Failed() {
		b, _ := os.ReadFile(filepath.Join(dataDir, "daemon.log"))
		fmt.Fprintf(os.Stderr, "daemon log:\n%s\n", b)
	}
}

// TestSIGHUPReload reloads the daemon subprocess with SIGHUP: a broken
// configuration is logged and ignored, a good one onboards a bank.
func TestSIGHUPReload(t *testing.T) {
	bin := testbin.MustBuild(t, "./switchd/internal/e2e/testdata/serve")
	r := webhooktest.NewReceiver(t)
	n := newNetwork(t, r.URL())
	r.SetSecret(n.WebhookSec)
	dataDir := t.TempDir()
	p := startProc(t, bin, n, dataDir)
	c := &client{base: "http://" + p.api, apiKey: n.APIKey, http: &http.Client{Timeout: 20 * time.Second}}
	bc := newBank("bank_c", "Bank C", "3003", "5222")
	routable := func() bool {
		st, cr, _, err := c.create("shop", n.APIKey, createReq("shop", 100, "hup-"+randHex(4), time.Now().Add(time.Minute), n.SellerKey), "")
		if err != nil || st != http.StatusCreated {
			t.Fatalf("create: %d %v", st, err)
		}
		st, _, err = c.payer(cr.PayToken, "/method", cardChoice(bc.PAN))
		return err == nil && st == http.StatusOK
	}
	waitRoutable := func(want bool) bool {
		deadline := time.Now().Add(15 * time.Second)
		for time.Now().Before(deadline) {
			if routable() == want {
				return true
			}
			time.Sleep(100 * time.Millisecond)
		}
		return false
	}
	if routable() {
		t.Fatal("bank C routable before it was configured")
	}
	// Broken: bank C's file plus a syntax error elsewhere.
	n.writeBank(t, bc)
	n.write(t, "broken.hcl", "merchant \"m\" {\n")
	p.cmd.Process.Signal(syscall.SIGHUP)
	time.Sleep(time.Second)
	if routable() {
		t.Fatal("a broken reload was applied")
	}
	log, _ := os.ReadFile(filepath.Join(dataDir, "daemon.log"))
	if !strings.Contains(string(log), "reload failed") {
		t.Fatalf("broken reload not logged:\n%s", log)
	}
	os.Remove(filepath.Join(n.Dir, "broken.hcl"))
	p.cmd.Process.Signal(syscall.SIGHUP)
	if !waitRoutable(true) {
		t.Fatal("bank C not routable after SIGHUP")
	}
	st, cr, _, _ := c.create("shop", n.APIKey, createReq("shop", 640, "hup-pay", time.Now().Add(time.Minute), n.SellerKey), "")
	if st != http.StatusCreated {
		t.Fatal(st)
	}
	if state, _, err := c.pay(cr.PayToken, cardChoice(bc.PAN), bc.OCRAKeys["alice"]); err != nil || state != "approved" {
		t.Fatalf("payment through bank C: %s %v", state, err)
	}
	p.stop(t)
}
