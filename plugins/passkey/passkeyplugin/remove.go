package passkeyplugin

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/go-webauthn/webauthn/protocol"
	bolt "go.etcd.io/bbolt"

	"github.com/switchd/switchd/plugins/internal/authkit"
)

// Removal is what RemovePayer removed of one payer at one issuer.
type Removal struct {
	// CredentialIDs are the removed passkeys' credential ids, base64url
	// without padding, as FinishEnrollment returned them.
	CredentialIDs []string
	// Account is true when the payer's WebAuthn account was removed: the
	// user handle and the credentials. BeginEnrollment creates it, so a
	// payer who began an enrolment has one even with no credential.
	Account bool
	// Enrolment is true when an open enrolment was removed.
	Enrolment bool
	// Challenges counts the open step-C challenges removed from the
	// "pending" bucket of a file written by a version that kept them on
	// disk (the current one keeps them in memory only).
	Challenges int
	// Lockout is the payer's failure count and lock. RemovePayer leaves
	// them as they are: clearing a lock is authkit.UnlockPayer's job.
	Lockout authkit.Lockout
}

// Nothing reports whether the payer had nothing stored to remove.
func (r Removal) Nothing() bool { return !r.Account && !r.Enrolment && r.Challenges == 0 }

// RemovePayer removes a payer's passkeys from the state file at path
// (passkey.db) for the instance instanceID, so that the payer can enrol a
// new passkey (with an activation code) and the old one is refused at step
// C. It is for operators, when a payer lost the phone that holds the
// passkey; the plugin must not be running, since it holds the file open.
//
// In one transaction it deletes the payer's record in bucket users (the
// random user handle and every credential, keyed by payer_ref: the file
// keeps no other index by credential id or user handle), the payer's open
// enrolment in bucket enrol, and any open step-C challenge of the payer in
// the legacy bucket pending. The failure count and lock in bucket payers
// are read, returned and left alone. A payer with nothing stored is not an
// error: the Removal is then empty (Nothing). On error (ErrNotRemoved) the
// file is unchanged.
func RemovePayer(path, instanceID, payerRef string) (Removal, error) {
	if payerRef == "" {
		return Removal{}, fmt.Errorf("%w: the payer_ref is empty", ErrNotRemoved)
	}
	db, err := authkit.OpenStopped(path)
	if err != nil {
		return Removal{}, fmt.Errorf("%w: %w", ErrNotRemoved, err)
	}
	defer db.Close()
	var r Removal
	err = db.Update(func(tx *bolt.Tx) error {
		r = Removal{}
		inst := tx.Bucket([]byte(instanceID))
		if inst == nil {
			return fmt.Errorf("%w: institution %q has no state in %s", ErrNotRemoved, instanceID, path)
		}
		key := []byte(payerRef)
		if b := inst.Bucket(bucketPayers); b != nil {
			if _, err := getJSON(b, key, &r.Lockout); err != nil {
				return fmt.Errorf("%w: the lock record of %q: %w", ErrNotRemoved, payerRef, err)
			}
		}
		if b := inst.Bucket(bucketUsers); b != nil {
			var rec userRecord
			found, err := getJSON(b, key, &rec)
			if err != nil {
				return fmt.Errorf("%w: the passkey record of %q: %w", ErrNotRemoved, payerRef, err)
			}
			if found {
				for _, c := range rec.Credentials {
					r.CredentialIDs = append(r.CredentialIDs, protocol.URLEncodedBase64(c.ID).String())
				}
				r.Account = true
				if err := b.Delete(key); err != nil {
					return err
				}
			}
		}
		if b := inst.Bucket(bucketEnrol); b != nil && b.Get(key) != nil {
			r.Enrolment = true
			if err := b.Delete(key); err != nil {
				return err
			}
		}
		if b := inst.Bucket(bucketPending); b != nil {
			n, err := deletePrefix(b, append(key, 0))
			if err != nil {
				return err
			}
			r.Challenges = n
		}
		return nil
	})
	if err != nil {
		if !errors.Is(err, ErrNotRemoved) {
			err = fmt.Errorf("%w: %s: %w", ErrNotRemoved, path, err)
		}
		return Removal{}, err
	}
	return r, nil
}

// deletePrefix deletes the keys of b that start with prefix and returns
// how many it deleted.
func deletePrefix(b *bolt.Bucket, prefix []byte) (int, error) {
	var keys [][]byte
	c := b.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		keys = append(keys, bytes.Clone(k))
	}
	for _, k := range keys {
		if err := b.Delete(k); err != nil {
			return 0, err
		}
	}
	return len(keys), nil
}
