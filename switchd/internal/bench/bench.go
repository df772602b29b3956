package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/switchd/switchd/plugins/ocra/ocraplugin"
	"github.com/switchd/switchd/plugins/sdk"
	"github.com/switchd/switchd/switchd/internal/daemon"
	"github.com/switchd/switchd/switchd/internal/metrics"
	"github.com/switchd/switchd/switchd/internal/pluginhost"
	"github.com/switchd/switchd/switchd/internal/webhook"
)

// Options configure a benchmark run.
type Options struct {
	// Plugins maps each of card, banktransfer, merchantsig and ocra to its
	// binary.
	Plugins map[string]string
	// Payers is the number of concurrent payers (each one seeded payer
	// with its own card, account and OCRA key).
	Payers int
	// Merchants is the number of shops the payers pay at (payer i at shop
	// i mod Merchants). 0 means 1.
	Merchants int
	// Duration and Count bound each load phase: it stops starting
	// payments after Duration, or after Count payments; at least one must
	// be set.
	Duration time.Duration
	Count    int
	// Unloaded is how many payments one payer makes, one after another,
	// after the load phase (once the server is idle again), to measure an
	// unloaded payment (default 100).
	Unloaded int
	// WorkDir holds the network and the data dirs (fresh each phase; it
	// is created if missing); empty means a temporary directory removed
	// at the end.
	WorkDir string
	// Exe and Args start a bench server child: a process that calls
	// ChildMain when IsChild. Empty Exe means this executable with Args.
	Exe  string
	Args []string
	// CPUProfile, when set, is where the daemon's CPU profile during the
	// out-of-process load phase is written (from /debug/pprof/profile);
	// the in-process server's goes to CPUProfile + ".inprocess", and each
	// plugin process's (its whole life, the load being most of it) to
	// CPUProfile + ".plugins/<plugin>.<n>.pprof".
	CPUProfile string
	// Progress and Log receive the progress bar and notes (nil: discard).
	Progress io.Writer
	Log      io.Writer
}

// Run runs the whole benchmark: raw costs (plugin cold start, one plugin
// round trip, one fsynced write), then complete payments against the real
// daemon with its plugin subprocesses, then the same against the
// in-process ceiling, and returns the report.
func Run(ctx context.Context, o Options) (*Report, error) {
	if err := o.check(); err != nil {
		return nil, err
	}
	plugins := map[string]string{}
	for name, p := range o.Plugins {
		abs, err := filepath.Abs(p)
		if err != nil {
			return nil, fmt.Errorf("bench: %w", err)
		}
		plugins[name] = abs
	}
	o.Plugins = plugins
	if o.Exe == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("bench: %w", err)
		}
		o.Exe = exe
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	// The children's stderr is copied by other goroutines; the progress
	// bar and the notes may share the writer.
	var mu sync.Mutex
	o.Progress, o.Log = &lockedWriter{mu: &mu, w: o.Progress}, &lockedWriter{mu: &mu, w: o.Log}
	work := o.WorkDir
	if work != "" {
		if err := os.MkdirAll(work, 0o700); err != nil {
			return nil, fmt.Errorf("bench: work dir: %w", err)
		}
	} else {
		d, err := os.MkdirTemp("", "switchd-bench-")
		if err != nil {
			return nil, fmt.Errorf("bench: %w", err)
		}
		defer os.RemoveAll(d)
		work = d
	}
	rcv, err := newReceiver()
	if err != nil {
		return nil, err
	}
	defer rcv.close()
	netDir := filepath.Join(work, "network")
	if err := os.MkdirAll(netDir, 0o700); err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	n, err := newNetwork(netDir, o.Plugins, o.Payers, o.Merchants, rcv.url)
	if err != nil {
		return nil, err
	}
	rcv.secret = n.WebhookSec

	rep := &Report{Machine: machine(), Payers: o.Payers, Merchants: o.Merchants, Duration: o.Duration.String(), Count: o.Count,
		Started: time.Now().UTC()}
	if rep.Raw, err = rawCosts(ctx, o, work); err != nil {
		return nil, err
	}
	fmt.Fprintln(o.Log, "bench: raw costs measured; out-of-process phase (daemon + plugin subprocesses)")
	if rep.OutOfProcess, err = phase(ctx, o, n, rcv, modeDaemon, filepath.Join(work, "data-daemon")); err != nil {
		return nil, err
	}
	fmt.Fprintln(o.Log, "bench: in-process phase (plugins linked in)")
	if rep.InProcess, err = phase(ctx, o, n, rcv, modeInProcess, filepath.Join(work, "data-inprocess")); err != nil {
		return nil, err
	}
	rep.ratios()
	return rep, nil
}

