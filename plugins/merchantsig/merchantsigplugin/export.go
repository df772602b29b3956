package merchantsigplugin

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/switchd/switchd/plugins/internal/oldstate"
	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
)

// ImportedSuffix is added to the name of the state file of an earlier
// version once ExportState has read it (oldstate.Export).
const ImportedSuffix = oldstate.ImportedSuffix

// The state file of versions up to 1.1.0 (StateFile in the instance's data
// dir) holds, under each instance's top-level bucket (named by its
// instance id), the bucket
//
//	approved: record key -> record value (the format of the host's records)
//
// and, from versions before 1.1.0 until their records had expired, two
// more:
//
//	sigs:   sha256(signature) -> legacyRecord JSON
//	expiry: expires ms (8 bytes, big endian) || sha256(signature) -> empty
//
// ExportState reads it read-only; nothing here writes the old format.
var (
	bucketApproved = []byte("approved")
	legacySigs     = []byte("sigs")
)

// legacyRecord is a record of the sigs bucket of versions before 1.1.0.
type legacyRecord struct {
	PaymentID  string `json:"payment_id"`
	MerchantID string `json:"merchant_id"`
	ExpiresMS  int64  `json:"expires_ms"`
}

// readOldState returns the records of instanceID in the state file at
// path that were signed at cutoffMS or later (see MaxReplayWindow), in key
// order. Records of versions before 1.1.0 are converted (see
// exportLegacy). It opens the file read-only and changes nothing.
func readOldState(path, instanceID string, cutoffMS int64) ([]*pb.StateWrite, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: 2 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	defer db.Close()
	var out []*pb.StateWrite
	err = db.View(func(tx *bolt.Tx) error {
		inst := tx.Bucket([]byte(instanceID))
		if inst == nil {
			return nil
		}
		if b := inst.Bucket(bucketApproved); b != nil {
			c := b.Cursor()
			for k, v := c.First(); k != nil; k, v = c.Next() {
				if len(k) != recordKeyLen {
					return fmt.Errorf("%w: key of %d bytes in %s", ErrCorruptRecord, len(k), bucketApproved)
				}
				if keyMS(k) < cutoffMS {
					continue
				}
				if _, _, err := decodeRecord(v); err != nil {
					return err
				}
				out = append(out, &pb.StateWrite{Key: bytes.Clone(k), Value: bytes.Clone(v)})
			}
		}
		if b := inst.Bucket(legacySigs); b != nil {
			recs, err := exportLegacy(b, cutoffMS)
			if err != nil {
				return err
			}
			out = append(out, recs...)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	slices.SortFunc(out, func(a, b *pb.StateWrite) int { return bytes.Compare(a.Key, b.Key) })
	return out, nil
}

// exportLegacy converts the records of a sigs bucket of a version before
// 1.1.0. Such a record says when its window ended (expires_ms = signed_at
// + the window configured then, at least a second) but not signed_at, so
// the converted record's key holds expires_ms in signed_at's place. The
// record is found all the same (a lookup is by the signature's hash), and
// since expires_ms is later than the real signed_at, it is kept at least
// as long as the signature can pass the window check: as long as 1.1.0
// kept it, no longer. The expiry bucket (an index of sigs by expires_ms)
// adds nothing and is not read.
func exportLegacy(sigs *bolt.Bucket, cutoffMS int64) ([]*pb.StateWrite, error) {
	var out []*pb.StateWrite
	err := sigs.ForEach(func(sum, v []byte) error {
		if len(sum) != recordKeyLen-recordTimeLen {
			return fmt.Errorf("%w: key of %d bytes in %s", ErrCorruptRecord, len(sum), legacySigs)
		}
		var rec legacyRecord
		if err := json.Unmarshal(v, &rec); err != nil {
			return fmt.Errorf("%w: %w", ErrCorruptRecord, err)
		}
		if rec.ExpiresMS < cutoffMS {
			return nil
		}
		if rec.PaymentID == "" {
			return fmt.Errorf("%w: no payment id in %s", ErrCorruptRecord, legacySigs)
		}
		out = append(out, &pb.StateWrite{Key: recordKey(rec.ExpiresMS, sum), Value: encodeRecord(rec.PaymentID, rec.MerchantID)})
		return nil
	})
	return out, err
}
