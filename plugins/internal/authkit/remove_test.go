package authkit

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// TestOpenStopped: the operator commands' open never creates a file, and
// says "stop switchd first" (ErrInUse) while the plugin holds the file.
func TestOpenStopped(t *testing.T) {
	_, path := stateFile(t)
	t.Run("missing file is not created", func(t *testing.T) {
		missing := filepath.Join(t.TempDir(), "ocra.db")
		if _, err := OpenStopped(missing); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("err = %v, want fs.ErrNotExist", err)
		}
		if _, err := os.Stat(missing); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("OpenStopped created %s", missing)
		}
	})
	t.Run("in use", func(t *testing.T) {
		held, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		defer held.Close()
		_, err = OpenStopped(path)
		if !errors.Is(err, ErrInUse) || err.Error() != path+" is in use: stop switchd first" {
			t.Fatalf("err = %v, want %q", err, path+" is in use: stop switchd first")
		}
	})
	t.Run("stopped", func(t *testing.T) {
		db, err := OpenStopped(path)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if err := db.View(func(tx *bolt.Tx) error {
			if tx.Bucket([]byte("bank_a")) == nil {
				return errors.New("bucket bank_a missing")
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	})
}

func TestParseOperatorArgs(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want OperatorArgs
		ok   bool
		out  string
	}{
		{"defaults", []string{"--institution", "bank_b", "bob"},
			OperatorArgs{Path: filepath.Join("data", "plugins", "passkey", "bank_b", "passkey.db"), Institution: "bank_b", PayerRef: "bob"}, true, ""},
		{"data dir and plugin block name", []string{"--data-dir", "/srv/switchd", "--institution", "bank_b", "--plugin", "pk2", "bob"},
			OperatorArgs{Path: filepath.Join("/srv/switchd", "plugins", "pk2", "bank_b", "passkey.db"), Institution: "bank_b", PayerRef: "bob"}, true, ""},
		{"no institution", []string{"bob"}, OperatorArgs{}, false, "usage: passkey remove --data-dir DIR --institution ID [--plugin NAME] PAYER_REF\n\nRemoves things."},
		{"no payer", []string{"--institution", "bank_b"}, OperatorArgs{}, false, "usage: passkey remove"},
		{"empty payer", []string{"--institution", "bank_b", ""}, OperatorArgs{}, false, "usage: passkey remove"},
		{"two payers", []string{"--institution", "bank_b", "bob", "carol"}, OperatorArgs{}, false, "usage: passkey remove"},
		{"unknown flag", []string{"--force", "--institution", "bank_b", "bob"}, OperatorArgs{}, false, "flag provided but not defined: -force"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stderr bytes.Buffer
			got, ok := ParseOperatorArgs("passkey", "remove", "Removes things.", "passkey.db", tc.args, &stderr)
			if ok != tc.ok || got != tc.want {
				t.Fatalf("got %+v, %v; want %+v, %v", got, ok, tc.want, tc.ok)
			}
			if tc.ok && stderr.Len() != 0 || !strings.Contains(stderr.String(), tc.out) {
				t.Fatalf("stderr %q, want it to contain %q", stderr.String(), tc.out)
			}
		})
	}
}
