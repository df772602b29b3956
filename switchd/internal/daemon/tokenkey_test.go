package daemon

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestTokenKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "token.key")
	k1, err := loadTokenKey(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 || fi.Size() != tokenKeySize {
		t.Fatalf("key file: %v %v", fi, err)
	}
	k2, err := loadTokenKey(path)
	if err != nil || !bytes.Equal(k1, k2) {
		t.Fatalf("second start read another key (%v)", err)
	}
	if err := os.WriteFile(path, []byte("short"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := loadTokenKey(path); err == nil {
		t.Fatal("a truncated key was accepted")
	}
}
