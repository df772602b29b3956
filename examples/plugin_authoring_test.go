package examples_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// goIn runs the go command in dir and fails the test with its output.
func goIn(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	// The nested module resolves switchd through its replace directive; a
	// go.work from outside would override it. A missing go.sum entry fails
	// the build, so go.sum is checked to be complete.
	cmd.Env = append(os.Environ(), "GOWORK=off")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go %s in %s: %v\n%s", strings.Join(args, " "), dir, err, out)
	}
	return string(out)
}

// TestPluginAuthoring builds, vets and tests the plugin-authoring example
// from its own folder, as a bank engineer would: the proof that code
// outside the switchd module can build a plugin on the public SDK.
func TestPluginAuthoring(t *testing.T) {
	const dir = "plugin-authoring"
	goIn(t, dir, "build", "-o", t.TempDir()+"/acmeauth", ".")
	goIn(t, dir, "vet", "./...")
	args := []string{"test", "-count=1", "./..."}
	if testing.Short() {
		args = append(args, "-short")
	}
	out := goIn(t, dir, args...)
	for _, pkg := range []string{"example.com/acmebank-auth\t", "example.com/acmebank-auth/acmeauth\t"} {
		if !strings.Contains(out, "ok  \t"+pkg) {
			t.Errorf("go test did not pass %s:\n%s", strings.TrimSpace(pkg), out)
		}
	}
}
