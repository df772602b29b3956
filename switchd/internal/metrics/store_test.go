package metrics

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// The store counters are read from the store at each scrape, with their
// names, type and help.
func TestStoreWrites(t *testing.T) {
	m := New()
	var scrapes atomic.Uint64
	m.RegisterStoreWrites(func() StoreWrites {
		n := scrapes.Add(1)
		return StoreWrites{Commits: 10 * n, Updates: 30 * n, PagesWritten: 120 * n, WriteSeconds: 0.5 * float64(n)}
	})
	for scrape := 1; scrape <= 2; scrape++ {
		fams, err := m.Registry.Gather()
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]float64{}
		for _, f := range fams {
			if f.GetType().String() != "COUNTER" || len(f.GetMetric()) != 1 || f.GetHelp() == "" {
				continue
			}
			got[f.GetName()] = f.GetMetric()[0].GetCounter().GetValue()
		}
		n := float64(scrape)
		for _, tc := range []struct {
			name string
			want float64
		}{
			{"switchd_store_commits_total", 10 * n},
			{"switchd_store_updates_total", 30 * n},
			{"switchd_store_pages_written_total", 120 * n},
			{"switchd_store_write_seconds_total", 0.5 * n},
		} {
			t.Run(tc.name, func(t *testing.T) {
				v, ok := got[tc.name]
				if !ok {
					t.Fatalf("scrape %d: no single-sample counter with help named %s", scrape, tc.name)
				}
				if v != tc.want {
					t.Errorf("scrape %d: %s = %v, want %v", scrape, tc.name, v, tc.want)
				}
			})
		}
	}
	if n := scrapes.Load(); n != 2 {
		t.Errorf("read called %d times for 2 scrapes, want once per scrape", n)
	}
}

// ParseStoreWrites reads back what /metrics serves, and refuses an answer
// that lacks a store counter.
func TestParseStoreWrites(t *testing.T) {
	m := New()
	want := StoreWrites{Commits: 1234, Updates: 5678, PagesWritten: 98765, WriteSeconds: 1.25}
	m.RegisterStoreWrites(func() StoreWrites { return want })
	srv := httptest.NewServer(promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{}))
	defer srv.Close()
	res, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	served := string(body)
	withoutPages := strings.ReplaceAll(served, "switchd_store_pages_written_total", "switchd_store_other_total")

	for _, tc := range []struct {
		name    string
		in      string
		want    StoreWrites
		wantErr error
	}{
		{"served by /metrics", served, want, nil},
		{"a counter missing", withoutPages, StoreWrites{}, ErrNotExported},
		{"labelled", "# TYPE switchd_store_commits_total counter\nswitchd_store_commits_total{a=\"1\"} 1\nswitchd_store_commits_total{a=\"2\"} 2\n", StoreWrites{}, ErrNotExported},
		{"empty", "", StoreWrites{}, ErrNotExported},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseStoreWrites(strings.NewReader(tc.in))
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err %v, want %v", err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
	t.Run("not the text format", func(t *testing.T) {
		if _, err := ParseStoreWrites(strings.NewReader("{not: metrics}\n")); err == nil || errors.Is(err, ErrNotExported) {
			t.Errorf("err %v, want a parse error", err)
		}
	})
}