func (o *Options) check() error {
	var problems []string
	if o.Payers < 1 || o.Payers > maxSeeded {
		problems = append(problems, fmt.Sprintf("payers must be 1 to %d, not %d", maxSeeded, o.Payers))
	}
	if o.Merchants == 0 {
		o.Merchants = 1
	}
	if o.Merchants < 1 || o.Merchants > maxSeeded {
		problems = append(problems, fmt.Sprintf("merchants must be 1 to %d, not %d", maxSeeded, o.Merchants))
	}
	if o.Duration < 0 || o.Count < 0 || (o.Duration == 0 && o.Count == 0) {
		problems = append(problems, "set a positive duration or count (the run must stop by itself)")
	}
	if o.Unloaded == 0 {
		o.Unloaded = 100
	}
	if o.Unloaded < 0 {
		problems = append(problems, fmt.Sprintf("unloaded must be at least 1, not %d", o.Unloaded))
	}
	for _, name := range pluginNames {
		p := o.Plugins[name]
		if p == "" {
			problems = append(problems, "no binary for plugin "+name)
			continue
		}
		if st, err := os.Stat(p); err != nil || st.IsDir() {
			problems = append(problems, fmt.Sprintf("plugin %s: %s is not a file", name, p))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: %s", ErrOptions, strings.Join(problems, "; "))
	}
	return nil
}

// receiver is the shops' webhook endpoint on loopback: it verifies every
// signature and counts deliveries by webhook-id.
type receiver struct {
	url    string
	secret string
	srv    *http.Server
	mu     sync.Mutex
	byID   map[string]int
	bad    int
}

func newReceiver() (*receiver, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("bench: webhook receiver: %w", err)
	}
	r := &receiver{url: "http://" + ln.Addr().String() + "/hooks", byID: map[string]int{}}
	r.srv = &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(req.Body, 1<<20))
		ok := webhook.Verify(r.secret, req.Header, body, 5*time.Minute) == nil
		r.mu.Lock()
		defer r.mu.Unlock()
		if !ok {
			r.bad++
			http.Error(w, "bad signature", http.StatusBadRequest)
			return
		}
		r.byID[req.Header.Get("webhook-id")]++
	})}
	go func() { _ = r.srv.Serve(ln) }()
	return r, nil
}

func (r *receiver) close() { _ = r.srv.Close() }

// reset forgets what was received (between phases).
func (r *receiver) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.byID, r.bad = map[string]int{}, 0
}

// counts returns the distinct webhooks, all deliveries and the bad ones.
func (r *receiver) counts() (distinct, deliveries, bad int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.byID {
		deliveries += c
	}
	return len(r.byID), deliveries, r.bad
}

