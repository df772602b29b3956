package reliability

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/switchd/switchd/plugins/passkey/passkeytest"
	"github.com/switchd/switchd/switchd/internal/webhook/webhooktest"
	"github.com/switchd/switchd/switchd/wallet"
)

// payerRun is one payment driven step by step by the payer's phone.
type payerRun struct {
	c      *client
	token  string
	choice map[string]any
	w      *wallet.OCRA
	phone  *passkeytest.Authenticator // instead of w, for bank_p
	// enrollCode is the activation code that enrol sends (bank_p's).
	enrollCode string
	answer     []byte
}

// enrol registers the phone's passkey with bank_p (once per payer).
func (p *payerRun) enrol() error {
	st, b, err := p.c.payer(p.token, "/enroll/begin", map[string]string{"enrollment_code": p.enrollCode})
	if err != nil || st != http.StatusOK {
		return fmt.Errorf("enroll/begin: %d %v %s", st, err, b)
	}
	var ch struct {
		ChallengeData json.RawMessage `json:"challenge_data"`
	}
	if err := json.Unmarshal(b, &ch); err != nil {
		return err
	}
	cred, err := p.phone.Create(ch.ChallengeData)
	if err != nil {
		return err
	}
	if st, b, err = p.c.payer(p.token, "/enroll/finish", json.RawMessage(cred)); err != nil || st/100 != 2 {
		return fmt.Errorf("enroll/finish: %d %v %s", st, err, b)
	}
	return nil
}

func (p *payerRun) method() (int, error) {
	st, b, err := p.c.payer(p.token, "/method", p.choice)
	if err == nil && st != http.StatusOK {
		err = fmt.Errorf("method: %d %s", st, b)
	}
	return st, err
}

func (p *payerRun) begin() (int, error) {
	payerData := json.RawMessage(`{}`)
	if p.phone == nil {
		p.w.Begin()
		payerData = p.w.BeginPayerData()
	}
	st, b, err := p.c.payer(p.token, "/auth/begin", payerData)
	if err != nil {
		return st, err
	}
	if st != http.StatusOK {
		return st, fmt.Errorf("auth/begin: %d %s", st, b)
	}
	var ch struct {
		ChallengeData json.RawMessage `json:"challenge_data"`
		DigestHex     string          `json:"digest_hex"`
	}
	if err := json.Unmarshal(b, &ch); err != nil {
		return st, err
	}
	digest, err := hex.DecodeString(ch.DigestHex)
	if err != nil {
		return st, err
	}
	if p.phone != nil {
		p.answer, err = p.phone.Get(ch.ChallengeData, digest)
	} else {
		p.answer, err = p.w.Answer(ch.ChallengeData, digest)
	}
	return st, err
}

func (p *payerRun) finish() (int, error) {
	_, st, err := p.c.finish(p.token, p.answer)
	return st, err
}

// fault modes.
const (
	killBefore = "kill before the call"
	killDuring = "kill during the call"
	hang       = "hang past the deadline"
)

