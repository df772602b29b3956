package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
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
	for _, plugin := range []string{"card", "merchantsig", "ocra"} {
		t.Run(plugin, func(t *testing.T) {
			before := e.pluginPID(t, plugin)
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
			if after := e.pluginPID(t, plugin); after == before || after == 0 {
				t.Fatalf("%s not restarted: pid %d -> %d", plugin, before, after)
			}
		})
	}
}

// pluginPID is the process id of plugin name, from the admin status.
func (e *env) pluginPID(t *testing.T, name string) int {
	t.Helper()
	admin := &client{base: "http://" + e.d.AdminAddr(), http: e.c.http}
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

// TestPluginProcessSettings: the daemon's plugin-gomaxprocs setting
// reaches every plugin process's environment (GOMAXPROCS), next to the
// GC target the host sets, and nothing of the daemon's own environment.
func TestPluginProcessSettings(t *testing.T) {
	t.Setenv("SWITCHD_E2E_SECRET", "do-not-leak")
	e := setup(t)
	for _, plugin := range []string{"card", "banktransfer", "merchantsig", "ocra"} {
		t.Run(plugin, func(t *testing.T) {
			b, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", e.pluginPID(t, plugin)))
			if err != nil {
				t.Fatal(err)
			}
			env := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
			for _, want := range []string{"GOMAXPROCS=2", "GOGC=200"} {
				if !slices.Contains(env, want) {
					t.Errorf("environment %q lacks %s", env, want)
				}
			}
			for _, kv := range env {
				if strings.HasPrefix(kv, "SWITCHD_E2E_SECRET=") {
					t.Errorf("the daemon's environment leaked into the plugin: %s", kv)
				}
			}
		})
	}
}
