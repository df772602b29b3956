package tmpdir

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// childEnv makes the test binary act as a process that owns a directory:
// it creates one, prints its path and waits to be killed.
const childEnv = "TMPDIR_TEST_CHILD"

func TestMain(m *testing.M) {
	if prefix := os.Getenv(childEnv); prefix != "" {
		d, err := New(prefix)
		if err != nil {
			os.Stderr.WriteString(err.Error() + "\n")
			os.Exit(2)
		}
		os.Stdout.WriteString(d.Path() + "\n")
		select {}
	}
	os.Exit(m.Run())
}

// age makes path look a minute and a half old, past minAge.
func age(t *testing.T, path string) {
	t.Helper()
	old := time.Now().Add(-90 * time.Second)
	if err := os.Chtimes(path, old, old); err != nil {
		t.Fatal(err)
	}
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// TestKilledOwnersDirectoryIsSwept runs a real owner process, checks that
// a sweep leaves its directory alone while it lives, kills it with SIGKILL
// (so it runs no cleanup) and checks that the next sweep removes it.
func TestKilledOwnersDirectoryIsSwept(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=owned-")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("child printed no path: %v", err)
	}
	path := strings.TrimSpace(line)
	if !strings.HasPrefix(filepath.Base(path), "owned-") || !exists(path) {
		t.Fatalf("child's directory %q does not exist or is misnamed", path)
	}
	if err := os.WriteFile(filepath.Join(path, "binary"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	age(t, path)

	Sweep("owned-")
	if !exists(path) {
		t.Fatal("a sweep removed the directory of a live owner")
	}

	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	Sweep("owned-")
	if exists(path) {
		t.Fatal("the directory of a killed owner survived a sweep")
	}
}

// TestSweepRules covers what a sweep keeps: other prefixes, directories
// of this process, and unlocked directories too young to judge; and what
// it removes: an old directory without a lock file.
func TestSweepRules(t *testing.T) {
	root := t.TempDir()
	t.Setenv("TMPDIR", root)

	mine, err := New("rules-")
	if err != nil {
		t.Fatal(err)
	}
	defer mine.Remove()
	age(t, mine.Path())

	legacy := filepath.Join(root, "rules-legacy")
	young := filepath.Join(root, "rules-young")
	other := filepath.Join(root, "other-old")
	for _, p := range []string{legacy, young, other} {
		if err := os.Mkdir(p, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	age(t, legacy)
	age(t, other)

	Sweep("rules-")
	for _, keep := range []string{mine.Path(), young, other} {
		if !exists(keep) {
			t.Errorf("sweep removed %s", keep)
		}
	}
	if exists(legacy) {
		t.Errorf("sweep kept %s, an old directory with no lock file", legacy)
	}
}

func TestRemove(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	d, err := New("remove-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(d.Path(), "f"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := d.Remove(); err != nil {
		t.Fatal(err)
	}
	if exists(d.Path()) {
		t.Fatal("Remove left the directory")
	}
	if err := d.Remove(); err != nil {
		t.Fatalf("second Remove: %v", err)
	}
}

func TestNewRefusesBadPrefix(t *testing.T) {
	for _, p := range []string{"", "a/b"} {
		if _, err := New(p); err == nil {
			t.Errorf("New(%q) succeeded", p)
		}
	}
}
