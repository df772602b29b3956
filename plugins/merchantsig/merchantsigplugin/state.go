package merchantsigplugin

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// The state file holds, under each instance's top-level bucket (named by
// its instance id), one bucket of the signatures it approved:
//
//	approved: signed_at ms (8 bytes, big endian) || sha256(signature) -> record
//
// The key leads with the signing time, so the approvals of one commit land
// on the newest leaf or two of the B+tree (a commit rewrites few pages) and
// the expired records are the first keys of the bucket. A record is
// uvarint(len(payment id)) || payment id || merchant id.
//
// Versions before 1.1.0 kept two buckets instead, read here until they are
// empty (see purgeLegacy):
//
//	sigs:   sha256(signature) -> legacyRecord JSON
//	expiry: expires ms (8 bytes, big endian) || sha256(signature) -> empty
var (
	bucketApproved = []byte("approved")
	legacySigs     = []byte("sigs")
	legacyExpiry   = []byte("expiry")
)

// approvedFill is the approved bucket's fill percent. Keys arrive nearly
// in order, so split pages are filled well beyond bbolt's default 50%,
// leaving room for the few that arrive a few milliseconds late.
const approvedFill = 0.9

// recordKey is the approved bucket's key of a signature made at signedAtMS
// whose SHA-256 is sum.
func recordKey(signedAtMS int64, sum []byte) []byte {
	return append(binary.BigEndian.AppendUint64(make([]byte, 0, 8+len(sum)), uint64(signedAtMS)), sum...)
}

func encodeRecord(paymentID, merchantID string) []byte {
	b := binary.AppendUvarint(make([]byte, 0, binary.MaxVarintLen16+len(paymentID)+len(merchantID)), uint64(len(paymentID)))
	return append(append(b, paymentID...), merchantID...)
}

// decodeRecord returns the payment and merchant ids of a record.
func decodeRecord(v []byte) (paymentID, merchantID string, err error) {
	n, w := binary.Uvarint(v)
	if w <= 0 || n > uint64(len(v)-w) {
		return "", "", fmt.Errorf("%w: %d bytes", ErrCorruptRecord, len(v))
	}
	rest := v[w:]
	return string(rest[:n]), string(rest[n:]), nil
}

// approvedBucket returns the approved bucket of the instance's bucket,
// with its fill percent set.
func approvedBucket(inst *bolt.Bucket) *bolt.Bucket {
	b := inst.Bucket(bucketApproved)
	b.FillPercent = approvedFill
	return b
}

// approvedFor returns the payment id for which the signature whose record
// key is key was approved, and whether it was: in the approved bucket, or
// in the records a version before 1.1.0 left.
func approvedFor(inst, approved *bolt.Bucket, key []byte) (string, bool, error) {
	if v := approved.Get(key); v != nil {
		paymentID, _, err := decodeRecord(v)
		return paymentID, err == nil, err
	}
	return legacyPaymentID(inst, key[8:])
}

// purge forgets the signatures made before cutoffMS (Unix ms): the window
// check alone refuses them from then on. They are the first keys of the
// bucket.
func purge(b *bolt.Bucket, cutoffMS int64) error {
	c := b.Cursor()
	for k, _ := c.First(); k != nil && keyMS(k) < cutoffMS; k, _ = c.First() {
		if err := c.Delete(); err != nil {
			return err
		}
	}
	return nil
}

// keyMS is the time (Unix ms) a key of the approved or expiry bucket
// starts with.
func keyMS(k []byte) int64 {
	if len(k) < 8 {
		return 0 // not a record key: purge it
	}
	return int64(binary.BigEndian.Uint64(k))
}

// legacyRecord is a record of the sigs bucket of versions before 1.1.0.
type legacyRecord struct {
	PaymentID  string `json:"payment_id"`
	MerchantID string `json:"merchant_id"`
	ExpiresMS  int64  `json:"expires_ms"`
}

// legacyPaymentID returns the payment id under which a version before
// 1.1.0 approved the signature whose SHA-256 is sum, and whether it did
// (false too when the instance has no such records left).
func legacyPaymentID(inst *bolt.Bucket, sum []byte) (string, bool, error) {
	sigs := inst.Bucket(legacySigs)
	if sigs == nil {
		return "", false, nil
	}
	v := sigs.Get(sum)
	if v == nil {
		return "", false, nil
	}
	var rec legacyRecord
	if err := json.Unmarshal(v, &rec); err != nil {
		return "", false, fmt.Errorf("%w: %w", ErrCorruptRecord, err)
	}
	return rec.PaymentID, true, nil
}

// purgeLegacy forgets the records of versions before 1.1.0 that can no
// longer matter and drops their buckets once none are left. A record says
// when its window ended (expires_ms = signed_at + the window then
// configured) but not the window, so it is kept until expires_ms + windowMS
// has passed: whatever the earlier window was (at least a second), by then
// its signature is older than the current window and the window check
// refuses it. It writes nothing when there is nothing to forget.
func purgeLegacy(inst *bolt.Bucket, nowMS, windowMS int64) error {
	sigs, exp := inst.Bucket(legacySigs), inst.Bucket(legacyExpiry)
	if sigs == nil && exp == nil {
		return nil
	}
	if exp != nil {
		c := exp.Cursor()
		for k, _ := c.First(); k != nil && keyMS(k)+windowMS < nowMS; k, _ = c.First() {
			if sigs != nil && len(k) > 8 {
				if err := sigs.Delete(k[8:]); err != nil {
					return err
				}
			}
			if err := c.Delete(); err != nil {
				return err
			}
		}
		if k, _ := c.First(); k != nil {
			return nil
		}
	}
	// The expiry index is empty, so every record is gone: sigs and expiry
	// are written in the same transaction.
	for _, name := range [][]byte{legacySigs, legacyExpiry} {
		if inst.Bucket(name) != nil {
			if err := inst.DeleteBucket(name); err != nil {
				return err
			}
		}
	}
	return nil
}

// hasLegacy reports whether the instance's state still has buckets of a
// version before 1.1.0.
func hasLegacy(db *bolt.DB, instanceID string) (bool, error) {
	var legacy bool
	err := db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(instanceID))
		legacy = b.Bucket(legacySigs) != nil || b.Bucket(legacyExpiry) != nil
		return nil
	})
	return legacy, err
}

// upgrade purges what is expired of a version before 1.1.0's records at
// Configure, and drops their buckets if that empties them; it writes
// nothing for a file without them.
func (inst *instance) upgrade(ctx context.Context, nowMS int64) error {
	legacy, err := hasLegacy(inst.db.DB(), inst.id)
	if err != nil || !legacy {
		return err
	}
	return inst.db.Update(ctx, func(tx *bolt.Tx) error {
		return purgeLegacy(tx.Bucket([]byte(inst.id)), nowMS, inst.window.Milliseconds())
	})
}
