package daemon

import (
	"bytes"
	"cmp"
	"context"
	"crypto/ed25519"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/hcl/v2"
	"google.golang.org/protobuf/proto"

	"github.com/switchd/switchd/config"
	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
	"github.com/switchd/switchd/plugins/sdk"
	"github.com/switchd/switchd/switchd/internal/api"
	"github.com/switchd/switchd/switchd/internal/flow"
	"github.com/switchd/switchd/switchd/internal/metrics"
	"github.com/switchd/switchd/switchd/internal/outbox"
	"github.com/switchd/switchd/switchd/internal/page"
	"github.com/switchd/switchd/switchd/internal/pluginhost"
	"github.com/switchd/switchd/switchd/internal/store"
)

// Daemon is a running switchd.
type Daemon struct {
	set     *config.Settings
	log     *slog.Logger
	metrics *metrics.Metrics
	host    *pluginhost.Host
	store   *store.BoltStore
	engine  *flow.Engine
	worker  *outbox.Worker
	linked  map[string]sdk.Plugin // see LinkPlugins
	// profileDir is where plugin processes write CPU profiles; see
	// ProfilePlugins.
	profileDir string

	reloadMu sync.Mutex
	specs    map[string]pluginhost.Spec      // running plugins
	applied  map[useKey]*pb.ConfigureRequest // last accepted Configure per plugin use
	answers  map[useKey]*pb.ConfigureResponse
	gen      int64
	net      atomic.Pointer[config.Network]

	apiLn, adminLn net.Listener
	servers        []*http.Server
	cancel         context.CancelFunc
	wg             sync.WaitGroup
	ready          atomic.Bool
	closeOnce      sync.Once
}

// useKey names one institution's use of a plugin.
type useKey struct {
	plugin, inst string
	kind         pb.Kind
	method       pb.Method
}

// New returns a daemon for settings set. It starts nothing.
func New(set *config.Settings, logger *slog.Logger) *Daemon {
	if logger == nil {
		logger = slog.Default()
	}
	return &Daemon{set: set, log: logger, specs: map[string]pluginhost.Spec{},
		applied: map[useKey]*pb.ConfigureRequest{}, answers: map[useKey]*pb.ConfigureResponse{}}
}

// LinkPlugins makes Start serve the named plugins from impls, linked into
// this process behind an in-memory gRPC connection, instead of launching
// their binaries; the paths and digests of their plugin blocks are then
// not checked. It exists so that `switchd bench` can measure the daemon
// with out-of-process plugins against exactly the same daemon with the
// plugins in process; `switchd serve` never calls it. Call it before
// Start.
func (d *Daemon) LinkPlugins(impls map[string]sdk.Plugin) { d.linked = impls }

// ProfilePlugins makes every plugin process write its CPU profile into
// dir (which must exist) when it stops, as <plugin>.<n>.pprof
// (pluginhost.Options.CPUProfileDir). It exists for `switchd bench
// --cpuprofile`; `switchd serve` never calls it. Call it before Start.
func (d *Daemon) ProfilePlugins(dir string) { d.profileDir = dir }