// waitFor waits until want distinct webhooks arrived or timeout passed.
func (r *receiver) waitFor(want int, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if d, _, _ := r.counts(); d >= want {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// warmUp is how many payments precede the unloaded ones in each phase.
const warmUp = 8

// phase starts a server in mode on a fresh data dir and measures an
// unloaded payment, then the load.
func phase(ctx context.Context, o Options, n *network, rcv *receiver, mode, dataDir string) (*Phase, error) {
	if err := os.RemoveAll(dataDir); err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	rcv.reset()
	spec := childSpec{Mode: mode, ConfigDir: n.Dir, DataDir: dataDir}
	if o.CPUProfile != "" && mode == modeDaemon {
		// The plugins' profiles cover their whole life: the load is most of it.
		spec.PluginProfileDir = o.CPUProfile + ".plugins"
		if err := os.RemoveAll(spec.PluginProfileDir); err != nil {
			return nil, fmt.Errorf("bench: %w", err)
		}
		if err := os.MkdirAll(spec.PluginProfileDir, 0o700); err != nil {
			return nil, fmt.Errorf("bench: %w", err)
		}
	}
	ch, err := startChild(ctx, o.Exe, o.Args, spec, o.Log)
	if err != nil {
		return nil, err
	}
	defer ch.kill()
	ph := &Phase{Mode: mode, Latency: map[string]Percentiles{}, Errors: map[string]int64{}}
	procs := []proc{{Name: "switchd", PID: ch.cmd.Process.Pid}}
	if mode == modeDaemon {
		plugins, err := pluginPIDs(ctx, ch.addrs.Admin)
		if err != nil {
			return nil, err
		}
		procs = append(procs, plugins...)
	}
	d := newDriver(ch.addrs.API, n, o.Payers)
	defer d.close()

	// Warm-up: connections, caches, data files grown.
	warm := d.run(ctx, loadOptions{Payers: min(o.Payers, 4), Count: warmUp})
	if warm.Approved == 0 {
		return nil, fmt.Errorf("%w: warm-up payments failed: %v", ErrNoPayments, warm.Errors)
	}
	rcv.waitFor(int(warm.Approved), 10*time.Second)
	base, _, _ := rcv.counts()

	var profErr chan error
	if o.CPUProfile != "" {
		path := o.CPUProfile
		if mode == modeInProcess {
			path += ".inprocess"
		}
		secs := max(1, int(o.Duration.Seconds()))
		if o.Duration == 0 {
			secs = 5
		}
		profErr = make(chan error, 1)
		go func() { profErr <- fetchProfile(ctx, ch.addrs.Admin, secs, path) }()
	}
	store0, err := storeWrites(ctx, ch.addrs.Admin)
	if err != nil {
		return nil, err
	}
	cpu0 := make([]time.Duration, len(procs))
	for i, p := range procs {
		if cpu0[i], err = procCPU(p.PID); err != nil {
			return nil, err
		}
	}
	self0 := selfCPU()
	bar := newProgressBar(o.Progress, mode, o.Count, o.Duration)
	res := d.run(ctx, loadOptions{Payers: o.Payers, Count: o.Count, Duration: o.Duration, Progress: bar.update})
	bar.finish()
	selfUsed := selfCPU() - self0
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("bench: %s phase interrupted: %w", mode, err)
	}
	for i := range procs {
		c, err := procCPU(procs[i].PID)
		if err != nil {
			return nil, err
		}
		procs[i].CPU = c - cpu0[i]
	}
	if res.Approved == 0 {
		return nil, fmt.Errorf("%w: %s: %v", ErrNoPayments, mode, res.Errors)
	}
	ph.Approved, ph.Failed, ph.Errors = res.Approved, res.Failed, res.Errors
	ph.ElapsedSeconds = res.Elapsed.Seconds()
	ph.PaymentsPerSecond = float64(res.Approved) / res.Elapsed.Seconds()
	for k, v := range res.Latencies {
		ph.Latency[k] = percentiles(v)
	}
	rcv.waitFor(base+int(res.Approved), 30*time.Second)
	distinct, deliveries, bad := rcv.counts()
	// The store's counters once the load's webhooks are out, so that the
	// outbox's writes for them count too (and the unloaded payments not).
	store1, err := storeWrites(ctx, ch.addrs.Admin)
	if err != nil {
		return nil, err
	}
	ph.Store = storeFigures(store0, store1, res.Approved)
	ph.Webhooks = WebhookCount{Expected: base + int(res.Approved), Distinct: distinct, Deliveries: deliveries, BadSignature: bad}

	// Unloaded, once the load's webhooks are out and the server is idle:
	// one payer, one payment after another.
	unloaded := d.run(ctx, loadOptions{Payers: 1, Count: o.Unloaded})
	if unloaded.Approved == 0 {
		return nil, fmt.Errorf("%w: unloaded payments failed: %v", ErrNoPayments, unloaded.Errors)
	}
	ph.Unloaded = percentiles(unloaded.Latencies[stepSwitch])
	ph.UnloadedOverall = percentiles(unloaded.Latencies[stepOverall])
	ph.UnloadedSteps = map[string]Percentiles{}
	for _, s := range clientSteps {
		ph.UnloadedSteps[s] = percentiles(unloaded.Latencies[s])
	}
	rcv.waitFor(ph.Webhooks.Expected+int(unloaded.Approved), 10*time.Second)

	server := map[string][]time.Duration{}
	if err := d.timelines(ctx, res.Paid, 300, server); err != nil {
		fmt.Fprintf(o.Log, "bench: timelines: %v\n", err)
	}
	for k, v := range server {
		ph.Latency[k] = percentiles(v)
	}
	per := func(c time.Duration) float64 { return float64(c.Microseconds()) / float64(res.Approved) }
	for _, p := range procs {
		rss, err := peakRSS(p.PID)
		if err != nil {
			return nil, err
		}
		anon, err := anonRSS(p.PID)
		if err != nil {
			return nil, err
		}
		ph.Processes = append(ph.Processes, ProcessFigures{Name: p.Name, PID: p.PID, CPUSeconds: p.CPU.Seconds(),
			CPUPerPaymentUS: per(p.CPU), PeakRSSBytes: rss, AnonRSSBytes: anon})
		if p.Name == "switchd" {
			ph.DaemonCPUPerPaymentUS = per(p.CPU)
		} else {
			ph.PluginCPUPerPaymentUS += per(p.CPU)
		}
	}
	ph.TotalCPUPerPaymentUS = ph.DaemonCPUPerPaymentUS + ph.PluginCPUPerPaymentUS
	ph.LoadGenCPUPerPaymentUS = per(selfUsed)
	if profErr != nil {
		if err := <-profErr; err != nil {
			fmt.Fprintf(o.Log, "bench: cpu profile: %v\n", err)
		} else {
			ph.CPUProfile = o.CPUProfile
			if mode == modeInProcess {
				ph.CPUProfile += ".inprocess"
			}
		}
	}
	if err := ch.stop(); err != nil {
		return nil, fmt.Errorf("bench: %s server stop: %w", mode, err)
	}
	if spec.PluginProfileDir != "" {
		// Written by each plugin as the stopping daemon ends it.
		files, err := filepath.Glob(filepath.Join(spec.PluginProfileDir, "*.pprof"))
		if err != nil {
			return nil, fmt.Errorf("bench: %w", err)
		}
		ph.PluginProfiles = files
	}
	return ph, nil
}

// proc is one measured process.
type proc struct {
	Name string
	PID  int
	CPU  time.Duration
}

// pluginPIDs asks the daemon's admin API which processes its plugins run
// as.
func pluginPIDs(ctx context.Context, admin string) ([]proc, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+admin+"/v1/admin/status", nil)
	if err != nil {
		return nil, err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("bench: admin status: %w", err)
	}
	defer res.Body.Close()
	var st daemon.Status
	if err := json.NewDecoder(res.Body).Decode(&st); err != nil {
		return nil, fmt.Errorf("bench: admin status: %w", err)
	}
	var out []proc
	for _, p := range st.Plugins {
		if p.PID <= 0 {
			return nil, fmt.Errorf("%w: plugin %s has no process", ErrServer, p.Name)
		}
		out = append(out, proc{Name: "plugin " + p.Name, PID: p.PID})
	}
	if len(out) != len(pluginNames) {
		return nil, fmt.Errorf("%w: the daemon runs %d plugins, want %d", ErrServer, len(out), len(pluginNames))
	}
	return out, nil
}

