package daemon

import (
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/switchd/switchd/config"
	"github.com/switchd/switchd/internal/servetest"
	"github.com/switchd/switchd/internal/testbin"
)

// startEmpty starts a daemon with no institutions, its listeners on
// ports the kernel picks, logging in format into the returned buffer; it
// is closed when the test ends.
func startEmpty(t *testing.T, format string) (*Daemon, *testbin.SyncBuffer) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "empty.hcl"), []byte("# no institutions yet\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	set, err := config.LoadSettings(nil)
	if err != nil {
		t.Fatal(err)
	}
	set.APIAddr, set.AdminAddr, set.LogFormat = "127.0.0.1:0", "127.0.0.1:0", format
	set.ConfigPath, set.DataDir = dir, filepath.Join(t.TempDir(), "data")
	out := new(testbin.SyncBuffer)
	d := New(set, NewLogger(set, out))
	if err := d.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d, out
}

// TestStartLogsBoundAddresses: with --api-addr and --admin-addr on port 0
// the kernel picks the ports, and the "switchd serving" line Start logs
// once it listens is how a process running `switchd serve` (an operator's
// supervisor, the reliability harness) learns them, in both log formats.
func TestStartLogsBoundAddresses(t *testing.T) {
	for _, format := range []string{"text", "json"} {
		t.Run(format, func(t *testing.T) {
			d, out := startEmpty(t, format)
			if strings.HasPrefix(out.String(), "{") != (format == "json") {
				t.Fatalf("the log is not in the %s format:\n%s", format, out.String())
			}
			api, admin, ok := servetest.ServingAddrs(out.String())
			if !ok {
				t.Fatalf("no complete \"switchd serving\" line in the log:\n%s", out.String())
			}
			if api != d.APIAddr() || admin != d.AdminAddr() {
				t.Fatalf("logged api %q admin %q, bound %q %q", api, admin, d.APIAddr(), d.AdminAddr())
			}
			for _, a := range []string{api, admin} {
				if _, port, err := net.SplitHostPort(a); err != nil || port == "0" {
					t.Fatalf("logged address %q is not a bound one", a)
				}
			}
			c := &http.Client{Timeout: 10 * time.Second}
			res, err := c.Get("http://" + admin + "/readyz")
			if err != nil || res.StatusCode != http.StatusOK {
				t.Fatalf("admin /readyz at the logged address: %v %v", res, err)
			}
			res.Body.Close()
			res, err = c.Get("http://" + api + "/v1/payments")
			if err != nil || res.StatusCode != http.StatusUnauthorized {
				t.Fatalf("public API at the logged address: %v %v", res, err)
			}
			res.Body.Close()
		})
	}
}
