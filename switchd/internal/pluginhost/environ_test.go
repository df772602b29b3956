package pluginhost_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

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
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", st[0].PID))
	if err != nil {
		t.Fatalf("cannot read the plugin's environment: %v", err)
	}
	env := map[string]string{}
	for _, kv := range strings.Split(strings.TrimRight(string(b), "\x00"), "\x00") {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	tests := []struct {
		key, want string
		present   bool
	}{
		{key: "SWITCHD_PLUGIN_LOG_LEVEL", want: "warn", present: true},
		{key: "GOMAXPROCS", want: "3", present: true},
		{key: "GOGC", want: "200", present: true},
		{key: "SWITCHD_TEST_SECRET", present: false},
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
