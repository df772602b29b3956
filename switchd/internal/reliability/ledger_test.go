package reliability

import (
	"context"
	"strings"
	"testing"

	"github.com/switchd/switchd/plugins/ledgerstate"
	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
	"github.com/switchd/switchd/switchd/internal/store"
	"github.com/switchd/switchd/switchd/internal/store/storetest"
)

// TestReadLedger proves the ledger checks behind verify can fail, on
// records in a real store as the plugins write them: an entry that does
// not sum to zero, money created from nothing and an operation without its
// entry are each reported, and a sound ledger passes with its kept
// operations counted per payment.
func TestReadLedger(t *testing.T) {
	acct := func(id string, unlimited bool) *pb.StateWrite {
		return ledgerstate.AccountRecord(ledgerstate.Account{ID: id, Currency: "EUR", Limit: 1000, Unlimited: unlimited})
	}
	op := func(id string, state ledgerstate.State, amount int64) ledgerstate.Result {
		return ledgerstate.Result{PaymentID: id, Operation: "debit", State: state, From: "payer", To: "clearing:EUR", Amount: amount, Currency: "EUR"}
	}
	sound := []*pb.StateWrite{acct("payer", false), acct("clearing:EUR", true)}
	for _, r := range []ledgerstate.Result{op("p1", ledgerstate.StateApproved, 100), op("p2", ledgerstate.StateReversed, 50), op("p3", ledgerstate.StateDeclined, 70)} {
		sound = append(sound, ledgerstate.OperationRecords(r)...)
	}
	unbalanced := ledgerstate.EntryRecord(ledgerstate.Entry{Kind: ledgerstate.KindTransfer, PaymentID: "p1", Operation: "debit",
		Postings: []ledgerstate.Posting{{Account: "payer", Amount: -100}, {Account: "clearing:EUR", Amount: 90}}})
	created := ledgerstate.EntryRecord(ledgerstate.Entry{Kind: ledgerstate.KindSeed, Account: "payer",
		Postings: []ledgerstate.Posting{{Account: "payer", Amount: 100}}})
	for _, tc := range []struct {
		name    string
		records []*pb.StateWrite
		want    string // substring of the error; "" for a sound ledger
	}{
		{"sound", sound, ""},
		{"entry not summing to zero", append(append([]*pb.StateWrite{}, sound...), unbalanced), "sums to -10"},
		{"money created", append(append([]*pb.StateWrite{}, sound...), created), "balances sum to 100"},
		{"operation without its entry", append(append([]*pb.StateWrite{}, sound...), ledgerstate.OperationRecord(op("p4", ledgerstate.StateApproved, 10))), "has no transfer entry"},
		{"no ledger at all", nil, "no accounts"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := storetest.MustOpen(t)
			err := st.Update(context.Background(), func(tx store.Tx) error {
				for _, r := range tc.records {
					if err := tx.PutPluginState("card", "bank_a", r.GetKey(), r.GetValue()); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			l, err := readLedger(st, "card", "bank_a")
			if tc.want != "" {
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("error %v, want one containing %q", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			moved, twice := l.moved("debit")
			if twice != 0 || len(moved) != 1 || moved["p1"] != 100 {
				t.Fatalf("kept debits %v (twice %d), want only p1: 100", moved, twice)
			}
			if l.Balances["payer"] != -100 || l.Balances["clearing:EUR"] != 100 {
				t.Fatalf("balances %v", l.Balances)
			}
		})
	}
}
