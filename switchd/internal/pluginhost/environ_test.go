package pluginhost_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/switchd/switchd/switchd/internal/pluginhost"
)

// TestPluginEnvironment checks what a plugin process sees: none of the
// daemon's environment, the log level, and the Go runtime settings the
// host chooses for plugins (GOGC=200, GOMAXPROCS from the Options or
// DefaultPluginProcs).
func TestPluginEnvironment(t *testing.T) {
	t.Setenv("SWITCHD_TEST_SECRET", "do-not-leak")
	h, _ := mustStartSample(t, pluginhost.Options{LogLevel: "warn", GOMAXPROCS: 3})
	st := h.Status(context.Background())
	if len(st) != 1 || st[0].PID == 0 {
		t.Fatalf("status %+v", st)
	}
	env := processEnv(t, st[0].PID)
	tests := []struct {
		key, want string
		present   bool
	}{
		{key: "SWITCHD_PLUGIN_LOG_LEVEL", want: "warn", present: true},
		{key: "GOMAXPROCS", want: "3", present: true},
		{key: "GOGC", want: "200", present: true},
		{key: "SWITCHD_TEST_SECRET", present: false},
		{key: "SWITCHD_PLUGIN_CPUPROFILE", present: false}, // only when profiling
		{key: "PATH", present: false},
		{key: "HOME", present: false},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			v, ok := env[tt.key]
			if ok != tt.present || v != tt.want {
				t.Errorf("%s = %q (set: %v), want %q (set: %v)", tt.key, v, ok, tt.want, tt.present)
			}
		})
	}
}

// processEnv reads the environment of process pid.
func processEnv(t *testing.T, pid int) map[string]string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	if err != nil {
		t.Fatalf("cannot read the plugin's environment: %v", err)
	}
	env := map[string]string{}
	for _, kv := range strings.Split(strings.TrimRight(string(b), "\x00"), "\x00") {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	return env
}

// TestPluginSocketDirectory: each plugin process gets a private directory
// for its gRPC socket (mode 0700, under the temporary directory), and the
// host removes it once the process has exited, whether it was killed or
// closed. Without this, every killed plugin left a socket file in /tmp.
func TestPluginSocketDirectory(t *testing.T) {
	h, _ := mustStartSample(t, pluginhost.Options{})
	configure(t, h, "bank-a", "hello a")
	m, err := h.PaymentMethod("sample")
	if err != nil {
		t.Fatal(err)
	}
	socketDir := func(pid int) string {
		t.Helper()
		dir := processEnv(t, pid)["PLUGIN_UNIX_SOCKET_DIR"]
		if filepath.Dir(dir) != filepath.Clean(os.TempDir()) || !strings.HasPrefix(filepath.Base(dir), "switchd-plugin-") {
			t.Fatalf("PLUGIN_UNIX_SOCKET_DIR = %q, want a switchd-plugin- directory in %s", dir, os.TempDir())
		}
		info, err := os.Stat(dir)
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode().Perm() != 0o700 {
			t.Errorf("%s has mode %v, want 0700", dir, info.Mode().Perm())
		}
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		sockets := 0
		for _, e := range entries {
			if e.Type()&os.ModeSocket != 0 {
				sockets++
			}
		}
		if sockets == 0 {
			t.Errorf("%s holds no socket: %v", dir, entries)
		}
		return dir
	}
	gone := func(dir, after string) {
		t.Helper()
		within(t, 5*time.Second, func() bool {
			for {
				if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
					return true
				}
				time.Sleep(10 * time.Millisecond)
			}
		})
		t.Logf("%s removed after %s", dir, after)
	}

	pid := samplePID(t, h)
	first := socketDir(pid)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	gone(first, "SIGKILL")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if got, err := resolveAfterCrash(ctx, m, "bank-a", "ok"); err != nil || got != "hello a" {
		t.Fatalf("after restart: %q, %v", got, err)
	}
	second := socketDir(samplePID(t, h))
	if second == first {
		t.Fatalf("the restarted plugin reuses %s", first)
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	gone(second, "Close")
}

// TestStatusJSON: the admin status shows a plugin with the field names of
// `switchd plugins list --json`, kinds by name, and the PID.
func TestStatusJSON(t *testing.T) {
	h, _ := mustStartSample(t, pluginhost.Options{})
	st := h.Status(context.Background())
	if len(st) != 1 {
		t.Fatalf("status %+v", st)
	}
	b, err := json.Marshal(st[0])
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"name", "version", "kinds", "path", "sha256", "healthy", "pid", "restarts"} {
		if _, ok := got[key]; !ok {
			t.Errorf("status JSON %s lacks %q", b, key)
		}
	}
	if _, ok := got["message"]; ok {
		t.Errorf("status JSON %s has an empty message", b)
	}
	kinds, _ := got["kinds"].([]any)
	if len(kinds) == 0 || kinds[0] != pluginhost.KindName(st[0].Kinds[0]) || strings.HasPrefix(kinds[0].(string), "KIND_") {
		t.Errorf("kinds %v, want names like %q", got["kinds"], pluginhost.KindName(st[0].Kinds[0]))
	}
	if pid, _ := got["pid"].(float64); int(pid) != st[0].PID || st[0].PID == 0 {
		t.Errorf("pid %v, want %d", got["pid"], st[0].PID)
	}
	var back pluginhost.Status
	if err := json.Unmarshal(b, &back); err != nil || !reflect.DeepEqual(back, st[0]) {
		t.Errorf("round trip: %+v %v, want %+v", back, err, st[0])
	}
	if err := json.Unmarshal([]byte(`{"name":"x","kinds":["teleporter"]}`), &back); err == nil {
		t.Error("an unknown kind was accepted")
	}
}

// TestPluginCPUProfile: with CPUProfileDir set, each plugin process writes
// its CPU profile there when the host stops it (a gzipped pprof file), and
// a restarted plugin writes a second one.
func TestPluginCPUProfile(t *testing.T) {
	dir := t.TempDir()
	h, _ := mustStartSample(t, pluginhost.Options{LogLevel: "warn", CPUProfileDir: dir})
	st := h.Status(context.Background())
	if len(st) != 1 || st[0].PID == 0 {
		t.Fatalf("status %+v", st)
	}
	want := filepath.Join(dir, "sample.1.pprof")
	if got, ok := processEnv(t, st[0].PID)["SWITCHD_PLUGIN_CPUPROFILE"]; !ok || got != want {
		t.Fatalf("plugin environment lacks SWITCHD_PLUGIN_CPUPROFILE=%s", want)
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	prof, err := os.ReadFile(filepath.Join(dir, "sample.1.pprof"))
	if err != nil {
		t.Fatalf("no profile after the host stopped the plugin: %v", err)
	}
	if len(prof) < 2 || prof[0] != 0x1f || prof[1] != 0x8b {
		t.Fatalf("profile is not a gzipped pprof file (%d bytes)", len(prof))
	}
}