// Start brings the daemon up (see the package doc for the order) and
// returns once it listens. Its last act is the info line "switchd serving"
// with the bound addresses as attributes api and admin: with port 0 in
// an address, the kernel picks the port and that line is how a process
// running `switchd serve` learns it (the reliability harness does). On
// error everything started is stopped again.
func (d *Daemon) Start(ctx context.Context) (err error) {
	defer func() {
		if err != nil {
			d.Close()
		}
	}()
	d.metrics = metrics.New()
	if err := os.MkdirAll(d.set.DataDir, 0o700); err != nil {
		return fmt.Errorf("daemon: data dir: %w", err)
	}
	// The store opens before any plugin is configured: host_state plugins
	// keep their records in it, and Configure loads them.
	d.store, err = store.Open(filepath.Join(d.set.DataDir, "switchd.db"), store.Options{})
	if err != nil {
		return fmt.Errorf("daemon: %w", err)
	}
	hostOpts := pluginhost.Options{Logger: d.log, LogLevel: d.set.LogLevel, CallTimeout: d.set.PluginCallTimeout,
		GOMAXPROCS: d.set.PluginGOMAXPROCS, CPUProfileDir: d.profileDir, State: pluginhost.NewStoreState(d.store)}
	if d.linked != nil {
		d.host = pluginhost.InProcess(d.linked, hostOpts)
	} else {
		d.host = pluginhost.New(hostOpts)
	}
	cfg, diags, err := d.load(ctx)
	if err != nil {
		if diags != "" {
			return fmt.Errorf("%w:\n%s", err, diags)
		}
		return err
	}
	if diags != "" {
		d.log.Warn("configuration warnings", "diagnostics", diags)
	}
	d.metrics.RegisterStoreWrites(func() metrics.StoreWrites {
		w := d.store.WriteStats()
		return metrics.StoreWrites{Commits: w.Commits, Updates: w.Updates, PagesWritten: w.PagesWritten, WriteSeconds: w.WriteTime.Seconds()}
	})
	tokenKey, err := loadTokenKey(filepath.Join(d.set.DataDir, "token.key"))
	if err != nil {
		return err
	}
	runCtx, cancel := context.WithCancel(context.Background())
	d.cancel = cancel
	var worker atomic.Pointer[outbox.Worker]
	d.engine, err = flow.New(flow.Options{
		Store: d.store, Plugins: d.host, Logger: d.log.With("component", "flow"), Metrics: d.metrics,
		PublicURL: d.set.PublicURL, DefaultExpiry: d.set.DefaultExpiry, PluginCallTimeout: d.set.PluginCallTimeout,
		TokenKey: tokenKey,
		Kick: func() {
			if w := worker.Load(); w != nil {
				w.Kick()
			}
		},
		Resend: func(ctx context.Context, id string) error { return worker.Load().Resend(ctx, id) },
	}, cfg)
	if err != nil {
		return err
	}
	d.worker = outbox.New(d.store, map[string]outbox.Handler{
		store.KindWebhook:        outbox.WebhookHandler(d.webhookTarget, nil),
		store.KindAcquirerNotice: d.engine.HandleAcquirerNotice,
	}, outbox.Policy{MaxAttempts: d.set.WebhookMaxAttempts, InitialBackoff: d.set.WebhookInitialBackoff, MaxBackoff: d.set.WebhookMaxBackoff,
		// Step D's notice to the acquirer gets its own, larger share of
		// delivery slots so it never queues behind slow merchant webhooks.
		KindConcurrency: map[string]int{store.KindAcquirerNotice: 64}},
		d.log.With("component", "outbox"))
	worker.Store(d.worker)
	d.goRun(func() { _ = d.worker.Run(runCtx) })
	n := d.engine.Recover(ctx)
	d.log.Info("recovered interrupted payments", "count", n)
	d.goRun(func() { d.engine.SweepLoop(runCtx) })

	srv := api.New(api.Options{
		Engine: d.engine, MerchantByKeyHash: d.merchantByKeyHash, PublicURL: d.set.PublicURL,
		Metrics: d.metrics, Logger: d.log.With("component", "api"),
		Limits: api.Limits{MerchantRate: float64(d.set.MerchantRate), MerchantBurst: d.set.MerchantBurst},
		Admin:  api.AdminDeps{Reload: d.Reload, Status: d.status, Ready: d.readyErr, Backup: d.store.Snapshot},
	})
	pg, err := page.New(d.log.With("component", "page"))
	if err != nil {
		return fmt.Errorf("daemon: payment page: %w", err)
	}
	public := http.NewServeMux()
	public.Handle("/pay/", pg)
	public.Handle("/", srv.PublicHandler())
	if d.apiLn, err = net.Listen("tcp", d.set.APIAddr); err != nil {
		return fmt.Errorf("daemon: api listener: %w", err)
	}
	if d.adminLn, err = net.Listen("tcp", d.set.AdminAddr); err != nil {
		return fmt.Errorf("daemon: admin listener: %w", err)
	}
	d.serve(d.apiLn, public)
	d.serve(d.adminLn, srv.AdminHandler())
	d.ready.Store(true)
	d.log.Info("switchd serving", "api", d.apiLn.Addr().String(), "admin", d.adminLn.Addr().String(), "generation", cfg.Generation)
	return nil
}

func (d *Daemon) goRun(f func()) {
	d.wg.Add(1)
	go func() { defer d.wg.Done(); f() }()
}

