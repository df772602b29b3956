package e2e

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func (e *env) reload(t *testing.T) (int, string) {
	t.Helper()
	admin := &client{base: "http://" + e.d.AdminAddr(), http: e.c.http}
	st, b, err := admin.do("POST", "/v1/admin/reload", "", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return st, string(b)
}

// background pays through bank_a continuously until stop is closed and
// reports how many payments were approved and how many failed.
func (e *env) background(t *testing.T, stop <-chan struct{}) (wait func() (ok, bad int64)) {
	var okN, badN atomic.Int64
	var wg sync.WaitGroup
	bk := e.n.Banks[0]
	for w := 0; w < 2; w++ {
		wg.Add(1)
		prefix := "bg-" + randHex(4) + "-"
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				st, cr, _, err := e.c.create("shop", e.n.APIKey, createReq("shop", 100, prefix+strconv.Itoa(i), time.Now().Add(10*time.Minute), e.n.SellerKey), "")
				if err != nil || st != http.StatusCreated {
					badN.Add(1)
					continue
				}
				if state, _, err := e.c.pay(cr.PayToken, cardChoice(bk.PAN), bk.OCRAKeys["alice"]); err != nil || state != "approved" {
					t.Logf("background payment: %s %v", state, err)
					badN.Add(1)
					continue
				}
				okN.Add(1)
			}
		}()
	}
	return func() (int64, int64) { wg.Wait(); return okN.Load(), badN.Load() }
}

// TestReloadOnboardsBank adds a bank by reload while payments run, then
// pays through it by card and by bank transfer.
func TestReloadOnboardsBank(t *testing.T) {
	e := setup(t)
	bc := newBank("bank_c", "Bank C", "3003", "5222")
	stop := make(chan struct{})
	wait := e.background(t, stop)

	// Before the reload bank C's card is unroutable.
	st, cr, _, _ := e.c.create("shop", e.n.APIKey, createReq("shop", 500, "c-0", time.Now().Add(10*time.Minute), e.n.SellerKey), "")
	if st != http.StatusCreated {
		t.Fatal(st)
	}
	st, b, _ := e.c.payer(cr.PayToken, "/method", cardChoice(bc.PAN))
	if st == http.StatusOK || !strings.Contains(string(b), "unroutable") {
		t.Fatalf("before reload: %d %s", st, b)
	}

	e.n.writeBank(t, bc)
	if st, body := e.reload(t); st != http.StatusOK {
		t.Fatalf("reload: %d %s", st, body)
	}
	for _, choice := range []map[string]any{cardChoice(bc.PAN), accountChoice(bc.BankCode, bc.Account)} {
		st, cr, _, _ := e.c.create("shop", e.n.APIKey, createReq("shop", 700, "c-1", time.Now().Add(10*time.Minute), e.n.SellerKey), "")
		if st != http.StatusCreated {
			t.Fatal(st)
		}
		state, code, err := e.c.pay(cr.PayToken, choice, bc.OCRAKeys["alice"])
		if err != nil || state != "approved" {
			t.Fatalf("payment through the new bank: %s %s %v", state, code, err)
		}
		e.r.WaitFor(t, cr.ID, "payment.approved", hookWait)
	}
	// The payment created before the reload can now be routed too.
	if state, _, err := e.c.pay(cr.PayToken, cardChoice(bc.PAN), bc.OCRAKeys["alice"]); err != nil || state != "approved" {
		t.Fatalf("payment created before the reload: %s %v", state, err)
	}
	time.Sleep(300 * time.Millisecond)
	close(stop)
	ok, bad := wait()
	if ok == 0 || bad != 0 {
		t.Fatalf("background payments across the reload: %d approved, %d failed", ok, bad)
	}
}

// TestBrokenReload rejects configurations with HCL errors and with
// settings a plugin refuses; the old configuration keeps serving.
func TestBrokenReload(t *testing.T) {
	e := setup(t)
	bd := newBank("bank_d", "Bank D", "4004", "5333")
	for _, tc := range []struct {
		name  string
		write func()
		want  string
	}{
		{"HCL error", func() {
			e.n.write(t, "broken.hcl", "institution \"bank_x\" {\n  roles = [\"issuer\"]\n  colour = \"red\"\n}\n")
		}, "colour"},
		{"plugin refuses its settings", func() {
			e.n.writeBank(t, bd)
			// An OCRA key that is not hex: the config layer accepts the
			// string, the ocra plugin refuses it at Configure.
			os.WriteFile(filepath.Join(e.n.Dir, "secrets", "bank_d_alice"), []byte("not-a-hex-key"), 0o600)
		}, "bank_d"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stop := make(chan struct{})
			wait := e.background(t, stop)
			tc.write()
			st, body := e.reload(t)
			var p struct {
				Code        string `json:"code"`
				Diagnostics string `json:"diagnostics"`
			}
			json.Unmarshal([]byte(body), &p)
			if st == http.StatusOK || !strings.Contains(p.Diagnostics, tc.want) {
				t.Fatalf("reload: %d %s", st, body)
			}
			close(stop)
			ok, bad := wait()
			if bad != 0 {
				t.Fatalf("%d payments failed around the broken reload (%d approved)", bad, ok)
			}
			// The old configuration still serves: bank D is unknown.
			_, cr, _, _ := e.c.create("shop", e.n.APIKey, createReq("shop", 500, "d", time.Now().Add(10*time.Minute), e.n.SellerKey), "")
			if st, b, _ := e.c.payer(cr.PayToken, "/method", cardChoice(bd.PAN)); st == http.StatusOK || !strings.Contains(string(b), "unroutable") {
				t.Fatalf("bank D routable after a rejected reload: %d %s", st, b)
			}
			os.Remove(filepath.Join(e.n.Dir, "broken.hcl"))
			os.Remove(filepath.Join(e.n.Dir, "bank_d.hcl"))
		})
	}
	// A rejected reload that had already reconfigured an earlier
	// institution (bank_a: new keys, a credit limit of 1) restores that
	// institution's previous settings: a card payment through bank_a still
	// works, with its old keys and limit.
	t.Run("rollback of earlier institutions", func(t *testing.T) {
		orig := *e.n.Banks[0]
		changed := orig
		changed.CreditLimit = 1
		e.n.writeBank(t, &changed)
		e.n.writeBank(t, bd)
		os.WriteFile(filepath.Join(e.n.Dir, "secrets", "bank_d_alice"), []byte("not-a-hex-key"), 0o600)
		if st, body := e.reload(t); st == http.StatusOK {
			t.Fatalf("reload: %d %s", st, body)
		}
		st, cr, _, _ := e.c.create("shop", e.n.APIKey, createReq("shop", 4200, "rb", time.Now().Add(10*time.Minute), e.n.SellerKey), "")
		if st != http.StatusCreated {
			t.Fatal(st)
		}
		if state, code, err := e.c.pay(cr.PayToken, cardChoice(orig.PAN), orig.OCRAKeys["alice"]); err != nil || state != "approved" {
			t.Fatalf("payment after the rejected reload: %s %s %v", state, code, err)
		}
		os.Remove(filepath.Join(e.n.Dir, "bank_d.hcl"))
	})
	// After fixing the files a reload succeeds again.
	if st, body := e.reload(t); st != http.StatusOK {
		t.Fatalf("reload after fixing: %d %s", st, body)
	}
}