// TestReliabilityPluginFaults kills or hangs (SIGSTOP) each plugin process
// at each step it takes part in: card and banktransfer at A (instrument
// resolution) and D (debit, credit), merchantsig at B, ocra and passkey
// at both halves of C. Each payment must end in a final state that agrees with the
// ledgers (verify), the daemon must stay up, and a fresh payment must be
// approved after every fault.
func TestReliabilityPluginFaults(t *testing.T) {
	skipUnlessSubprocesses(t)
	const callTimeout = 2 * time.Second
	bin := daemonBin(t)
	r := webhooktest.NewReceiver(t)
	n := newNetwork(t, r.URL())
	r.SetSecret(n.WebhookSec)
	n.addPasskeyBank(t)
	phone, err := passkeytest.New("https://pay.example")
	if err != nil {
		t.Fatal(err)
	}
	dataDir := t.TempDir()
	p := startDaemon(t, bin, n, dataDir, nil, "--plugin-call-timeout", callTimeout.String())
	c := newClient(p.api)
	const expiry = 20 * time.Second
	var acked []payment
	newRun := func(card, passkey bool) *payerRun {
		t.Helper()
		amount := int64(100 + len(acked))
		ref := "fault-" + randHex(4)
		st, cr, b, err := c.create(n.APIKey, createReq("shop", amount, ref, time.Now().Add(expiry), n.SellerKey), "")
		if err != nil || st != http.StatusCreated {
			t.Fatalf("create: %d %v %s", st, err, b)
		}
		acked = append(acked, payment{id: cr.ID, token: cr.PayToken, amount: amount, card: card})
		choice := accountChoice(n.BankCode, n.Account)
		if card {
			choice = cardChoice(n.PAN)
		}
		run := &payerRun{c: c, token: cr.PayToken, choice: choice, w: &wallet.OCRA{Key: n.OCRAKey}}
		if passkey {
			run.choice, run.phone, run.enrollCode = cardChoice(n.PasskeyPAN), phone, n.EnrollCode
		}
		return run
	}
	// The passkey payer enrols once, during a first payment.
	enrolled := newRun(true, true)
	if _, err := enrolled.method(); err != nil {
		t.Fatal(err)
	}
	if err := enrolled.enrol(); err != nil {
		t.Fatal(err)
	}
	for _, step := range []func() (int, error){enrolled.begin, enrolled.finish} {
		if _, err := step(); err != nil {
			t.Fatal(err)
		}
	}
	// healthy waits until the admin status shows every plugin healthy.
	healthy := func() {
		for end := time.Now().Add(20 * time.Second); time.Now().Before(end); {
			res, err := http.Get("http://" + p.admin + "/v1/admin/status")
			if err == nil {
				var st struct {
					Plugins []struct{ Healthy bool } `json:"plugins"`
				}
				json.NewDecoder(res.Body).Decode(&st)
				res.Body.Close()
				ok := len(st.Plugins) == len(n.Plugins)
				for _, pl := range st.Plugins {
					ok = ok && pl.Healthy
				}
				if ok {
					return
				}
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Fatal("plugins not healthy again within 20s")
	}
	cases := []struct {
		plugin, step  string
		card, passkey bool
	}{
		{"card", "method", true, false},
		{"card", "finish", true, false},
		{"banktransfer", "method", false, false},
		{"banktransfer", "finish", false, false},
		{"merchantsig", "method", true, false},
		{"ocra", "begin", true, false},
		{"ocra", "finish", false, false},
		{"passkey", "begin", true, true},
		{"passkey", "finish", true, true},
	}
	outcomes := map[string]int{}
	for _, tc := range cases {
		for _, mode := range []string{killBefore, killDuring, hang} {
			name := tc.plugin + " at " + tc.step + ": " + mode
			healthy()
			run := newRun(tc.card, tc.passkey)
			steps := []string{"method", "begin", "finish"}
			do := map[string]func() (int, error){"method": run.method, "begin": run.begin, "finish": run.finish}
			faulted := false
			for _, s := range steps {
				if s != tc.step {
					st, err := do[s]()
					if err != nil && !faulted {
						t.Fatalf("%s: step %s before the fault: %d %v", name, s, st, err)
					}
					if err != nil {
						t.Logf("%s: step %s after the fault: %v", name, s, err)
						break
					}
					continue
				}
				faulted = true
				pid := p.pluginPID(t, tc.plugin)
				if pid == 0 {
					t.Fatalf("%s: no pid for plugin %s", name, tc.plugin)
				}
				res := make(chan error, 1)
				start := time.Now()
				switch mode {
				case killBefore:
					syscall.Kill(pid, syscall.SIGKILL)
					go func() { _, err := do[s](); res <- err }()
				case killDuring:
					syscall.Kill(pid, syscall.SIGSTOP)
					go func() { _, err := do[s](); res <- err }()
					time.Sleep(300 * time.Millisecond)
					syscall.Kill(pid, syscall.SIGKILL)
				case hang:
					syscall.Kill(pid, syscall.SIGSTOP)
					go func() { _, err := do[s](); res <- err }()
				}
				var err error
				select {
				case err = <-res:
				case <-time.After(3*callTimeout + 10*time.Second):
					t.Fatalf("%s: the request hung for %s", name, time.Since(start))
				}
				if mode == hang {
					syscall.Kill(pid, syscall.SIGCONT)
				}
				if !p.alive() {
					t.Fatalf("%s: the daemon died", name)
				}
				t.Logf("%s: step answered in %s (err: %v)", name, time.Since(start).Round(time.Millisecond), err)
				if err != nil {
					// The payer tries again once the plugin is back; the
					// payment may also have ended already.
					healthy()
					_, err = do[s]()
				}
				if err != nil {
					break
				}
			}
			// The daemon keeps serving: a fresh payment goes through.
			healthy()
			ctl := newRun(true, false)
			if _, err := ctl.method(); err != nil {
				t.Fatalf("%s: control payment: %v", name, err)
			}
			if _, err := ctl.begin(); err != nil {
				t.Fatalf("%s: control payment: %v", name, err)
			}
			if _, err := ctl.finish(); err != nil {
				t.Fatalf("%s: control payment: %v", name, err)
			}
			outcomes[name] = 1
		}
	}
	states := waitFinal(t, c, n.APIKey, acked, expiry+15*time.Second)
	waitWebhooks(r, states, 15*time.Second)
	for i, a := range acked[1:] {
		if i%2 == 0 {
			t.Logf("faulted payment %d: %s", i/2+1, states[a.id])
		} else if states[a.id] != "approved" {
			t.Errorf("control payment %s after a fault: %s, want approved", a.id, states[a.id])
		}
	}
	p.stop(t)
	o := verify(t, n, dataDir, r, acked)
	files, bodies, hits := leakScan(t, n, r, nil, dataDir)
	t.Logf("RESULT plugin faults: %d fault cases (%d plugin-step pairs x 3 modes), %d payments, states %v: %d stuck, %d double-paid, %d ledger mismatches; daemon up throughout; leak scan: %d hits in %d files and %d webhook bodies",
		len(outcomes), len(cases), len(acked), o.States, o.Stuck, o.DoublePaid, o.Mismatched, hits, files, bodies)
}
