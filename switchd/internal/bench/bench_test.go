package bench

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/switchd/switchd/internal/testbin"
)

// TestMain serves as a bench server child when Run re-executes this test
// binary.
func TestMain(m *testing.M) {
	if IsChild() {
		os.Exit(ChildMain())
	}
	os.Exit(m.Run())
}

func mustPlugins(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, name := range pluginNames {
		out[name] = testbin.MustBuild(t, "./plugins/"+name)
	}
	return out
}

// TestRunSmoke runs the whole benchmark with a tiny count: every payment
// of both phases must complete, every webhook arrive once, and the
// figures must be consistent (not timed).
func TestRunSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("starts daemons and plugin subprocesses")
	}
	var log bytes.Buffer
	rep, err := Run(context.Background(), Options{Plugins: mustPlugins(t), Payers: 4, Merchants: 2, Count: 20, Unloaded: 3,
		WorkDir: t.TempDir(), Log: &log, CPUProfile: ""})
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	for _, ph := range []*Phase{rep.OutOfProcess, rep.InProcess} {
		t.Run(ph.Mode, func(t *testing.T) {
			if ph.Approved != 20 || ph.Failed != 0 {
				t.Fatalf("approved %d failed %d (%v), want 20 and 0", ph.Approved, ph.Failed, ph.Errors)
			}
			if ph.Webhooks.Distinct != ph.Webhooks.Expected || ph.Webhooks.Expected != 20+warmUp || ph.Webhooks.BadSignature != 0 {
				t.Errorf("webhooks %+v, want 28 distinct, none bad", ph.Webhooks)
			}
			for _, s := range []string{stepCreate, stepChoose, stepBegin, stepFinish, stepOverall, stepSwitch} {
				l := ph.Latency[s]
				if l.N != 20 || l.P50 <= 0 || l.P50 > l.P99 || l.P99 > l.Max {
					t.Errorf("%s: %+v", s, l)
				}
			}
			for _, s := range []string{stepB, stepD, stepE} {
				if l := ph.Latency[s]; l.N != 20 || l.P50 <= 0 {
					t.Errorf("%s (from timelines): %+v", s, l)
				}
			}
			if ph.Unloaded.N != 3 || ph.Unloaded.P50 <= 0 {
				t.Errorf("unloaded: %+v", ph.Unloaded)
			}
			if ph.PaymentsPerSecond <= 0 || ph.TotalCPUPerPaymentUS <= 0 {
				t.Errorf("throughput %.1f/s, CPU/payment %.0fµs", ph.PaymentsPerSecond, ph.TotalCPUPerPaymentUS)
			}
			// The store counters: every approved payment wrote (more
			// than once), a commit holds at least one Update and writes
			// at least a data page and the meta page.
			st := ph.Store
			if st.Commits == 0 || st.Updates < uint64(ph.Approved) || st.Updates < st.Commits || st.WriteSeconds <= 0 {
				t.Errorf("store: %+v for %d approved payments", st, ph.Approved)
			}
			if st.PagesWritten < 2*st.Commits || st.PagesPerPayment < 2 || st.PagesPerPayment > 1000 {
				t.Errorf("store: %d pages for %d commits, %.1f per payment", st.PagesWritten, st.Commits, st.PagesPerPayment)
			}
			if want := float64(st.Updates) / float64(st.Commits); st.UpdatesPerCommit != want || st.UpdatesPerCommit < 1 {
				t.Errorf("store: %.2f Updates per commit, want %.2f (≥ 1)", st.UpdatesPerCommit, want)
			}
			t.Logf("store: %+v", st)
			for _, p := range ph.Processes {
				if p.PeakRSSBytes <= 0 {
					t.Errorf("%s: peak RSS %d", p.Name, p.PeakRSSBytes)
				}
				if p.AnonRSSBytes <= 0 || p.AnonRSSBytes > p.PeakRSSBytes {
					t.Errorf("%s: anon RSS %d, want more than 0 and at most the peak RSS %d", p.Name, p.AnonRSSBytes, p.PeakRSSBytes)
				}
			}
		})
	}
	if n := len(rep.OutOfProcess.Processes); n != 1+len(pluginNames) {
		t.Errorf("out of process measured %d processes, want the daemon and %d plugins", n, len(pluginNames))
	}
	if rep.OutOfProcess.PluginCPUPerPaymentUS < 0 || len(rep.InProcess.Processes) != 1 {
		t.Errorf("in-process processes %+v", rep.InProcess.Processes)
	}
	for _, name := range pluginNames {
		if rep.Raw.ColdStartMS[name] <= 0 {
			t.Errorf("cold start of %s: %v", name, rep.Raw.ColdStartMS[name])
		}
	}
	if rep.Raw.RoundTripOut.WallUS <= 0 || rep.Raw.RoundTripIn.WallUS <= 0 || rep.Raw.FsyncWrite.P50 <= 0 {
		t.Errorf("raw costs %+v", rep.Raw)
	}
	if rep.Ratios.CPUPerPayment <= 0 || rep.Ratios.Throughput <= 0 || rep.Ratios.StoreUpdatesPerCommit <= 0 || rep.Ratios.StorePagesPerPayment <= 0 {
		t.Errorf("ratios %+v", rep.Ratios)
	}
	var table bytes.Buffer
	if err := rep.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"payments/s", "CPU/payment total", "C finish+D+E", "plugin ocra", "fsynced bbolt write",
		"store Updates per commit", "store pages written per payment"} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, table.String())
		}
	}
	t.Log("\n" + table.String())
}

func TestRunRefusesBadOptions(t *testing.T) {
	plugins := map[string]string{"card": "/nonexistent/card"}
	for _, tc := range []struct {
		name string
		o    Options
		want string
	}{
		{"no bound", Options{Payers: 1, Plugins: plugins}, "duration or count"},
		{"no payers", Options{Count: 1, Plugins: plugins}, "payers must be 1 to 10000"},
		{"negative merchants", Options{Payers: 1, Count: 1, Merchants: -1}, "merchants must be 1 to 10000"},
		{"missing plugin", Options{Payers: 1, Count: 1, Plugins: plugins}, "no binary for plugin ocra"},
		{"plugin not a file", Options{Payers: 1, Count: 1, Plugins: plugins}, "plugin card: /nonexistent/card is not a file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			work := t.TempDir()
			tc.o.WorkDir = work
			_, err := Run(context.Background(), tc.o)
			if !errors.Is(err, ErrOptions) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want ErrOptions mentioning %q", err, tc.want)
			}
			if entries, _ := os.ReadDir(work); len(entries) != 0 {
				t.Errorf("work dir holds %d entries after a refusal", len(entries))
			}
		})
	}
}
