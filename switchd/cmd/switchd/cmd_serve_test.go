package main

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/switchd/switchd/internal/servetest"
	"github.com/switchd/switchd/internal/testbin"
	"github.com/switchd/switchd/switchd/internal/daemon"
)

func TestServeRejectsBadInput(t *testing.T) {
	dir := t.TempDir()
	broken := filepath.Join(dir, "broken")
	os.MkdirAll(broken, 0o700)
	os.WriteFile(filepath.Join(broken, "net.hcl"), []byte("institution \"x\" {\n  colour = 1\n}\n"), 0o600)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"missing config", []string{"--config", filepath.Join(dir, "nope"), "--data-dir", filepath.Join(dir, "d1")}, "nope"},
		{"broken config", []string{"--config", broken, "--data-dir", filepath.Join(dir, "d2")}, "colour"},
		{"bad setting", []string{"--log-format", "xml", "--data-dir", filepath.Join(dir, "d3")}, "log-format"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := newServeCmd()
			var out bytes.Buffer
			cmd.SetOut(&out)
			cmd.SetErr(&out)
			// Port 0: bad input fails before anything listens.
			args := append([]string{"--api-addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0"}, tc.args...)
			cmd.SetArgs(args)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			err := cmd.ExecuteContext(ctx)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.want)
			}
		})
	}
}

// TestServeRunsAndStops serves an empty network (no banks yet): the
// listeners answer, and cancelling the context stops serve cleanly.
func TestServeRunsAndStops(t *testing.T) {
	keepGCPercent(t)
	t.Setenv("GOGC", "")
	debug.SetGCPercent(100)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "empty.hcl"), []byte("# no institutions yet\n"), 0o600)
	cmd := newServeCmd()
	var out testbin.SyncBuffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	// Port 0: the kernel picks free ports at bind time, and serve logs
	// them in its "switchd serving" line (JSON here; servetest reads both
	// formats).
	cmd.SetArgs([]string{"--config", dir, "--data-dir", filepath.Join(dir, "data"),
		"--api-addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0", "--log-format", "json"})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var serveErr error // serve's result, once exited is closed
	exited := make(chan struct{})
	go func() { serveErr = cmd.ExecuteContext(ctx); close(exited) }()
	api, admin, err := servetest.WaitServing(out.String, exited, 20*time.Second)
	if errors.Is(err, servetest.ErrExited) {
		t.Fatalf("serve ended early: %v\n%s", serveErr, out.String())
	}
	if err != nil {
		t.Fatalf("%v:\n%s", err, out.String())
	}
	// The line is logged once serve listens and is ready.
	res, err := http.Get("http://" + admin + "/readyz")
	if err != nil {
		t.Fatalf("admin API: %v", err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("/readyz: %d after the serving line", res.StatusCode)
	}
	if got := gcPercent(); got != daemon.GCPercent {
		t.Errorf("serve runs with GOGC %d, want %d", got, daemon.GCPercent)
	}
	res, err = http.Get("http://" + api + "/v1/payments")
	if err != nil || res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("public API: %v %v", res, err)
	}
	res.Body.Close()
	cancel()
	select {
	case <-exited:
		if serveErr != nil {
			t.Fatalf("serve: %v", serveErr)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not stop")
	}
	if _, err := os.Stat(filepath.Join(dir, "data", "switchd.db")); err != nil {
		t.Fatalf("no database: %v", err)
	}
}

// TestServeGCPercent: serve runs the garbage collector at GOGC=200 unless
// the operator set GOGC, which wins.
func TestServeGCPercent(t *testing.T) {
	keepGCPercent(t)
	for _, tc := range []struct {
		name    string
		env     string
		runtime int // what the runtime made of env at start
		want    int
	}{
		{"unset", "", 100, daemon.GCPercent},
		{"operator's 100", "100", 100, 100},
		{"operator's 50", "50", 50, 50},
		{"operator's off", "off", -1, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("GOGC", tc.env)
			debug.SetGCPercent(tc.runtime)
			if got := daemon.TuneGC(); got != tc.want {
				t.Errorf("TuneGC() = %d, want %d", got, tc.want)
			}
			if got := gcPercent(); got != tc.want {
				t.Errorf("GC percent %d, want %d", got, tc.want)
			}
		})
	}
}

// gcPercent is the garbage collector's current target.
func gcPercent() int {
	p := debug.SetGCPercent(100)
	debug.SetGCPercent(p)
	return p
}

// keepGCPercent restores the test process's GC target after t.
func keepGCPercent(t *testing.T) {
	p := gcPercent()
	t.Cleanup(func() { debug.SetGCPercent(p) })
}
