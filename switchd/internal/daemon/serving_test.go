package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchd/switchd/config"
)

// syncBuffer is a bytes.Buffer safe for the daemon's goroutines to log to
// while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestStartLogsBoundAddresses: with --api-addr and --admin-addr on port 0
// the kernel picks the ports, and the "switchd serving" line Start logs
// once it listens is how a process running `switchd serve` (an operator's
// supervisor, the reliability harness) learns them, in both log formats.
func TestStartLogsBoundAddresses(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "empty.hcl"), []byte("# no institutions yet\n"), 0o600)
	for _, tc := range []struct {
		format string
		// addrs extracts api and admin from the "switchd serving" line.
		addrs func(t *testing.T, line string) (string, string)
	}{
		{"text", func(t *testing.T, line string) (string, string) {
			var api, admin string
			for _, f := range strings.Fields(line) {
				if v, ok := strings.CutPrefix(f, "api="); ok {
					api = v
				}
				if v, ok := strings.CutPrefix(f, "admin="); ok {
					admin = v
				}
			}
			return api, admin
		}},
		{"json", func(t *testing.T, line string) (string, string) {
			var v struct{ API, Admin string }
			if err := json.Unmarshal([]byte(line), &v); err != nil {
				t.Fatalf("%v: %s", err, line)
			}
			return v.API, v.Admin
		}},
	} {
		t.Run(tc.format, func(t *testing.T) {
			set, err := config.LoadSettings(nil)
			if err != nil {
				t.Fatal(err)
			}
			set.APIAddr, set.AdminAddr, set.LogFormat = "127.0.0.1:0", "127.0.0.1:0", tc.format
			set.ConfigPath, set.DataDir = dir, filepath.Join(t.TempDir(), "data")
			var out syncBuffer
			d := New(set, NewLogger(set, &out))
			if err := d.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			var line string
			for _, l := range strings.Split(out.String(), "\n") {
				if strings.Contains(l, "switchd serving") {
					line = l
				}
			}
			if line == "" {
				t.Fatalf("no \"switchd serving\" line in the log:\n%s", out.String())
			}
			api, admin := tc.addrs(t, line)
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