// storeWrites reads the daemon's store counters from its admin
// listener's /metrics.
func storeWrites(ctx context.Context, admin string) (metrics.StoreWrites, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+admin+"/metrics", nil)
	if err != nil {
		return metrics.StoreWrites{}, err
	}
	res, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return metrics.StoreWrites{}, fmt.Errorf("bench: metrics: %w", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return metrics.StoreWrites{}, fmt.Errorf("%w: /metrics answered %s", ErrServer, res.Status)
	}
	w, err := metrics.ParseStoreWrites(res.Body)
	if err != nil {
		return metrics.StoreWrites{}, fmt.Errorf("bench: %w", err)
	}
	return w, nil
}

// fetchProfile writes the daemon's CPU profile over secs seconds to path.
func fetchProfile(ctx context.Context, admin string, secs int, path string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", admin, secs), nil)
	if err != nil {
		return err
	}
	res, err := (&http.Client{Timeout: time.Duration(secs+30) * time.Second}).Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("%w: /debug/pprof/profile answered %s", ErrServer, res.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, res.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// rawCosts measures what a payment is built from: each plugin's cold
// start, one plugin round trip out of and in process, and one fsynced
// bbolt write.
func rawCosts(ctx context.Context, o Options, work string) (*RawCosts, error) {
	raw := &RawCosts{ColdStartMS: map[string]float64{}}
	logger := slog.New(slog.NewTextHandler(o.Log, &slog.HandlerOptions{Level: slog.LevelWarn}))
	var ocra *pluginhost.Host
	for _, name := range pluginNames {
		sum, err := pluginhost.FileSHA256(o.Plugins[name])
		if err != nil {
			return nil, fmt.Errorf("bench: %w", err)
		}
		h := pluginhost.New(pluginhost.Options{Logger: logger, LogLevel: "warn"})
		t := time.Now()
		if err := h.Start(ctx, []pluginhost.Spec{{Name: name, Path: o.Plugins[name], SHA256: sum}}); err != nil {
			return nil, fmt.Errorf("bench: cold start: %w", err)
		}
		raw.ColdStartMS[name] = ms(time.Since(t))
		if name == "ocra" {
			ocra = h
			continue
		}
		if err := h.Close(); err != nil {
			return nil, err
		}
	}
	defer ocra.Close()
	const calls = 2000
	out, err := roundTrips(ctx, ocra, calls)
	if err != nil {
		return nil, err
	}
	in := pluginhost.InProcess(map[string]sdk.Plugin{"ocra": ocraplugin.New()})
	defer in.Close()
	inRT, err := roundTrips(ctx, in, calls)
	if err != nil {
		return nil, err
	}
	raw.RoundTripOut, raw.RoundTripIn = out, inRT
	if inRT.CPUUS > 0 {
		raw.RoundTripCPURatio = out.CPUUS / inRT.CPUUS
	}
	raw.FsyncWrite, err = fsyncWrites(filepath.Join(work, "fsync.db"), 200)
	return raw, err
}

// roundTrips times calls Health round trips through host (via Status, one
// plugin). CPU is this process's plus the plugin process's.
func roundTrips(ctx context.Context, h *pluginhost.Host, calls int) (RoundTrip, error) {
	st := h.Status(ctx)
	if len(st) != 1 || !st[0].Healthy {
		return RoundTrip{}, fmt.Errorf("%w: round trip: plugin not healthy: %+v", ErrServer, st)
	}
	pid := st[0].PID
	var p0 time.Duration
	if pid > 0 {
		p0, _ = procCPU(pid)
	}
	s0, t := selfCPU(), time.Now()
	for range calls {
		if st := h.Status(ctx); !st[0].Healthy {
			return RoundTrip{}, fmt.Errorf("%w: round trip: %s", ErrServer, st[0].Message)
		}
	}
	wall, cpu := time.Since(t), selfCPU()-s0
	if pid > 0 {
		p1, _ := procCPU(pid)
		cpu += p1 - p0
	}
	return RoundTrip{Calls: calls, WallUS: float64(wall.Microseconds()) / float64(calls), CPUUS: float64(cpu.Microseconds()) / float64(calls)}, nil
}

// fsyncWrites times n bbolt Updates of one small record each, fsynced, in
// a fresh file at path (on the same file system as the data dirs).
func fsyncWrites(path string, n int) (Percentiles, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		return Percentiles{}, fmt.Errorf("bench: fsync probe: %w", err)
	}
	defer os.Remove(path)
	defer db.Close()
	val := make([]byte, 512)
	lat := make([]time.Duration, 0, n)
	for i := range n {
		t := time.Now()
		err := db.Update(func(tx *bolt.Tx) error {
			b, err := tx.CreateBucketIfNotExists([]byte("probe"))
			if err != nil {
				return err
			}
			return b.Put([]byte(fmt.Sprintf("k%08d", i)), val)
		})
		if err != nil {
			return Percentiles{}, fmt.Errorf("bench: fsync probe: %w", err)
		}
		lat = append(lat, time.Since(t))
	}
	return percentiles(lat), nil
}

// machine describes where the benchmark ran.
func machine() Machine {
	m := Machine{CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), OS: runtime.GOOS + "/" + runtime.GOARCH}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		m.LoadAvg = strings.Join(strings.Fields(string(b))[:3], " ")
	}
	return m
}

// lockedWriter serializes writes to w under mu.
type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