func (d *Daemon) serve(ln net.Listener, h http.Handler) {
	// Zero timeouts (Settings built in code rather than loaded) take the
	// settings' defaults.
	rht, rt := cmp.Or(d.set.ReadHeaderTimeout, 10*time.Second), cmp.Or(d.set.ReadTimeout, 30*time.Second)
	s := &http.Server{Handler: h, ReadHeaderTimeout: rht, ReadTimeout: rt,
		WriteTimeout: 60 * time.Second, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10}
	d.servers = append(d.servers, s)
	d.goRun(func() {
		if err := s.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			d.log.Error("listener stopped", "addr", ln.Addr().String(), "err", err)
		}
	})
}

// APIAddr is the address the public API listens on.
func (d *Daemon) APIAddr() string { return d.apiLn.Addr().String() }

// AdminAddr is the address the admin API listens on.
func (d *Daemon) AdminAddr() string { return d.adminLn.Addr().String() }

// Engine is the flow engine.
func (d *Daemon) Engine() *flow.Engine { return d.engine }

// Store is the daemon's store.
func (d *Daemon) Store() store.Store { return d.store }

func (d *Daemon) readyErr() error {
	if !d.ready.Load() {
		return errors.New("starting")
	}
	return nil
}

// Shutdown stops the daemon gracefully: listeners stop taking requests
// and finish those in progress (until ctx ends), then the sweeper and the
// outbox worker stop, the plugins are stopped and the store is closed.
func (d *Daemon) Shutdown(ctx context.Context) error {
	d.ready.Store(false)
	var errs []error
	for _, s := range d.servers {
		if err := s.Shutdown(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	errs = append(errs, d.Close())
	return errors.Join(errs...)
}

// Close stops everything at once.
func (d *Daemon) Close() error {
	var err error
	d.closeOnce.Do(func() {
		for _, s := range d.servers {
			s.Close()
		}
		if d.apiLn != nil {
			d.apiLn.Close()
		}
		if d.adminLn != nil {
			d.adminLn.Close()
		}
		if d.cancel != nil {
			d.cancel()
		}
		d.wg.Wait()
		if d.host != nil {
			err = errors.Join(err, d.host.Close())
		}
		if d.store != nil {
			err = errors.Join(err, d.store.Close())
		}
	})
	return err
}

// merchantByKeyHash resolves an API key's SHA-256 in the current network,
// comparing in constant time against every merchant.
func (d *Daemon) merchantByKeyHash(sum [32]byte) (string, bool) {
	id, found := "", 0
	for _, m := range d.net.Load().Merchants {
		if subtle.ConstantTimeCompare(m.APIKeySHA256[:], sum[:]) == 1 {
			id, found = m.ID, 1
		}
	}
	return id, found == 1
}

func (d *Daemon) webhookTarget(merchantID string) (string, string, bool) {
	m, ok := d.net.Load().Merchants[merchantID]
	if !ok || m.WebhookURL == "" {
		return "", "", false
	}
	return m.WebhookURL, m.WebhookSecret, true
}

// Status is what GET /v1/admin/status shows.
type Status struct {
	Generation   int64               `json:"generation"`
	Institutions []InstitutionStatus `json:"institutions"`
	Plugins      []pluginhost.Status `json:"plugins"`
}

// InstitutionStatus describes one institution.
type InstitutionStatus struct {
	ID       string   `json:"id"`
	Name     string   `json:"name"`
	Roles    []string `json:"roles"`
	BankCode string   `json:"bank_code,omitempty"`
	Methods  []string `json:"methods"`
}

func (d *Daemon) status(ctx context.Context) any {
	st := Status{Generation: d.engine.Config().Generation, Plugins: d.host.Status(ctx)}
	for _, in := range d.net.Load().Institutions {
		is := InstitutionStatus{ID: in.ID, Name: in.DisplayName, Roles: in.Roles, BankCode: in.BankCode}
		for m := range in.Methods {
			is.Methods = append(is.Methods, config.MethodName(m))
		}
		sort.Strings(is.Methods)
		st.Institutions = append(st.Institutions, is)
	}
	sort.Slice(st.Institutions, func(i, j int) bool { return st.Institutions[i].ID < st.Institutions[j].ID })
	return st
}

// Reload re-reads the network configuration and switches to it when it is
// valid and every plugin use accepted its settings. Otherwise the current
// configuration keeps serving and the diagnostics are returned (and
// logged).
func (d *Daemon) Reload(ctx context.Context) (string, error) {
	cfg, diags, err := d.load(ctx)
	if err != nil {
		d.log.Error("reload rejected; the current configuration keeps serving", "err", err, "diagnostics", diags)
		return diags, err
	}
	d.engine.SetConfig(cfg)
	d.log.Info("configuration reloaded", "generation", cfg.Generation, "warnings", diags)
	return diags, nil
}

// load parses, decodes and applies the configuration: it launches new
// plugins, configures every plugin use, and returns the next generation.
// Nothing is switched over here except the network used by merchant
// lookups, once everything succeeded.
func (d *Daemon) load(ctx context.Context) (*flow.Config, string, error) {
	d.reloadMu.Lock()
	defer d.reloadMu.Unlock()
	files, diags := config.Parse(d.set.ConfigPath)
	if diags.HasErrors() {
		return nil, d.diagText(files, diags), ErrConfig
	}
	warnings := diags
	newSpecs, err := d.pluginSpecs(files)
	if err != nil {
		return nil, err.Error(), err
	}
	if len(newSpecs) > 0 {
		if err := d.host.Start(ctx, newSpecs); err != nil {
			return nil, err.Error(), fmt.Errorf("%w: %w", ErrConfig, err)
		}
		for _, s := range newSpecs {
			d.specs[s.Name] = s
		}
	}
	infos := d.host.Infos()
	network, diags := files.Decode(infos)
	if diags.HasErrors() {
		return nil, d.diagText(files, diags), ErrConfig
	}
	warnings = append(warnings, diags...)
	keys, err := d.configure(ctx, network)
	if err != nil {
		return nil, err.Error(), fmt.Errorf("%w: %w", ErrConfig, err)
	}
	d.gen++
	d.net.Store(network)
	var text string
	if len(warnings) > 0 {
		text = d.diagText(files, warnings)
	}
	return &flow.Config{Generation: d.gen, Network: network, Infos: infos, AttestationKeys: keys}, text, nil
}

func (d *Daemon) diagText(files *config.Files, diags hcl.Diagnostics) string {
	var buf bytes.Buffer
	var src map[string][]byte
	if files != nil {
		src = files.Sources()
	}
	if err := config.WriteDiagnostics(&buf, src, diags, false); err != nil {
		return diags.Error()
	}
	return buf.String()
}

// pluginSpecs resolves the plugin blocks to specs and returns those not
// yet running. A running plugin whose path or digest changed is an error.
func (d *Daemon) pluginSpecs(files *config.Files) ([]pluginhost.Spec, error) {
	lockPath := d.set.LockFile
	if lockPath == "" {
		lockPath = filepath.Join(d.set.DataDir, "plugins.lock.hcl")
	}
	lock := map[string]pluginhost.LockEntry{}
	if _, err := os.Stat(lockPath); err == nil {
		if lock, err = pluginhost.ReadLock(lockPath); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrConfig, err)
		}
	}
	var out []pluginhost.Spec
	var problems []string
	for _, p := range files.Plugins() {
		if _, ok := d.linked[p.Name]; ok {
			continue // served in process (LinkPlugins)
		}
		path := p.Path
		if !filepath.IsAbs(path) {
			path = filepath.Join(d.set.PluginDir, path)
		}
		if abs, err := filepath.Abs(path); err == nil {
			path = abs
		}
		sum, err := pluginhost.PinnedSHA256(p.Name, p.SHA256, lock)
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		spec := pluginhost.Spec{Name: p.Name, Path: path, SHA256: sum}
		if cur, ok := d.specs[p.Name]; ok {
			if cur != spec {
				return nil, fmt.Errorf("%w: plugin %q", ErrPluginChanged, p.Name)
			}
			continue
		}
		out = append(out, spec)
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("%w: %s", ErrConfig, strings.Join(problems, "; "))
	}
	return out, nil
}

