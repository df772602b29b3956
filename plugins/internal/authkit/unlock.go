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

// UnlockPayer clears a payer's failure count and lock in an
// authenticator's state file at path (ocra.db, passkey.db) for the
// institution instanceID, and returns what it removed (zero if nothing was
// recorded, which is not an error). It is for operators: the plugin must
// not be running, since it holds the file open (switchd stopped, or the
// institution's authenticator removed and the daemon restarted).
func UnlockPayer(path, instanceID, payerRef string) (was Lockout, err error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second, NoFreelistSync: true, OpenFile: openExisting})
	if err != nil {
		if errors.Is(err, bolt.ErrTimeout) {
			return was, fmt.Errorf("%w: %s is in use: stop switchd first", ErrNotUnlocked, path)
		}
		return was, fmt.Errorf("%w: %v", ErrNotUnlocked, err)
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
	fs := flag.NewFlagSet(plugin+" unlock", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDir := fs.String("data-dir", "data", "switchd's data dir")
	inst := fs.String("institution", "", "the issuer's institution id (required)")
	name := fs.String("plugin", plugin, "the name of the plugin block in the network's HCL")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: %s unlock --data-dir DIR --institution ID [--plugin NAME] PAYER_REF\n\n"+
			"Clears the payer's failure count and lock at the issuer. Stop switchd first.\n\n", plugin)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *inst == "" || fs.NArg() != 1 || fs.Arg(0) == "" {
		fs.Usage()
		return 2
	}
	path := filepath.Join(*dataDir, "plugins", *name, *inst, stateFile)
	was, err := UnlockPayer(path, *inst, fs.Arg(0))
	if err != nil {
		fmt.Fprintf(stderr, "%s unlock: %v\n", plugin, err)
		return 1
	}
	if was == (Lockout{}) {
		fmt.Fprintf(stdout, "%s at %s had no failures recorded; nothing changed\n", fs.Arg(0), *inst)
		return 0
	}
	fmt.Fprintf(stdout, "%s at %s unlocked (was: %d failures, locked %v)\n", fs.Arg(0), *inst, was.Failures, was.Locked)
	return 0
}
