package authkit

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

// PayersBucket is the bucket, inside an instance's top-level bucket, where
// the authenticators keep each payer's Lockout (JSON, by payer_ref).
const PayersBucket = "payers"

// ErrNotUnlocked is returned (wrapped) by UnlockPayer when the state file
// cannot be changed: it does not exist, the plugin holds it open, or the
// institution is not in it.
var ErrNotUnlocked = errors.New("payer not unlocked")

// ErrInUse is returned (wrapped) by OpenStopped when the plugin, run by
// switchd, holds the state file open.
var ErrInUse = errors.New("stop switchd first")

// OpenStopped opens an authenticator's state file at path for an operator
// command, which must run while the plugin is stopped: the plugin holds
// the file's lock while it runs, and OpenStopped then fails after a second
// with "<path> is in use: stop switchd first" (ErrInUse). It never creates
// the file: a mistyped path is an error (fs.ErrNotExist), not a new empty
// state file. The caller closes the database.
func OpenStopped(path string) (*bolt.DB, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second, NoFreelistSync: true, OpenFile: openExisting})
	if errors.Is(err, bolt.ErrTimeout) {
		return nil, fmt.Errorf("%s is in use: %w", path, ErrInUse)
	}
	return db, err
}

// UnlockPayer clears a payer's failure count and lock in an
// authenticator's state file at path (ocra.db, passkey.db) for the
// institution instanceID, and returns what it removed (zero if nothing was
// recorded, which is not an error). It is for operators: the plugin must
// not be running, since it holds the file open (switchd stopped, or the
// institution's authenticator removed and the daemon restarted).
func UnlockPayer(path, instanceID, payerRef string) (was Lockout, err error) {
	db, err := OpenStopped(path)
	if err != nil {
		return was, fmt.Errorf("%w: %w", ErrNotUnlocked, err)
	}
	defer db.Close()
	err = db.Update(func(tx *bolt.Tx) error {
		inst := tx.Bucket([]byte(instanceID))
		if inst == nil {
			return fmt.Errorf("%w: institution %q has no state in %s", ErrNotUnlocked, instanceID, path)
		}
		payers := inst.Bucket([]byte(PayersBucket))
		if payers == nil {
			return nil
		}
		raw := payers.Get([]byte(payerRef))
		if raw == nil {
			return nil
		}
		if err := json.Unmarshal(raw, &was); err != nil {
			return fmt.Errorf("%w: the record of %q is corrupt: %v", ErrNotUnlocked, payerRef, err)
		}
		return payers.Delete([]byte(payerRef))
	})
	return was, err
}

// openExisting opens like os.OpenFile but never creates: a mistyped path
// is an error, not a new empty state file.
func openExisting(name string, flag int, perm os.FileMode) (*os.File, error) {
	return os.OpenFile(name, flag&^os.O_CREATE, perm)
}

// OperatorArgs are the arguments of an operator command of an
// authenticator plugin's binary (unlock, and passkey's remove).
type OperatorArgs struct {
	// Path is the state file: DIR/plugins/NAME/ID/<state file>.
	Path string
	// Institution is ID, the issuer's institution id, which is also the
	// instance's top-level bucket in the state file.
	Institution string
	// PayerRef is the payer the command acts on.
	PayerRef string
}

// ParseOperatorArgs parses the arguments of the operator command cmd of
// the plugin called plugin, whose state file is called stateFile:
//
//	<plugin> <cmd> --data-dir DIR --institution ID [--plugin NAME] PAYER_REF
//
// DIR is switchd's data dir (default data); NAME is the plugin block's
// name (default plugin). about is the usage's description of the command.
// On bad usage it writes the error and the usage to stderr and returns
// false: the command then exits with status 2.
func ParseOperatorArgs(plugin, cmd, about, stateFile string, args []string, stderr io.Writer) (OperatorArgs, bool) {
	fs := flag.NewFlagSet(plugin+" "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDir := fs.String("data-dir", "data", "switchd's data dir")
	inst := fs.String("institution", "", "the issuer's institution id (required)")
	name := fs.String("plugin", plugin, "the name of the plugin block in the network's HCL")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: %s %s --data-dir DIR --institution ID [--plugin NAME] PAYER_REF\n\n%s\n\n", plugin, cmd, about)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return OperatorArgs{}, false
	}
	if *inst == "" || fs.NArg() != 1 || fs.Arg(0) == "" {
		fs.Usage()
		return OperatorArgs{}, false
	}
	return OperatorArgs{
		Path:        filepath.Join(*dataDir, "plugins", *name, *inst, stateFile),
		Institution: *inst,
		PayerRef:    fs.Arg(0),
	}, true
}

// UnlockMain is the `unlock` command of an authenticator plugin's binary
// (plugin is its name, stateFile its state file's name):
//
//	<plugin> unlock --data-dir DIR --institution ID [--plugin NAME] PAYER_REF
//
// DIR is switchd's data dir; the state file is
// DIR/plugins/NAME/ID/stateFile, NAME being the plugin block's name
// (default plugin). It returns the process exit code: 0 when the payer is
// unlocked or had nothing recorded, 1 on error, 2 on bad usage.
func UnlockMain(plugin, stateFile string, args []string, stdout, stderr io.Writer) int {
	a, ok := ParseOperatorArgs(plugin, "unlock", "Clears the payer's failure count and lock at the issuer. Stop switchd first.", stateFile, args, stderr)
	if !ok {
		return 2
	}
	was, err := UnlockPayer(a.Path, a.Institution, a.PayerRef)
	if err != nil {
		fmt.Fprintf(stderr, "%s unlock: %v\n", plugin, err)
		return 1
	}
	if was == (Lockout{}) {
		fmt.Fprintf(stdout, "%s at %s had no failures recorded; nothing changed\n", a.PayerRef, a.Institution)
		return 0
	}
	fmt.Fprintf(stdout, "%s at %s unlocked (was: %d failures, locked %v)\n", a.PayerRef, a.Institution, was.Failures, was.Locked)
	return 0
}
