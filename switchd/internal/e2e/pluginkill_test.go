package e2e

import (
	"encoding/json"
	"net/http"
	"syscall"
	"testing"
	"time"
)

// TestPluginCrashMidFlow kills plugin processes with SIGKILL between and
// during payments: the host restarts them (replaying their settings) and
// the engine's one retry carries the payment through.
func TestPluginCrashMidFlow(t *testing.T) {
	e := setup(t)
	bk := e.n.Banks[0]
	admin := &client{base: "http://" + e.d.AdminAddr(), http: e.c.http}
	pid := func(name string) int {
		st, b, err := admin.do("GET", "/v1/admin/status", "", nil, nil)
		if err != nil || st != http.StatusOK {
			t.Fatalf("status: %d %v", st, err)
		}
		var s struct {
			Plugins []struct {
				Name string
				PID  int
			}
		}
		if err := json.Unmarshal(b, &s); err != nil {
			t.Fatal(err)
		}
		for _, p := range s.Plugins {
			if p.Name == name {
				return p.PID
			}
		}
		t.Fatalf("no plugin %s in %s", name, b)
		return 0
	}
	for _, plugin := range []string{"card", "merchantsig", "ocra"} {
		t.Run(plugin, func(t *testing.T) {
			before := pid(plugin)
			if before == 0 {
				t.Fatal("no pid")
			}
			st, cr, _, _ := e.c.create("shop", e.n.APIKey, createReq("shop", 150, "kill-"+plugin, time.Now().Add(10*time.Minute), e.n.SellerKey), "")
			if st != http.StatusCreated {
				t.Fatal(st)
			}
			if err := syscall.Kill(before, syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			state, code, err := e.c.pay(cr.PayToken, cardChoice(bk.PAN), bk.OCRAKeys["alice"])
			if err != nil || state != "approved" {
				t.Fatalf("payment after killing %s: %s %s %v", plugin, state, code, err)
			}
			if after := pid(plugin); after == before || after == 0 {
				t.Fatalf("%s not restarted: pid %d -> %d", plugin, before, after)
			}
		})
	}
}
