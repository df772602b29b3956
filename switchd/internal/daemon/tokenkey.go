package daemon

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// tokenKeySize is the size of the key that derives payer capability
// tokens (see flow.Options.TokenKey).
const tokenKeySize = 32

// loadTokenKey reads the token key at path, creating it (0600, fsynced,
// written atomically) on first start. Back it up with the database: a lost
// key does not break payments, but page URLs of open payments can then no
// longer be shown again (QR codes).
func loadTokenKey(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		if len(b) != tokenKeySize {
			return nil, fmt.Errorf("daemon: %s holds %d bytes, want %d: restore it from backup or delete it to start a new one", path, len(b), tokenKeySize)
		}
		return b, nil
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("daemon: token key: %w", err)
	}
	key := make([]byte, tokenKeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("daemon: token key: %w", err)
	}
	// CreateTemp makes the file 0600.
	tmp, err := os.CreateTemp(filepath.Dir(path), ".token.key-*")
	if err != nil {
		return nil, fmt.Errorf("daemon: token key: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(key)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return nil, fmt.Errorf("daemon: token key: %w", err)
	}
	return key, nil
}
