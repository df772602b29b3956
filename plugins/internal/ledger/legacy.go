package ledger

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/switchd/switchd/plugins/internal/oldstate"
	"github.com/switchd/switchd/plugins/ledgerstate"
	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
)

// The old ledger file: the bbolt file each instance kept in its data dir
// before the host kept the ledger (releases up to 1.0.0 of card and
// banktransfer). It is only read, to export it.
const (
	// OldFile is the old ledger file's name in the instance's data dir.
	OldFile = "ledger.db"
	// ImportedFile is its name once exported (see Export).
	ImportedFile = OldFile + oldstate.ImportedSuffix
)

var (
	oldBucketAccounts   = []byte("accounts")
	oldBucketOperations = []byte("operations")
	oldBucketJournal    = []byte("journal")
)

// oldEntry is a journal entry of the old file, keyed by a sequence number.
type oldEntry struct {
	Kind      string    `json:"kind"` // "transfer", "reversal" or "seed"
	PaymentID string    `json:"payment_id,omitempty"`
	Operation string    `json:"operation,omitempty"`
	Postings  []Posting `json:"postings"`
}

// ReadOldFile reads the old ledger file at path (read-only) and returns its
// state as records, in key order: every account, every operation's result
// (voided tombstones included) and every journal entry. The records are
// checked before they are returned: they decode, their journal is
// consistent (ledgerstate.View.CheckJournal), and the balances they sum to
// are the balances the file held. Any failure is an error wrapping
// ErrOldFile.
func ReadOldFile(path string) ([]*pb.StateWrite, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("%w %s: %w", ErrOldFile, path, err)
	}
	defer db.Close()
	var recs []*pb.StateWrite
	held := map[string]int64{}
	err = db.View(func(tx *bolt.Tx) error {
		ab, ob, jb := tx.Bucket(oldBucketAccounts), tx.Bucket(oldBucketOperations), tx.Bucket(oldBucketJournal)
		if ab == nil || ob == nil || jb == nil {
			return errors.New("not a ledger file: accounts, operations or journal bucket missing")
		}
		err := ab.ForEach(func(k, v []byte) error {
			var a Account
			if err := json.Unmarshal(v, &a); err != nil {
				return fmt.Errorf("account %q: %w", k, err)
			}
			held[a.ID] = a.Balance
			recs = append(recs, ledgerstate.AccountRecord(a))
			return nil
		})
		if err != nil {
			return err
		}
		err = ob.ForEach(func(k, v []byte) error {
			var r Result
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("operation %q: %w", k, err)
			}
			recs = append(recs, ledgerstate.OperationRecord(r))
			return nil
		})
		if err != nil {
			return err
		}
		seeds := map[string]ledgerstate.Entry{}
		seen := map[string]bool{}
		err = jb.ForEach(func(k, v []byte) error {
			var e oldEntry
			if err := json.Unmarshal(v, &e); err != nil {
				return fmt.Errorf("journal %x: %w", k, err)
			}
			switch e.Kind {
			case ledgerstate.KindTransfer, ledgerstate.KindReversal:
				key := string(ledgerstate.EntryKey(e.PaymentID, e.Operation, e.Kind))
				if seen[key] {
					return fmt.Errorf("journal %x: a second %s entry of %s/%s", k, e.Kind, e.PaymentID, e.Operation)
				}
				seen[key] = true
				recs = append(recs, ledgerstate.EntryRecord(ledgerstate.Entry{Kind: e.Kind, PaymentID: e.PaymentID, Operation: e.Operation, Postings: e.Postings}))
			case ledgerstate.KindSeed:
				// The old seed entry posts seed:<cur> → account; it is
				// keyed by the account (an account was seeded once, but
				// two entries would merge into one all the same).
				acct := ""
				for _, p := range e.Postings {
					if !strings.HasPrefix(p.Account, SeedPrefix) {
						acct = p.Account
					}
				}
				if acct == "" {
					return fmt.Errorf("journal %x: seed entry of no account", k)
				}
				s := seeds[acct]
				s.Kind, s.Account = ledgerstate.KindSeed, acct
				s.Postings = mergePostings(s.Postings, e.Postings)
				seeds[acct] = s
			default:
				return fmt.Errorf("journal %x: unknown kind %q", k, e.Kind)
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, s := range seeds {
			recs = append(recs, ledgerstate.EntryRecord(s))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%w %s: %w", ErrOldFile, path, err)
	}
	v, err := ledgerstate.Decode(recs)
	if err != nil {
		return nil, fmt.Errorf("%w %s: %w", ErrOldFile, path, err)
	}
	if err := v.CheckJournal(); err != nil {
		return nil, fmt.Errorf("%w %s: %w", ErrOldFile, path, err)
	}
	for id, b := range v.Balances() {
		if held[id] != b {
			return nil, fmt.Errorf("%w %s: account %s held %d but its postings sum to %d", ErrOldFile, path, id, held[id], b)
		}
	}
	ledgerstate.SortRecords(recs)
	return recs, nil
}

// mergePostings adds b's postings to a's, one posting per account, in
// order of first appearance.
func mergePostings(a, b []Posting) []Posting {
	for _, p := range b {
		found := false
		for i := range a {
			if a[i].Account == p.Account {
				a[i].Amount += p.Amount
				found = true
			}
		}
		if !found {
			a = append(a, p)
		}
	}
	return a
}

// Export returns the records of the old ledger file in dir, for the host's
// ExportState: it reads dir/ledger.db (ReadOldFile) and then renames it to
// dir/ledger.db.imported, so that no later release takes it for live state;
// when only dir/ledger.db.imported exists (the host stopped before it
// committed the records) it reads that one, and keeps answering the same
// records until the host holds some and stops asking (oldstate.Export).
// With neither file it returns no records. With both it refuses
// (ErrOldFile): which one is the ledger is for an operator to decide.
// Nothing is renamed unless the file read whole and checked.
func Export(dir string) ([]*pb.StateWrite, error) {
	recs, err := oldstate.Export(filepath.Join(dir, OldFile), ReadOldFile)
	switch {
	case err == nil, errors.Is(err, ErrOldFile):
		return recs, err
	case errors.Is(err, oldstate.ErrBothFiles):
		return nil, fmt.Errorf("%w: %w", ErrOldFile, err)
	}
	return nil, fmt.Errorf("ledger: export: %w", err)
}
