package examples_test

import (
	"crypto/rand"
	"encoding/hex"
	"os/exec"
	"strings"
	"testing"
)

// TestDockerfile builds the root Dockerfile and checks that the image's
// own plugins, lock file and bundled quickstart network validate. It needs
// a running Docker engine and is skipped, saying so, without one.
func TestDockerfile(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a Docker image")
	}
	if _, err := exec.LookPath("docker"); err != nil {
		t.Skip("docker is not installed: the Dockerfile was not built")
	}
	if out, err := exec.Command("docker", "info").CombinedOutput(); err != nil {
		t.Skipf("no Docker engine (docker info: %v): the Dockerfile was not built\n%s", err, out)
	}
	b := make([]byte, 6)
	rand.Read(b)
	tag := "switchd-dockerfile-test:" + hex.EncodeToString(b)
	build := exec.Command("docker", "build", "-t", tag, ".")
	build.Dir = ".."
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("docker build: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command("docker", "rmi", "-f", tag).Run() })

	out, err := exec.Command("docker", "run", "--rm", "--entrypoint", "switchd", tag,
		"validate", "--no-color", "--plugin-dir", "/usr/lib/switchd/plugins", "--lock-file", "/etc/switchd/plugins.lock.hcl",
		"/etc/switchd/network").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "valid") {
		t.Fatalf("validate inside the image: %v\n%s", err, out)
	}
	out, err = exec.Command("docker", "run", "--rm", "--entrypoint", "id", tag, "-u").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) == "0" {
		t.Fatalf("the image runs as root (id -u: %s, %v)", out, err)
	}
}
