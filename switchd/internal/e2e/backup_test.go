package e2e

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/switchd/switchd/switchd/internal/store"
)

// TestOnlineBackup takes a backup through the admin API while the daemon
// serves, and opens it as a store: it passes bbolt's consistency check and
// holds the payment made before it.
func TestOnlineBackup(t *testing.T) {
	e := setup(t)
	bk := e.n.Banks[0]
	st, cr, body, err := e.c.create("shop", e.n.APIKey, createReq("shop", 990, "o-backup", time.Now().Add(10*time.Minute), e.n.SellerKey), "")
	if err != nil || st != http.StatusCreated {
		t.Fatalf("create: %d %s %v", st, body, err)
	}
	if state, code, err := e.c.pay(cr.PayToken, cardChoice(bk.PAN), bk.OCRAKeys["alice"]); err != nil || state != "approved" {
		t.Fatalf("pay: %s %s %v", state, code, err)
	}

	admin := &client{base: "http://" + e.d.AdminAddr(), http: e.c.http}
	st, snap, err := admin.do("GET", "/v1/admin/backup", "", nil, nil)
	if err != nil || st != http.StatusOK {
		t.Fatalf("backup: %d %v", st, err)
	}
	path := filepath.Join(t.TempDir(), "backup.db")
	if err := os.WriteFile(path, snap, 0o600); err != nil {
		t.Fatal(err)
	}
	restored, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer restored.Close()
	if err := restored.Check(); err != nil {
		t.Fatalf("backup fails the consistency check: %v", err)
	}
	var p *store.Payment
	if err := restored.View(context.Background(), func(tx store.Tx) error {
		var err error
		p, err = tx.GetPayment(cr.ID)
		return err
	}); err != nil {
		t.Fatalf("payment not in the backup: %v", err)
	}
	if p.State != "approved" {
		t.Fatalf("backup has the payment as %s, want approved", p.State)
	}
	e.stop(t)
}
