package bench

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/switchd/switchd/switchd/internal/metrics"
)

// Report is everything one run measured; it is written as the JSON file.
type Report struct {
	Machine   Machine   `json:"machine"`
	Started   time.Time `json:"started"`
	Payers    int       `json:"payers"`
	Merchants int       `json:"merchants"`
	Duration  string    `json:"duration"`
	Count     int       `json:"count"`
	Raw       *RawCosts `json:"raw"`
	// OutOfProcess is the real daemon with its plugin subprocesses;
	// InProcess the same wiring with the plugins linked in (the ceiling).
	OutOfProcess *Phase `json:"out_of_process"`
	InProcess    *Phase `json:"in_process"`
	Ratios       Ratios `json:"ratios"`
}

// Machine describes the host the benchmark ran on.
type Machine struct {
	CPUs      int    `json:"cpus"`
	CPUModel  string `json:"cpu_model"`
	GoVersion string `json:"go_version"`
	OS        string `json:"os"`
	LoadAvg   string `json:"load_avg_at_start"`
}

// RawCosts are the building blocks' costs.
type RawCosts struct {
	// ColdStartMS is, per plugin, launch (including the sha256 check of
	// the binary) until GetInfo answered.
	ColdStartMS       map[string]float64 `json:"cold_start_ms"`
	RoundTripOut      RoundTrip          `json:"round_trip_out_of_process"`
	RoundTripIn       RoundTrip          `json:"round_trip_in_process"`
	RoundTripCPURatio float64            `json:"round_trip_cpu_ratio"`
	// FsyncWrite is one bbolt Update of one record, fsynced.
	FsyncWrite Percentiles `json:"fsync_write"`
}

// RoundTrip is the mean cost of one Health call through the plugin host.
type RoundTrip struct {
	Calls  int     `json:"calls"`
	WallUS float64 `json:"wall_us"`
	CPUUS  float64 `json:"cpu_us"` // host + plugin process
}

// Phase is one server's load run.
type Phase struct {
	Mode              string  `json:"mode"`
	Approved          int64   `json:"approved"`
	Failed            int64   `json:"failed"`
	ElapsedSeconds    float64 `json:"elapsed_seconds"`
	PaymentsPerSecond float64 `json:"payments_per_second"`
	// Unloaded is the switch time (the four requests) of one payment at
	// a time; UnloadedOverall adds the phone's work between them.
	Unloaded        Percentiles            `json:"unloaded_switch_time"`
	UnloadedOverall Percentiles            `json:"unloaded_overall"`
	UnloadedSteps   map[string]Percentiles `json:"unloaded_steps"`
	Latency         map[string]Percentiles `json:"latency"`
	Errors          map[string]int64       `json:"errors,omitempty"`
	Webhooks        WebhookCount           `json:"webhooks"`
	Processes       []ProcessFigures       `json:"processes"`
	// CPU per approved payment, in microseconds.
	DaemonCPUPerPaymentUS  float64 `json:"daemon_cpu_per_payment_us"`
	PluginCPUPerPaymentUS  float64 `json:"plugin_cpu_per_payment_us"`
	TotalCPUPerPaymentUS   float64 `json:"total_cpu_per_payment_us"`
	LoadGenCPUPerPaymentUS float64 `json:"loadgen_cpu_per_payment_us"`
	// Store is what the daemon's store wrote for the load.
	Store      StoreFigures `json:"store"`
	CPUProfile string       `json:"cpu_profile,omitempty"`
	// PluginProfiles are the plugin processes' CPU profiles (out of
	// process, with --cpuprofile).
	PluginProfiles []string `json:"plugin_profiles,omitempty"`
}

