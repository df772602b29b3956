package pluginhost_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchd/switchd/switchd/internal/pluginhost"
)

func TestLockRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), pluginhost.LockFileName)
	a, b := strings.Repeat("a", 64), strings.Repeat("0b", 32)
	in := []pluginhost.LockEntry{
		{Name: "ocra", Path: "/opt/switchd/plugins/ocra", SHA256: b},
		{Name: "card", Path: "/opt/switchd/plugins/card", SHA256: a},
	}
	if err := pluginhost.WriteLock(path, in); err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(src), `plugin "card" {`) {
		t.Errorf("lock file not sorted by name:\n%s", src)
	}
	got, err := pluginhost.ReadLock(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got["card"] != in[1] || got["ocra"] != in[0] {
		t.Errorf("ReadLock = %+v, want %+v", got, in)
	}
}

func TestWriteLockRejectsBadEntries(t *testing.T) {
	good := strings.Repeat("a", 64)
	tests := []struct {
		name    string
		entries []pluginhost.LockEntry
		want    string
	}{
		{"no name", []pluginhost.LockEntry{{Path: "/x", SHA256: good}}, "no name"},
		{"duplicate", []pluginhost.LockEntry{{Name: "x", SHA256: good}, {Name: "x", SHA256: good}}, "duplicate"},
		{"short digest", []pluginhost.LockEntry{{Name: "x", SHA256: "abc"}}, "64 lower-case hex"},
		{"upper-case digest", []pluginhost.LockEntry{{Name: "x", SHA256: strings.ToUpper(good)}}, "64 lower-case hex"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "lock.hcl")
			err := pluginhost.WriteLock(path, tt.entries)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
			if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("a rejected lock was written (%v)", err)
			}
		})
	}
}

func TestReadLockRejectsBadFiles(t *testing.T) {
	good := strings.Repeat("a", 64)
	tests := []struct {
		name, src, want string
	}{
		{"syntax", `plugin "x" {`, "lock file"},
		{"unknown attribute", `plugin "x" {
  path = "/x"
  sha256 = "` + good + `"
  extra = 1
}`, "extra"},
		{"bad digest", `plugin "x" {
  path = "/x"
  sha256 = "xyz"
}`, `plugin "x"`},
		{"duplicate", `plugin "x" {
  path = "/x"
  sha256 = "` + good + `"
}
plugin "x" {
  path = "/y"
  sha256 = "` + good + `"
}`, "duplicate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "lock.hcl")
			if err := os.WriteFile(path, []byte(tt.src), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := pluginhost.ReadLock(path); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
	if _, err := pluginhost.ReadLock(filepath.Join(t.TempDir(), "none")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: err = %v, want ErrNotExist", err)
	}
}

func TestPinnedSHA256(t *testing.T) {
	a, b := strings.Repeat("a", 64), strings.Repeat("b", 64)
	lock := map[string]pluginhost.LockEntry{"card": {Name: "card", SHA256: a}}
	tests := []struct {
		name, plugin, configured string
		want                     string
		wantErr                  error
	}{
		{"lock file only", "card", "", a, nil},
		{"configuration only", "ocra", b, b, nil},
		{"both agree", "card", a, a, nil},
		{"configuration in upper case", "card", strings.ToUpper(a), a, nil},
		{"both disagree", "card", b, "", pluginhost.ErrLockMismatch},
		{"neither", "ocra", "", "", pluginhost.ErrNotPinned},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := pluginhost.PinnedSHA256(tt.plugin, tt.configured, lock)
			if !errors.Is(err, tt.wantErr) || got != tt.want {
				t.Fatalf("= %q, %v; want %q, %v", got, err, tt.want, tt.wantErr)
			}
			if errors.Is(err, pluginhost.ErrLockMismatch) && (!strings.Contains(err.Error(), a) || !strings.Contains(err.Error(), b)) {
				t.Errorf("err = %q, want both digests", err)
			}
		})
	}
}

func TestPinnedBlocksReadBackAsLock(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	if err := os.WriteFile(a, []byte("binary a"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(b, []byte("binary b"), 0o755); err != nil {
		t.Fatal(err)
	}
	data, err := pluginhost.PinnedBlocks(map[string]string{"a": a, "b": b, "unused": "/nonexistent"}, []string{"b", "a"})
	if err != nil {
		t.Fatal(err)
	}
	lock := filepath.Join(dir, "plugins.lock.hcl")
	if err := os.WriteFile(lock, data, 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := pluginhost.ReadLock(lock)
	if err != nil {
		t.Fatal(err)
	}
	wantA, _ := pluginhost.FileSHA256(a)
	if len(got) != 2 || got["a"].SHA256 != wantA || got["b"].Path != b {
		t.Fatalf("read back %+v", got)
	}
	if _, err := pluginhost.PinnedBlocks(map[string]string{}, []string{"missing"}); err == nil {
		t.Fatal("pinning a missing binary succeeded")
	}
}
