package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/switchd/switchd/internal/testbin"
	"github.com/switchd/switchd/switchd/internal/daemon"
	"github.com/switchd/switchd/switchd/internal/webhook/webhooktest"
)

// env is a running test network.
type env struct {
	n       *network
	r       *webhooktest.Receiver
	dataDir string
	c       *client
	d       *daemon.Daemon
	logs    *testbin.SyncBuffer
}

// setup starts a network and an in-process daemon.
func setup(t *testing.T) *env {
	t.Helper()
	r := webhooktest.NewReceiver(t)
	n := newNetwork(t, r.URL())
	r.SetSecret(n.WebhookSec)
	dataDir := t.TempDir()
	logs := &testbin.SyncBuffer{}
	d, c := runDaemon(t, n, dataDir, logs)
	return &env{n: n, r: r, dataDir: dataDir, c: c, d: d, logs: logs}
}

// stop shuts the daemon down gracefully (the plugins release their
// ledgers).
func (e *env) stop(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.d.Shutdown(ctx); err != nil {
		t.Errorf("shutdown: %v", err)
	}
}

func TestCardAndBankTransferAtoE(t *testing.T) {
	e := setup(t)
	n, r, dataDir, c := e.n, e.r, e.dataDir, e.c
	bk := n.Banks[0]
	var ids []string
	for _, tc := range []struct {
		name   string
		choice map[string]any
		amount int64
	}{
		{"card", cardChoice(bk.PAN), 1250},
		{"bank_transfer", accountChoice(bk.BankCode, bk.Account), 3300},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, cr, body, err := c.create("shop", n.APIKey, createReq("shop", tc.amount, "order-"+tc.name, time.Now().Add(10*time.Minute), n.SellerKey), "")
			if err != nil || st != http.StatusCreated || cr.PayToken == "" {
				t.Fatalf("create: %d %s %v", st, body, err)
			}
			state, code, err := c.pay(cr.PayToken, tc.choice, bk.OCRAKeys["alice"])
			if err != nil {
				t.Fatal(err)
			}
			if state != "approved" {
				t.Fatalf("payer sees %s (%s), want approved", state, code)
			}
			if s, _, err := c.getPayment(n.APIKey, cr.ID); err != nil || s != "approved" {
				t.Fatalf("merchant sees %s %v", s, err)
			}
			r.WaitFor(t, cr.ID, "payment.approved", hookWait)
			ids = append(ids, cr.ID)
			// The timeline shows every step.
			st, b, _ := c.do("GET", "/v1/payments/"+cr.ID+"/events", n.APIKey, nil, nil)
			var evs struct {
				Data []struct {
					To string `json:"to"`
				} `json:"data"`
			}
			json.Unmarshal(b, &evs)
			var states []string
			for _, e := range evs.Data {
				if e.To != "" && !slices.Contains(states, e.To) {
					states = append(states, e.To)
				}
			}
			want := []string{"created", "method_chosen", "seller_authenticated", "payer_authenticated", "paid", "approved"}
			if st != http.StatusOK || !slices.Equal(states, want) {
				t.Fatalf("events %d %v", st, states)
			}
		})
	}
	e.stop(t)
	// The ledgers show the money moved: the payer's card owes 12.50 and
	// the account lost 33.00 at the issuer; the shop gained both at the
	// acquirer, and each clearing account mirrors the other bank's.
	issCard := balances(t, dataDir, "card", bk.ID)
	issBT := balances(t, dataDir, "banktransfer", bk.ID)
	acqCard := balances(t, dataDir, "card", "acq")
	acqBT := balances(t, dataDir, "banktransfer", "acq")
	for _, tc := range []struct {
		name      string
		got, want int64
	}{
		{"issuer card", sumPrefix(issCard, "card:"), -1250},
		{"issuer account", issBT["acct:"+bk.Account], 1000000 - 3300},
		{"shop card receivable", acqCard["merchant:"+n.Settlement], 1250},
		{"shop account", acqBT["acct:"+n.Settlement], 3300},
		{"card clearing across banks", sumPrefix(issCard, "clearing:") + sumPrefix(acqCard, "clearing:"), 0},
		{"transfer clearing across banks", sumPrefix(issBT, "clearing:") + sumPrefix(acqBT, "clearing:"), 0},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, tc.got, tc.want)
		}
	}
	// The card number is nowhere at rest and in no log line: not in the
	// switch's database (which holds the card plugin's ledger too), not in
	// any plugin file, not in the daemon's or the plugins' logs (debug
	// level).
	scanned, sawDB := 0, false
	filepath.WalkDir(dataDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		scanned++
		sawDB = sawDB || filepath.Base(path) == "switchd.db"
		if bytes.Contains(b, []byte(bk.PAN)) {
			t.Errorf("%s holds the card number", path)
		}
		return nil
	})
	if logs := e.logs.Bytes(); len(logs) == 0 || bytes.Contains(logs, []byte(bk.PAN)) {
		t.Errorf("the log (%d bytes) is empty or holds the card number", len(logs))
	}
	if scanned < 3 || !sawDB {
		t.Errorf("scanned only %d files (switchd.db among them: %v)", scanned, sawDB)
	}
	for _, h := range r.Hooks() {
		if h.Deliveries != 1 {
			t.Errorf("webhook %s delivered %d times", h.ID, h.Deliveries)
		}
	}
	if bad := r.Bad(); bad != 0 {
		t.Errorf("%d webhooks failed verification", bad)
	}
	_ = ids
}