// configure sends every plugin use of network its settings, skipping uses
// whose settings did not change. If one is rejected, those already
// changed are configured back to their previous settings. It returns the
// attestation keys by institution.
func (d *Daemon) configure(ctx context.Context, network *config.Network) (map[string]map[string]ed25519.PublicKey, error) {
	type use struct {
		key useKey
		req *pb.ConfigureRequest
	}
	var uses []use
	ids := make([]string, 0, len(network.Institutions))
	for id := range network.Institutions {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	dataDir, err := filepath.Abs(d.set.DataDir)
	if err != nil {
		return nil, err
	}
	for _, id := range ids {
		in := network.Institutions[id]
		info := &pb.InstitutionInfo{Id: in.ID, DisplayName: in.DisplayName, BankCode: in.BankCode, Roles: in.Roles}
		for _, r := range in.BINRanges {
			info.BinRanges = append(info.BinRanges, r.String())
		}
		add := func(k useKey, u *config.PluginUse) {
			dir := filepath.Join(dataDir, "plugins", u.Plugin, in.ID)
			uses = append(uses, use{k, &pb.ConfigureRequest{InstanceId: in.ID, Kind: k.kind, Method: k.method,
				ConfigJson: u.ConfigJSON, DataDir: dir, Institution: info}})
		}
		for _, a := range in.Authenticators {
			add(useKey{a.Plugin, in.ID, pb.Kind_KIND_AUTHENTICATOR, pb.Method_METHOD_UNSPECIFIED}, a)
		}
		methods := make([]pb.Method, 0, len(in.Methods))
		for m := range in.Methods {
			methods = append(methods, m)
		}
		sort.Slice(methods, func(i, j int) bool { return methods[i] < methods[j] })
		for _, m := range methods {
			add(useKey{in.Methods[m].Plugin, in.ID, pb.Kind_KIND_PAYMENT_METHOD, m}, in.Methods[m])
		}
	}
	type prev struct {
		key useKey
		req *pb.ConfigureRequest
		res *pb.ConfigureResponse
	}
	var changed []prev
	rollback := func() {
		for _, c := range changed {
			if c.req == nil {
				delete(d.applied, c.key)
				delete(d.answers, c.key)
				continue
			}
			if _, err := d.host.Configure(ctx, c.key.plugin, c.req); err != nil {
				d.log.Error("could not restore a plugin's previous settings", "plugin", c.key.plugin, "institution", c.key.inst, "err", err)
			}
			d.applied[c.key], d.answers[c.key] = c.req, c.res
		}
	}
	for _, u := range uses {
		if old := d.applied[u.key]; old != nil && proto.Equal(old, u.req) {
			continue
		}
		if err := os.MkdirAll(u.req.DataDir, 0o700); err != nil {
			rollback()
			return nil, err
		}
		res, err := d.host.Configure(ctx, u.key.plugin, u.req)
		if err == nil && sdk.HasErrors(res.GetDiagnostics()) {
			err = fmt.Errorf("%s", diagnostics(res.GetDiagnostics()))
		}
		if err != nil {
			rollback()
			return nil, fmt.Errorf("institution %q, plugin %q: %w", u.key.inst, u.key.plugin, err)
		}
		for _, dg := range res.GetDiagnostics() {
			d.log.Warn("plugin configuration warning", "institution", u.key.inst, "plugin", u.key.plugin, "summary", dg.GetSummary(), "detail", dg.GetDetail())
		}
		changed = append(changed, prev{u.key, d.applied[u.key], d.answers[u.key]})
		d.applied[u.key], d.answers[u.key] = u.req, res
	}
	keys := map[string]map[string]ed25519.PublicKey{}
	for _, u := range uses {
		for _, k := range d.answers[u.key].GetAttestationKeys() {
			if len(k.GetEd25519()) != ed25519.PublicKeySize {
				continue
			}
			if keys[u.key.inst] == nil {
				keys[u.key.inst] = map[string]ed25519.PublicKey{}
			}
			keys[u.key.inst][k.GetKeyId()] = ed25519.PublicKey(k.GetEd25519())
		}
	}
	return keys, nil
}

func diagnostics(ds []*pb.Diagnostic) string {
	var parts []string
	for _, d := range ds {
		if d.GetSeverity() != pb.Severity_SEVERITY_ERROR {
			continue
		}
		s := d.GetSummary()
		if d.GetDetail() != "" {
			s += ": " + d.GetDetail()
		}
		if len(d.GetPath()) > 0 {
			s += " (at " + strings.Join(d.GetPath(), ".") + ")"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "; ")
}