// StoreFigures are the growth of the daemon's store counters
// (switchd_store_*_total on /metrics) from just before the load until
// the load's webhooks had arrived: the load's payments and their
// webhooks' outbox writes, not the warm-up's nor the unloaded payments'.
type StoreFigures struct {
	Commits      uint64  `json:"commits"`
	Updates      uint64  `json:"updates"`
	PagesWritten uint64  `json:"pages_written"`
	WriteSeconds float64 `json:"write_seconds"`
	// UpdatesPerCommit is the mean group-commit batch; the per-payment
	// figures are per approved payment of the load.
	UpdatesPerCommit  float64 `json:"updates_per_commit"`
	UpdatesPerPayment float64 `json:"updates_per_payment"`
	PagesPerPayment   float64 `json:"pages_written_per_payment"`
	WriteUSPerPayment float64 `json:"write_us_per_payment"`
}

// storeFigures computes the load's StoreFigures from the counters before
// and after it, for approved payments.
func storeFigures(before, after metrics.StoreWrites, approved int64) StoreFigures {
	f := StoreFigures{
		Commits:      after.Commits - before.Commits,
		Updates:      after.Updates - before.Updates,
		PagesWritten: after.PagesWritten - before.PagesWritten,
		WriteSeconds: after.WriteSeconds - before.WriteSeconds,
	}
	if f.Commits > 0 {
		f.UpdatesPerCommit = float64(f.Updates) / float64(f.Commits)
	}
	if approved > 0 {
		n := float64(approved)
		f.UpdatesPerPayment = float64(f.Updates) / n
		f.PagesPerPayment = float64(f.PagesWritten) / n
		f.WriteUSPerPayment = f.WriteSeconds * 1e6 / n
	}
	return f
}

// WebhookCount is what the shops' webhook receiver got.
type WebhookCount struct {
	Expected     int `json:"expected"`
	Distinct     int `json:"distinct"`
	Deliveries   int `json:"deliveries"`
	BadSignature int `json:"bad_signature"`
}

// ProcessFigures are one process's CPU during the load and its memory.
type ProcessFigures struct {
	Name            string  `json:"name"`
	PID             int     `json:"pid"`
	CPUSeconds      float64 `json:"cpu_seconds"`
	CPUPerPaymentUS float64 `json:"cpu_per_payment_us"`
	// PeakRSSBytes is the peak resident set (VmHWM), mapped files
	// included: the daemon's grows with its bbolt file.
	PeakRSSBytes int64 `json:"peak_rss_bytes"`
	// AnonRSSBytes is the resident anonymous memory (RssAnon: heap,
	// stacks, runtime) once the load is over.
	AnonRSSBytes int64 `json:"anon_rss_bytes"`
}

// Ratios compare out of process with in process (>1: out of process costs
// more).
type Ratios struct {
	CPUPerPayment     float64 `json:"cpu_per_payment"`
	Throughput        float64 `json:"throughput"` // in-process payments/s over out-of-process
	P99Overall        float64 `json:"p99_overall"`
	UnloadedSwitchP50 float64 `json:"unloaded_switch_p50"`
	// StoreUpdatesPerCommit and StorePagesPerPayment compare the store's
	// figures (see StoreFigures).
	StoreUpdatesPerCommit float64 `json:"store_updates_per_commit"`
	StorePagesPerPayment  float64 `json:"store_pages_written_per_payment"`
}

func (r *Report) ratios() {
	o, i := r.OutOfProcess, r.InProcess
	div := func(a, b float64) float64 {
		if b == 0 {
			return 0
		}
		return a / b
	}
	r.Ratios = Ratios{
		CPUPerPayment:         div(o.TotalCPUPerPaymentUS, i.TotalCPUPerPaymentUS),
		Throughput:            div(i.PaymentsPerSecond, o.PaymentsPerSecond),
		P99Overall:            div(o.Latency[stepOverall].P99, i.Latency[stepOverall].P99),
		UnloadedSwitchP50:     div(o.Unloaded.P50, i.Unloaded.P50),
		StoreUpdatesPerCommit: div(o.Store.UpdatesPerCommit, i.Store.UpdatesPerCommit),
		StorePagesPerPayment:  div(o.Store.PagesPerPayment, i.Store.PagesPerPayment),
	}
}

