package daemon

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/switchd/switchd/switchd/internal/metrics"
	"github.com/switchd/switchd/switchd/internal/store"
)

// The admin listener's /metrics exports the store's write counters, read
// from the daemon's real store at each scrape: a committed Update makes
// them grow.
func TestMetricsExportStoreWrites(t *testing.T) {
	d, _ := startEmpty(t, "text")
	scrape := func() metrics.StoreWrites {
		t.Helper()
		res, err := (&http.Client{Timeout: 10 * time.Second}).Get("http://" + d.AdminAddr() + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		w, err := metrics.ParseStoreWrites(res.Body)
		if err != nil {
			t.Fatal(err)
		}
		return w
	}

	before := scrape()
	now := time.Now().UTC()
	err := d.Store().Update(context.Background(), func(tx store.Tx) error {
		return tx.PutPayment(&store.Payment{ID: "pay_metrics", MerchantID: "shop", AcquirerID: "bank", AmountMinor: 100, Currency: "EUR",
			OrderRef: "o1", CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(time.Minute), State: "created", TokenHash: "th"})
	})
	if err != nil {
		t.Fatal(err)
	}
	after := scrape()
	// The daemon's own workers may write too: at least this Update's
	// share must show.
	for _, c := range []struct {
		name          string
		before, after float64
		least         float64
	}{
		{"switchd_store_commits_total", float64(before.Commits), float64(after.Commits), 1},
		{"switchd_store_updates_total", float64(before.Updates), float64(after.Updates), 1},
		{"switchd_store_pages_written_total", float64(before.PagesWritten), float64(after.PagesWritten), 2},
		{"switchd_store_write_seconds_total", before.WriteSeconds, after.WriteSeconds, 1e-9},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.after-c.before < c.least {
				t.Errorf("grew from %v to %v over a committed Update, want at least +%v", c.before, c.after, c.least)
			}
		})
	}
}
