// Package tmpdir makes temporary directories that do not outlive their
// owner, even when the owner is killed.
//
// A process that is killed (SIGKILL, a test timeout, a crash) runs no
// cleanup, so a directory it made under os.TempDir would stay behind for
// good. Here each directory holds a lock file that its owner keeps locked
// (flock) for as long as it lives; the kernel drops the lock when the owner
// dies, however it dies. New removes the directories of its prefix whose
// lock nobody holds any more, so leftovers never outlast the next run.
package tmpdir

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// lockName is the lock file inside each directory.
const lockName = ".owner.lock"

// minAge is how old an unlocked directory must be before a sweep removes
// it. Between its owner's MkdirTemp and its flock, a new directory is
// unlocked for a moment; minAge keeps a sweep from taking it then.
const minAge = time.Minute

// Dir is a temporary directory owned by this process.
type Dir struct {
	path string

	mu   sync.Mutex
	lock *os.File // nil once removed
}

// swept records the prefixes already swept by this process: a sweep reads
// all of os.TempDir, and once per process is enough.
var swept sync.Map

// New creates a directory under os.TempDir whose name starts with prefix,
// locks it for this process, and, the first time this process uses prefix,
// removes the directories of the same prefix whose owners have exited.
// Remove it when done; if the process dies first, a later New removes it.
func New(prefix string) (*Dir, error) {
	if prefix == "" || strings.ContainsRune(prefix, os.PathSeparator) {
		return nil, fmt.Errorf("tmpdir: prefix %q must be a non-empty file name", prefix)
	}
	if _, done := swept.LoadOrStore(prefix, true); !done {
		Sweep(prefix)
	}
	path, err := os.MkdirTemp("", prefix)
	if err != nil {
		return nil, fmt.Errorf("tmpdir: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(path, lockName), os.O_CREATE|os.O_RDWR, 0o600)
	if err == nil {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err != nil {
			f.Close()
		}
	}
	if err != nil {
		os.RemoveAll(path)
		return nil, fmt.Errorf("tmpdir: lock %s: %w", path, err)
	}
	return &Dir{path: path, lock: f}, nil
}

// Path is the directory's path.
func (d *Dir) Path() string { return d.path }

// Remove deletes the directory and everything in it, then releases the
// lock. Calling it again does nothing.
func (d *Dir) Remove() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.lock == nil {
		return nil
	}
	err := os.RemoveAll(d.path)
	d.lock.Close()
	d.lock = nil
	if err != nil {
		return fmt.Errorf("tmpdir: %w", err)
	}
	return nil
}

// Sweep removes the directories under os.TempDir whose names start with
// prefix and whose owners have exited: their lock file is unlocked, or
// missing (left by a build from before this package). Directories younger
// than a minute are left alone. Errors are ignored: a sweep is best effort,
// and a directory it cannot remove is tried again by the next one.
func Sweep(prefix string) {
	root := os.TempDir()
	entries, err := os.ReadDir(root)
	if err != nil {
		return
	}
	for _, e := range entries {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), prefix) {
			continue
		}
		info, err := e.Info()
		if err != nil || time.Since(info.ModTime()) < minAge {
			continue
		}
		removeAbandoned(filepath.Join(root, e.Name()))
	}
}

// removeAbandoned removes path if no live process holds its lock, holding
// the lock itself while it removes.
func removeAbandoned(path string) {
	f, err := os.OpenFile(filepath.Join(path, lockName), os.O_RDWR, 0)
	if errors.Is(err, os.ErrNotExist) {
		os.RemoveAll(path)
		return
	}
	if err != nil {
		return
	}
	defer f.Close()
	if syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) == nil {
		os.RemoveAll(path)
	}
}