// WriteTable writes the report as human-readable tables.
func (r *Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	p := func(format string, a ...any) { fmt.Fprintf(tw, format, a...) }
	m := r.Machine
	fmt.Fprintf(w, "machine: %d CPUs, %s, %s, %s, load average at start %s\n", m.CPUs, m.CPUModel, m.GoVersion, m.OS, m.LoadAvg)
	bound := r.Duration
	if r.Count > 0 {
		bound = fmt.Sprintf("%d payments", r.Count)
		if r.Duration != "0s" {
			bound += " or " + r.Duration
		}
	}
	fmt.Fprintf(w, "load: %d concurrent payers at %d shops, %s per phase, card and bank transfer alternating\n\n", r.Payers, r.Merchants, bound)

	p("\tout-of-process\tin-process\tratio\t\n")
	o, i := r.OutOfProcess, r.InProcess
	p("approved payments\t%d\t%d\t\t\n", o.Approved, i.Approved)
	p("failed payments\t%d\t%d\t\t\n", o.Failed, i.Failed)
	p("payments/s\t%.1f\t%.1f\t%.2f\t\n", o.PaymentsPerSecond, i.PaymentsPerSecond, r.Ratios.Throughput)
	p("unloaded switch time p50 (ms)\t%.2f\t%.2f\t%.2f\t\n", o.Unloaded.P50, i.Unloaded.P50, r.Ratios.UnloadedSwitchP50)
	p("CPU/payment daemon (µs)\t%.0f\t%.0f\t\t\n", o.DaemonCPUPerPaymentUS, i.DaemonCPUPerPaymentUS)
	p("CPU/payment plugins (µs)\t%.0f\t-\t\t\n", o.PluginCPUPerPaymentUS)
	p("CPU/payment total (µs)\t%.0f\t%.0f\t%.2f\t\n", o.TotalCPUPerPaymentUS, i.TotalCPUPerPaymentUS, r.Ratios.CPUPerPayment)
	p("CPU/payment load generator (µs)\t%.0f\t%.0f\t\t\n", o.LoadGenCPUPerPaymentUS, i.LoadGenCPUPerPaymentUS)
	p("store Updates per commit\t%.2f\t%.2f\t%.2f\t\n", o.Store.UpdatesPerCommit, i.Store.UpdatesPerCommit, r.Ratios.StoreUpdatesPerCommit)
	p("store pages written per payment\t%.1f\t%.1f\t%.2f\t\n", o.Store.PagesPerPayment, i.Store.PagesPerPayment, r.Ratios.StorePagesPerPayment)
	p("webhooks distinct/expected\t%d/%d\t%d/%d\t\t\n", o.Webhooks.Distinct, o.Webhooks.Expected, i.Webhooks.Distinct, i.Webhooks.Expected)
	p("webhooks delivered twice or more\t%d\t%d\t\t\n", o.Webhooks.Deliveries-o.Webhooks.Distinct, i.Webhooks.Deliveries-i.Webhooks.Distinct)
	if err := tw.Flush(); err != nil {
		return err
	}

	fmt.Fprintln(w, "\nlatency under load (ms): p50 / p95 / p99")
	p("step\tout-of-process\tin-process\tn\t\n")
	for _, s := range []string{stepCreate, stepChoose, stepB, stepBegin, stepFinish, stepD, stepE, stepSwitch, stepOverall} {
		a, b := o.Latency[s], i.Latency[s]
		p("%s\t%.1f / %.1f / %.1f\t%.1f / %.1f / %.1f\t%d\t\n", s, a.P50, a.P95, a.P99, b.P50, b.P95, b.P99, a.N)
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	fmt.Fprintln(w, "\nunloaded, one payment at a time (ms): p50 / p99")
	p("step\tout-of-process\tin-process\tn\t\n")
	for _, s := range clientSteps {
		a, b := o.UnloadedSteps[s], i.UnloadedSteps[s]
		p("%s\t%.2f / %.2f\t%.2f / %.2f\t%d\t\n", s, a.P50, a.P99, b.P50, b.P99, a.N)
	}
	p("%s\t%.2f / %.2f\t%.2f / %.2f\t%d\t\n", stepSwitch, o.Unloaded.P50, o.Unloaded.P99, i.Unloaded.P50, i.Unloaded.P99, o.Unloaded.N)
	if err := tw.Flush(); err != nil {
		return err
	}

	fmt.Fprintln(w, "\nprocesses during the load")
	p("process\tCPU s\tCPU/payment µs\tpeak RSS MiB\tanon RSS MiB\t\n")
	for _, ps := range append(append([]ProcessFigures{}, o.Processes...), i.Processes...) {
		name := ps.Name
		if ps.PID == i.Processes[0].PID {
			name = "switchd (in-process)"
		}
		p("%s\t%.2f\t%.0f\t%.1f\t%.1f\t\n", name, ps.CPUSeconds, ps.CPUPerPaymentUS, float64(ps.PeakRSSBytes)/(1<<20), float64(ps.AnonRSSBytes)/(1<<20))
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	raw := r.Raw
	fmt.Fprintln(w, "\nraw costs")
	names := make([]string, 0, len(raw.ColdStartMS))
	for n := range raw.ColdStartMS {
		names = append(names, n)
	}
	sort.Strings(names)
	var cold []string
	for _, n := range names {
		cold = append(cold, fmt.Sprintf("%s %.1f", n, raw.ColdStartMS[n]))
	}
	p("plugin cold start, launch → GetInfo (ms)\t%s\t\n", strings.Join(cold, ", "))
	p("plugin round trip out of process (µs wall / CPU)\t%.0f / %.0f\t\n", raw.RoundTripOut.WallUS, raw.RoundTripOut.CPUUS)
	p("plugin round trip in process (µs wall / CPU)\t%.0f / %.0f\t\n", raw.RoundTripIn.WallUS, raw.RoundTripIn.CPUUS)
	p("round trip CPU ratio out/in\t%.2f\t\n", raw.RoundTripCPURatio)
	p("fsynced bbolt write p50 / p99 (ms)\t%.2f / %.2f\t\n", raw.FsyncWrite.P50, raw.FsyncWrite.P99)
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, ph := range []*Phase{o, i} {
		if len(ph.Errors) > 0 {
			fmt.Fprintf(w, "\n%s failures:\n", ph.Mode)
			keys := make([]string, 0, len(ph.Errors))
			for k := range ph.Errors {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				fmt.Fprintf(w, "  %6d  %s\n", ph.Errors[k], k)
			}
		}
	}
	return nil
}

// progressBar draws a one-line progress bar on w (stderr).
type progressBar struct {
	w        io.Writer
	label    string
	count    int
	duration time.Duration
}

func newProgressBar(w io.Writer, label string, count int, duration time.Duration) *progressBar {
	return &progressBar{w: w, label: label, count: count, duration: duration}
}

func (b *progressBar) update(done int64, elapsed time.Duration) {
	frac := 0.0
	if b.duration > 0 {
		frac = elapsed.Seconds() / b.duration.Seconds()
	}
	if b.count > 0 {
		frac = max(frac, float64(done)/float64(b.count))
	}
	frac = min(frac, 1)
	const width = 30
	full := int(frac * width)
	rate := 0.0
	if elapsed > 0 {
		rate = float64(done) / elapsed.Seconds()
	}
	fmt.Fprintf(b.w, "\r%-10s [%s%s] %3.0f%% %7d payments %7.1f/s %5.1fs", b.label,
		strings.Repeat("=", full), strings.Repeat(" ", width-full), frac*100, done, rate, elapsed.Seconds())
}

func (b *progressBar) finish() { fmt.Fprintln(b.w) }
