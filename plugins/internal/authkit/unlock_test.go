package authkit

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// stateFile writes an authenticator state file as switchd lays it out
// (<data>/plugins/ocra/bank_a/ocra.db) with alice locked and bob not.
func stateFile(t *testing.T) (dataDir, path string) {
	t.Helper()
	dataDir = t.TempDir()
	dir := filepath.Join(dataDir, "plugins", "ocra", "bank_a")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path = filepath.Join(dir, "ocra.db")
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second, NoFreelistSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(func(tx *bolt.Tx) error {
		b, _ := tx.CreateBucket([]byte("bank_a"))
		payers, _ := b.CreateBucket([]byte(PayersBucket))
		if err := payers.Put([]byte("alice"), []byte(`{"failures":5,"locked":true}`)); err != nil {
			return err
		}
		return payers.Put([]byte("bob"), []byte(`{"failures":2,"locked":false}`))
	}); err != nil {
		t.Fatal(err)
	}
	return dataDir, path
}

// recorded reports whether the file holds a lockout record for payer.
func recorded(t *testing.T, path, payer string) bool {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var ok bool
	db.View(func(tx *bolt.Tx) error {
		ok = tx.Bucket([]byte("bank_a")).Bucket([]byte(PayersBucket)).Get([]byte(payer)) != nil
		return nil
	})
	return ok
}

func TestUnlockMain(t *testing.T) {
	dataDir, path := stateFile(t)
	run := func(args ...string) (int, string) {
		var out, errOut bytes.Buffer
		code := UnlockMain("ocra", "ocra.db", args, &out, &errOut)
		return code, out.String() + errOut.String()
	}
	if code, out := run("--data-dir", dataDir, "--institution", "bank_a", "alice"); code != 0 || !strings.Contains(out, "alice at bank_a unlocked (was: 5 failures, locked true)") {
		t.Fatalf("unlock alice: %d %s", code, out)
	}
	if recorded(t, path, "alice") {
		t.Fatal("alice's lock is still in the file")
	}
	if !recorded(t, path, "bob") {
		t.Fatal("unlocking alice removed bob's record")
	}
	if code, out := run("--data-dir", dataDir, "--institution", "bank_a", "alice"); code != 0 || !strings.Contains(out, "nothing changed") {
		t.Fatalf("unlock alice again: %d %s", code, out)
	}
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no institution", []string{"--data-dir", dataDir, "alice"}, 2, "usage: ocra unlock"},
		{"no payer", []string{"--data-dir", dataDir, "--institution", "bank_a"}, 2, "usage: ocra unlock"},
		{"two payers", []string{"--data-dir", dataDir, "--institution", "bank_a", "alice", "bob"}, 2, "usage: ocra unlock"},
		{"unknown flag", []string{"--colour", "red", "alice"}, 2, "flag provided but not defined"},
		{"institution without a state dir", []string{"--data-dir", dataDir, "--institution", "bank_z", "--plugin", "ocra", "alice"}, 1, "no such file"},
		{"no state file", []string{"--data-dir", t.TempDir(), "--institution", "bank_a", "alice"}, 1, "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if code, out := run(tc.args...); code != tc.code || !strings.Contains(out, tc.want) {
				t.Fatalf("exit %d, want %d; output %q, want it to contain %q", code, tc.code, out, tc.want)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dataDir, "plugins", "ocra", "bank_z")); !os.IsNotExist(err) {
		t.Error("a failed unlock created a directory")
	}
}

func TestUnlockPayer(t *testing.T) {
	_, path := stateFile(t)
	t.Run("institution missing", func(t *testing.T) {
		if _, err := UnlockPayer(path, "bank_q", "alice"); err == nil || !strings.Contains(err.Error(), `institution "bank_q" has no state`) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("file in use", func(t *testing.T) {
		db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if _, err := UnlockPayer(path, "bank_a", "alice"); err == nil || !strings.Contains(err.Error(), "stop switchd first") {
			t.Fatalf("err = %v", err)
		}
	})
}
