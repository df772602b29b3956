package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"testing"

	"github.com/switchd/switchd/config"
	"github.com/switchd/switchd/internal/testbin"
	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
	"github.com/switchd/switchd/plugins/sdk/order"
	"github.com/switchd/switchd/switchd/internal/pluginhost"
	"github.com/switchd/switchd/switchd/internal/store"
)

// TestHostStatePluginRecordsInSwitchdDB runs the daemon with a plugin that
// keeps its state in the host (pluginhost's hoststate test plugin, an
// acquirer's authenticator and card method): the records of its Configure
// and of a Debit are in switchd.db, and a daemon started again on the same
// data dir hands them back to the new plugin process before it serves.
func TestHostStatePluginRecordsInSwitchdDB(t *testing.T) {
	bin := testbin.MustBuild(t, "./switchd/internal/pluginhost/testdata/hoststate")
	sum, err := pluginhost.FileSHA256(bin)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	hcl := fmt.Sprintf(`plugin "hoststate" {
  path   = %q
  sha256 = %q
}

institution "bank" {
  display_name = "Bank"
  roles        = ["acquirer"]

  authenticator "hoststate" {}

  method "card" {
    plugin = "hoststate"
    seed   = 2
  }
}
`, bin, sum)
	if err := os.WriteFile(filepath.Join(dir, "net.hcl"), []byte(hcl), 0o600); err != nil {
		t.Fatal(err)
	}
	set, err := config.LoadSettings(nil)
	if err != nil {
		t.Fatal(err)
	}
	set.APIAddr, set.AdminAddr = "127.0.0.1:0", "127.0.0.1:0"
	set.ConfigPath, set.DataDir = dir, filepath.Join(t.TempDir(), "data")
	start := func() *Daemon {
		t.Helper()
		d := New(set, NewLogger(set, new(testbin.SyncBuffer)))
		if err := d.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.Close() })
		return d
	}
	stored := func(d *Daemon) map[string]string {
		t.Helper()
		out := map[string]string{}
		err := d.Store().View(context.Background(), func(tx store.Tx) error {
			return tx.PluginState("hoststate", "bank", func(k, v []byte) error {
				out[string(k)] = string(v)
				return nil
			})
		})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}

	d := start()
	if got := stored(d); !maps.Equal(got, map[string]string{"seed/0": "1", "seed/1": "1"}) {
		t.Fatalf("after Start switchd.db holds %v, want the seed records Configure returned", got)
	}
	m, err := d.host.PaymentMethod("hoststate")
	if err != nil {
		t.Fatal(err)
	}
	o := &pb.Order{PaymentId: "p1", MerchantId: "shop", AcquirerId: "bank", AmountMinor: 250, Currency: "EUR", Method: pb.Method_METHOD_CARD}
	digest := order.Digest(o)
	if _, err := m.Debit(context.Background(), &pb.DebitRequest{InstanceId: "bank", Order: o, OrderDigest: digest[:]}); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"seed/0": "1", "seed/1": "1", "debit/p1": "250"}
	if got := stored(d); !maps.Equal(got, want) {
		t.Fatalf("after Debit switchd.db holds %v, want %v", got, want)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}

	d = start()
	m, err = d.host.PaymentMethod("hoststate")
	if err != nil {
		t.Fatal(err)
	}
	res, err := m.ResolveInstrument(context.Background(), &pb.ResolveInstrumentRequest{InstanceId: "bank", PaymentId: "dump"})
	if err != nil {
		t.Fatal(err)
	}
	mem := map[string]string{}
	if err := json.Unmarshal([]byte(res.GetDisplay()), &mem); err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(mem, want) {
		t.Errorf("the next daemon's plugin holds %v, want the committed %v", mem, want)
	}
}
