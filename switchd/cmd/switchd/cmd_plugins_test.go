package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchd/switchd/internal/testbin"
	"github.com/switchd/switchd/switchd/internal/pluginhost"
)

// runPlugins runs `switchd plugins args...` and returns its output and
// error.
func runPlugins(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := newPluginsCmd()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String(), err
}

// copyPluginBinary copies the built test plugin pkg to dir/name.
func copyPluginBinary(t *testing.T, pkg, dir, name string) string {
	t.Helper()
	src, err := os.Open(testbin.MustBuild(t, pkg))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst := filepath.Join(dir, name)
	f, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(f, src); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return dst
}

func TestPluginsLockAndList(t *testing.T) {
	pluginDir, dataDir := t.TempDir(), t.TempDir()
	plugin := copyPluginBinary(t, "./switchd/internal/pluginhost/testdata/sample", pluginDir, "sample")
	// Not plugins: a README, a hidden file, a directory.
	if err := os.WriteFile(filepath.Join(pluginDir, "README"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(pluginDir, ".hidden"), []byte("x"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(pluginDir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	dirs := []string{"--plugin-dir", pluginDir, "--data-dir", dataDir}

	out, err := runPlugins(t, append([]string{"lock"}, dirs...)...)
	if err != nil {
		t.Fatalf("lock: %v\n%s", err, out)
	}
	sum, err := pluginhost.FileSHA256(plugin)
	if err != nil {
		t.Fatal(err)
	}
	lock, err := pluginhost.ReadLock(filepath.Join(dataDir, pluginhost.LockFileName))
	if err != nil {
		t.Fatal(err)
	}
	if len(lock) != 1 || lock["sample"] != (pluginhost.LockEntry{Name: "sample", Path: plugin, SHA256: sum}) {
		t.Fatalf("lock = %+v, want only sample pinned to %s", lock, sum)
	}

	t.Run("table", func(t *testing.T) {
		out, err := runPlugins(t, append([]string{"list"}, dirs...)...)
		if err != nil {
			t.Fatalf("list: %v\n%s", err, out)
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) != 2 || !strings.HasPrefix(lines[0], "NAME") {
			t.Fatalf("list output:\n%s", out)
		}
		for _, want := range []string{"sample", "1.2.3", "payment_method", sum, "ok"} {
			if !strings.Contains(lines[1], want) {
				t.Errorf("row %q lacks %q", lines[1], want)
			}
		}
	})
	t.Run("json", func(t *testing.T) {
		out, err := runPlugins(t, append([]string{"list", "--json"}, dirs...)...)
		if err != nil {
			t.Fatalf("list --json: %v\n%s", err, out)
		}
		// The JSON form, as a script reads it.
		type row struct {
			Name, Version, Path, SHA256 string
			Kinds                       []string
			Healthy                     bool
			PID                         *int
		}
		var rows []row
		if err := json.Unmarshal([]byte(out), &rows); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		want := row{Name: "sample", Version: "1.2.3", Kinds: []string{"payment_method"}, Path: plugin, SHA256: sum, Healthy: true}
		if len(rows) != 1 || rows[0].Name != want.Name || rows[0].Version != want.Version || rows[0].SHA256 != want.SHA256 ||
			!rows[0].Healthy || len(rows[0].Kinds) != 1 || rows[0].Kinds[0] != "payment_method" || rows[0].Path != want.Path ||
			rows[0].PID != nil || !strings.Contains(out, `"sha256"`) {
			t.Errorf("rows = %+v, want [%+v] (no pid: the listing's processes are gone)\n%s", rows, want, out)
		}
	})
	t.Run("tampered binary is refused and reported", func(t *testing.T) {
		f, err := os.OpenFile(plugin, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Write([]byte("tampered")); err != nil {
			t.Fatal(err)
		}
		f.Close()
		out, err := runPlugins(t, append([]string{"list"}, dirs...)...)
		if !errors.Is(err, errPluginsUnhealthy) {
			t.Fatalf("err = %v, want errPluginsUnhealthy\n%s", err, out)
		}
		if !strings.Contains(out, "FAIL") || !strings.Contains(out, "sha256 mismatch") {
			t.Errorf("output does not report the mismatch:\n%s", out)
		}
		if _, err := os.Stat(plugin + ".started"); err == nil {
			// The sample plugin ran for the earlier subtests; make sure
			// the tampered one did not add a start.
			b, _ := os.ReadFile(plugin + ".started")
			if n := strings.Count(string(b), "\n"); n != 2 {
				t.Errorf("plugin started %d times, want 2 (table and json only)", n)
			}
		}
	})
}

func TestPluginsErrors(t *testing.T) {
	empty := t.TempDir()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"lock: no executables", []string{"lock", "--plugin-dir", empty, "--data-dir", t.TempDir()}, "no plugin executables"},
		{"lock: missing dir", []string{"lock", "--plugin-dir", filepath.Join(empty, "nope"), "--data-dir", t.TempDir()}, "plugin dir"},
		{"list: no lock file", []string{"list", "--data-dir", empty}, "run `switchd plugins lock` first"},
		{"list: explicit lock file missing", []string{"list", "--lock-file", filepath.Join(empty, "x.hcl")}, "x.hcl"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := runPlugins(t, tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to contain %q\n%s", err, tt.want, out)
			}
		})
	}
}
