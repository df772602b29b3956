package testnet

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
)

// Dir is a network directory being written. Writes stop at the first error,
// which Err returns, so that a whole file can be built in one expression.
type Dir struct {
	// Path is the directory: the daemon's --config and --plugin-dir.
	Path    string
	secrets map[string]string
	err     error
}

// NewDir prepares path (and path/secrets, mode 0700) for a network.
func NewDir(path string) (*Dir, error) {
	if err := os.MkdirAll(filepath.Join(path, "secrets"), 0o700); err != nil {
		return nil, fmt.Errorf("testnet: network dir: %w", err)
	}
	return &Dir{Path: path, secrets: map[string]string{}}, nil
}

// Write writes text to the file name (relative to Path) with mode 0600.
func (d *Dir) Write(name, text string) {
	if d.err != nil {
		return
	}
	if err := os.WriteFile(filepath.Join(d.Path, name), []byte(text), 0o600); err != nil {
		d.err = fmt.Errorf("testnet: %w", err)
	}
}

// Secret writes value to secrets/name (mode 0600), remembers it, and
// returns the HCL expression reading it back, file("secrets/name"), so
// that no secret is inline in the configuration.
func (d *Dir) Secret(name, value string) string {
	d.Write(filepath.Join("secrets", name), value)
	d.secrets[name] = value
	return fmt.Sprintf("file(%q)", "secrets/"+name)
}

// Secrets returns every secret written so far, by file name under
// secrets/: the values a leak scan looks for.
func (d *Dir) Secrets() map[string]string { return maps.Clone(d.secrets) }

// Err returns the first error a write met, or nil.
func (d *Dir) Err() error { return d.err }
