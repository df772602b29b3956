package metrics

import (
	"fmt"
	"io"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// StoreWrites are the store's write totals since it was opened (see
// store.WriteStats), as the store counters report them.
type StoreWrites struct {
	Commits      uint64  // read-write transactions committed
	Updates      uint64  // Updates committed in them
	PagesWritten uint64  // page writes to the database file, meta pages included
	WriteSeconds float64 // time spent writing and fsyncing committed transactions
}

// RegisterStoreWrites exports the totals read returns as the counters
// switchd_store_commits_total, switchd_store_updates_total,
// switchd_store_pages_written_total and switchd_store_write_seconds_total.
// read is called once per scrape, so the four come from one reading and
// nothing is recorded between scrapes. Call it once per Metrics.
func (m *Metrics) RegisterStoreWrites(read func() StoreWrites) {
	desc := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName("switchd", "store", name), help, nil, nil)
	}
	m.Registry.MustRegister(&storeCollector{
		read:    read,
		commits: desc("commits_total", "Read-write transactions the store committed (each group commit is one, however many Updates it holds)."),
		updates: desc("updates_total", "Store Updates committed; updates_total / commits_total is the mean group-commit batch."),
		pages: desc("pages_written_total",
			"Page writes to the store's database file (one per dirty page, and one for the meta page, per commit); a commit's CPU and I/O follow it."),
		seconds: desc("write_seconds_total", "Time committed store transactions spent writing their pages and fsyncing them."),
	})
}

// storeCollector reads the store's totals at scrape time.
type storeCollector struct {
	read                             func() StoreWrites
	commits, updates, pages, seconds *prometheus.Desc
}

func (c *storeCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.commits
	ch <- c.updates
	ch <- c.pages
	ch <- c.seconds
}

func (c *storeCollector) Collect(ch chan<- prometheus.Metric) {
	w := c.read()
	ch <- prometheus.MustNewConstMetric(c.commits, prometheus.CounterValue, float64(w.Commits))
	ch <- prometheus.MustNewConstMetric(c.updates, prometheus.CounterValue, float64(w.Updates))
	ch <- prometheus.MustNewConstMetric(c.pages, prometheus.CounterValue, float64(w.PagesWritten))
	ch <- prometheus.MustNewConstMetric(c.seconds, prometheus.CounterValue, w.WriteSeconds)
}

// ParseStoreWrites reads the store counters from a /metrics answer in the
// Prometheus text format, as `switchd bench` does before and after its
// load. A counter missing (or not a single unlabelled counter) is an
// ErrNotExported.
func ParseStoreWrites(r io.Reader) (StoreWrites, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(r)
	if err != nil {
		return StoreWrites{}, fmt.Errorf("metrics: parse: %w", err)
	}
	var missing []string
	get := func(name string) float64 {
		f := fams[name]
		if f == nil || len(f.GetMetric()) != 1 || f.GetMetric()[0].GetCounter() == nil {
			missing = append(missing, name)
			return 0
		}
		return f.GetMetric()[0].GetCounter().GetValue()
	}
	w := StoreWrites{
		Commits:      uint64(get("switchd_store_commits_total")),
		Updates:      uint64(get("switchd_store_updates_total")),
		PagesWritten: uint64(get("switchd_store_pages_written_total")),
		WriteSeconds: get("switchd_store_write_seconds_total"),
	}
	if len(missing) > 0 {
		return StoreWrites{}, fmt.Errorf("%w: %v", ErrNotExported, missing)
	}
	return w, nil
}
