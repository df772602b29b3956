// Package testbin builds the module's binaries (the daemon and plugins) for
// tests that need real subprocesses. Each binary is built once per test
// process, into a temporary directory, with the ordinary go build cache, so
// tests work from a clean clone without `make` having run first.
//
// A test process ends without cleanup (os.Exit, or a kill on timeout), so
// the directory is a tmpdir.Dir: the next test process that builds removes
// the directories of test processes that have exited. A run therefore
// leaves at most its own binaries behind, never an ever-growing pile.
// LaunchPlugin then starts a plugin binary the way the host does.
package testbin

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/switchd/switchd/internal/tmpdir"
)

var (
	mu    sync.Mutex
	dir   *tmpdir.Dir
	built = map[string]string{}
)

// ModuleRoot returns the directory holding go.mod.
func ModuleRoot() (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", fmt.Errorf("testbin: cannot locate source file")
	}
	return filepath.Abs(filepath.Join(filepath.Dir(file), "..", ".."))
}

// Build builds the main package at pkg (an import path or a path relative
// to the module root, such as "./plugins/card") and returns the binary's
// path. Repeated calls for the same package return the same binary.
func Build(pkg string, extraArgs ...string) (string, error) {
	mu.Lock()
	defer mu.Unlock()
	key := pkg + "\x00" + strings.Join(extraArgs, "\x00")
	if p, ok := built[key]; ok {
		return p, nil
	}
	if dir == nil {
		d, err := tmpdir.New("switchd-testbin-")
		if err != nil {
			return "", fmt.Errorf("testbin: %w", err)
		}
		dir = d
	}
	root, err := ModuleRoot()
	if err != nil {
		return "", err
	}
	name := filepath.Base(strings.TrimSuffix(pkg, "/"))
	out := filepath.Join(dir.Path(), fmt.Sprintf("%s-%d", name, len(built)))
	args := append([]string{"build", "-o", out}, extraArgs...)
	args = append(args, pkg)
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("testbin: go build %s: %w\n%s", pkg, err, b)
	}
	built[key] = out
	return out, nil
}

// MustBuild is Build that fails the test on error.
func MustBuild(tb testing.TB, pkg string, extraArgs ...string) string {
	tb.Helper()
	p, err := Build(pkg, extraArgs...)
	if err != nil {
		tb.Fatal(err)
	}
	return p
}
