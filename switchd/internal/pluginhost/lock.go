package pluginhost

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"
)

// LockFileName is the lock file's name inside the data directory.
const LockFileName = "plugins.lock.hcl"

// LockEntry pins one plugin binary:
//
//	plugin "card" {
//	  path   = "/abs/bin/plugins/card"
//	  sha256 = "<hex>"
//	}
type LockEntry struct {
	Name   string `hcl:"name,label"`
	Path   string `hcl:"path"`
	SHA256 string `hcl:"sha256"`
}

type lockFile struct {
	Plugins []LockEntry `hcl:"plugin,block"`
}

// FileSHA256 returns the lower-case hex sha256 of the file at path.
func FileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("pluginhost: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("pluginhost: reading %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// ReadLock reads a lock file written by WriteLock, keyed by plugin name.
func ReadLock(path string) (map[string]LockEntry, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("pluginhost: lock file: %w", err)
	}
	f, diags := hclparse.NewParser().ParseHCL(src, path)
	if diags.HasErrors() {
		return nil, fmt.Errorf("pluginhost: lock file: %w", diags)
	}
	var lf lockFile
	if diags := gohcl.DecodeBody(f.Body, nil, &lf); diags.HasErrors() {
		return nil, fmt.Errorf("pluginhost: lock file: %w", diags)
	}
	out := make(map[string]LockEntry, len(lf.Plugins))
	for _, e := range lf.Plugins {
		if _, dup := out[e.Name]; dup {
			return nil, fmt.Errorf("pluginhost: lock file %s: plugin %q: %w", path, e.Name, ErrDuplicate)
		}
		if err := checkHex(e.SHA256); err != nil {
			return nil, fmt.Errorf("pluginhost: lock file %s: plugin %q: %w", path, e.Name, err)
		}
		out[e.Name] = e
	}
	return out, nil
}

// WriteLock writes entries to path (sorted by name), replacing the file
// atomically.
func WriteLock(path string, entries []LockEntry) error {
	data, err := EncodeLock(entries)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".plugins.lock-*")
	if err != nil {
		return fmt.Errorf("pluginhost: writing lock file: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("pluginhost: writing lock file: %w", err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("pluginhost: writing lock file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("pluginhost: writing lock file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("pluginhost: writing lock file: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("pluginhost: writing lock file: %w", err)
	}
	return nil
}

// PinnedSHA256 returns the digest to pin for plugin name: the plugin
// block's own sha256 (configured) wins, the lock file's is used otherwise. If
// both are set and differ, it returns an error wrapping ErrLockMismatch that
// shows both. If neither is set it returns ErrNotPinned.
func PinnedSHA256(name, configured string, lock map[string]LockEntry) (string, error) {
	locked := lock[name].SHA256
	configured = strings.ToLower(configured)
	switch {
	case configured != "" && locked != "" && configured != locked:
		return "", fmt.Errorf("%w: plugin %q: configuration says %s, lock file says %s", ErrLockMismatch, name, configured, locked)
	case configured != "":
		return configured, nil
	case locked != "":
		return locked, nil
	}
	return "", fmt.Errorf("plugin %q: %w", name, ErrNotPinned)
}

func checkHex(s string) error {
	if len(s) != 2*sha256.Size || strings.ToLower(s) != s {
		return fmt.Errorf("sha256 %q is not 64 lower-case hex digits", s)
	}
	if _, err := hex.DecodeString(s); err != nil {
		return fmt.Errorf("sha256 %q is not 64 lower-case hex digits", s)
	}
	return nil
}

// EncodeLock renders entries as `plugin "NAME" { path = ..., sha256 = ... }`
// blocks, sorted by name: the lock file's format, which is also a valid set
// of pinned plugin blocks for a network configuration.
func EncodeLock(entries []LockEntry) ([]byte, error) {
	sorted := append([]LockEntry(nil), entries...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	f := hclwrite.NewEmptyFile()
	body := f.Body()
	for i, e := range sorted {
		if e.Name == "" {
			return nil, fmt.Errorf("pluginhost: lock entry %d has no name", i)
		}
		if i > 0 && sorted[i-1].Name == e.Name {
			return nil, fmt.Errorf("pluginhost: lock entry %q: %w", e.Name, ErrDuplicate)
		}
		if err := checkHex(e.SHA256); err != nil {
			return nil, fmt.Errorf("pluginhost: lock entry %q: %w", e.Name, err)
		}
		if i > 0 {
			body.AppendNewline()
		}
		b := body.AppendNewBlock("plugin", []string{e.Name}).Body()
		b.SetAttributeValue("path", cty.StringVal(e.Path))
		b.SetAttributeValue("sha256", cty.StringVal(e.SHA256))
	}
	return f.Bytes(), nil
}

// PinnedBlocks pins each named plugin's binary (paths maps name to path)
// by its sha256 and renders the result as EncodeLock does: plugin blocks
// ready for a network configuration or a lock file.
func PinnedBlocks(paths map[string]string, names []string) ([]byte, error) {
	entries := make([]LockEntry, 0, len(names))
	for _, name := range names {
		sum, err := FileSHA256(paths[name])
		if err != nil {
			return nil, fmt.Errorf("pluginhost: pin %q: %w", name, err)
		}
		entries = append(entries, LockEntry{Name: name, Path: paths[name], SHA256: sum})
	}
	return EncodeLock(entries)
}
