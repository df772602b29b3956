package pluginhost

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
	"github.com/switchd/switchd/plugins/sdk"
)

// Defaults for Options.
const (
	DefaultCallTimeout = 10 * time.Second
	// DefaultStateLoadTimeout bounds loading one instance's state into a
	// host_state plugin (see Options.StateLoadTimeout).
	DefaultStateLoadTimeout = 10 * time.Minute
	DefaultHealthTimeout    = 2 * time.Second
)

// Restart backoff: the first restart waits minBackoff; a process that dies
// again within stableAfter of its start doubles the wait, up to maxBackoff.
const (
	minBackoff  = 50 * time.Millisecond
	maxBackoff  = 30 * time.Second
	stableAfter = 10 * time.Second
)

// Spec is one plugin to launch.
type Spec struct{ Name, Path, SHA256 string } // SHA256: lower-case hex; "" => refused (fail closed)

// Options configure a Host.
type Options struct {
	Logger        *slog.Logger  // plugin stderr (hclog JSON) is re-logged here with attr plugin=<name>
	LogLevel      string        // passed to plugins as SWITCHD_PLUGIN_LOG_LEVEL
	CallTimeout   time.Duration // cap for a call whose ctx has no deadline (default 10s)
	HealthTimeout time.Duration // default 2s
	// GOMAXPROCS is the GOMAXPROCS of every plugin process; 0 means
	// DefaultPluginProcs() (see there).
	GOMAXPROCS int
	// CPUProfileDir, if set, asks every plugin process for its CPU profile
	// (sdk.CPUProfileEnv), written when the process ends to
	// <dir>/<plugin>.<n>.pprof, n counting the plugin's launches from 1.
	// For `switchd bench --cpuprofile`; the directory must exist.
	CPUProfileDir string
	// StateLoadTimeout bounds what a host_state plugin's instance needs
	// before its Configure: ExportState, the commit of what it exported,
	// and LoadState (default DefaultStateLoadTimeout). They carry the
	// instance's whole state, which grows with its history, so they are
	// not held to CallTimeout; the Configure after them is.
	StateLoadTimeout time.Duration
	// State keeps the durable records of the plugins that list
	// sdk.CapHostState (see the package doc, "Plugin state kept by the
	// host"). Without it the host refuses to configure such a plugin
	// (ErrNoState): it never runs one without durability.
	State StateStore
}

// Status describes one plugin, as reported by Host.Status. Its JSON form
// (GET /v1/admin/status) uses the field names of `switchd plugins list
// --json`, which prints Status too: name, version, kinds (as KindName
// gives them), path, sha256, healthy, message (omitted when empty), pid
// (omitted when there is no process) and restarts.
type Status struct {
	Name, Version, Path, SHA256 string
	Kinds                       []pb.Kind
	Healthy                     bool
	Message                     string
	PID                         int
	Restarts                    int
}

// statusJSON is Status's JSON form.
type statusJSON struct {
	Name     string   `json:"name"`
	Version  string   `json:"version"`
	Kinds    []string `json:"kinds"`
	Path     string   `json:"path"`
	SHA256   string   `json:"sha256"`
	Healthy  bool     `json:"healthy"`
	Message  string   `json:"message,omitempty"`
	PID      int      `json:"pid,omitempty"`
	Restarts int      `json:"restarts"`
}

// MarshalJSON writes s in its documented JSON form.
func (s Status) MarshalJSON() ([]byte, error) {
	kinds := make([]string, 0, len(s.Kinds))
	for _, k := range s.Kinds {
		kinds = append(kinds, KindName(k))
	}
	return json.Marshal(statusJSON{s.Name, s.Version, kinds, s.Path, s.SHA256, s.Healthy, s.Message, s.PID, s.Restarts})
}

// UnmarshalJSON reads the form MarshalJSON writes (clients of the admin
// API, such as switchd bench, decode it into Status).
func (s *Status) UnmarshalJSON(b []byte) error {
	var j statusJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	kinds := make([]pb.Kind, 0, len(j.Kinds))
	for _, name := range j.Kinds {
		k, ok := pb.Kind_value["KIND_"+strings.ToUpper(name)]
		if !ok {
			return fmt.Errorf("pluginhost: unknown plugin kind %q", name)
		}
		kinds = append(kinds, pb.Kind(k))
	}
	*s = Status{Name: j.Name, Version: j.Version, Path: j.Path, SHA256: j.SHA256, Kinds: kinds,
		Healthy: j.Healthy, Message: j.Message, PID: j.PID, Restarts: j.Restarts}
	return nil
}

// KindName is a plugin kind as operators read it: "authenticator",
// "payment_method".
func KindName(k pb.Kind) string {
	return strings.ToLower(strings.TrimPrefix(k.String(), "KIND_"))
}

// Host launches and supervises plugin processes. Its methods are safe for
// concurrent use.
type Host struct {
	opts Options

	mu      sync.Mutex
	plugins map[string]*supervised
	closed  bool
}

// New returns a Host with no plugins. It starts nothing.
func New(opts Options) *Host {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.LogLevel == "" {
		opts.LogLevel = "info"
	}
	if opts.CallTimeout <= 0 {
		opts.CallTimeout = DefaultCallTimeout
	}
	if opts.StateLoadTimeout <= 0 {
		opts.StateLoadTimeout = DefaultStateLoadTimeout
	}
	if opts.HealthTimeout <= 0 {
		opts.HealthTimeout = DefaultHealthTimeout
	}
	if opts.GOMAXPROCS <= 0 {
		opts.GOMAXPROCS = DefaultPluginProcs()
	}
	return &Host{opts: opts, plugins: map[string]*supervised{}}
}

// Start launches every spec, checking each binary's digest before it is
// executed, and calls GetInfo on each. It is all or nothing: on any error
// the plugins it started are killed and the host is left as it was.
func (h *Host) Start(ctx context.Context, specs []Spec) error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return ErrClosed
	}
	seen := map[string]bool{}
	for _, s := range specs {
		if s.Name == "" {
			h.mu.Unlock()
			return fmt.Errorf("pluginhost: plugin with path %q has no name", s.Path)
		}
		if _, ok := h.plugins[s.Name]; ok || seen[s.Name] {
			h.mu.Unlock()
			return fmt.Errorf("%w: %q", ErrDuplicate, s.Name)
		}
		seen[s.Name] = true
	}
	h.mu.Unlock()

	var started []*supervised
	fail := func(err error) error {
		for _, s := range started {
			s.close()
		}
		return err
	}
	for _, spec := range specs {
		if err := ctx.Err(); err != nil {
			return fail(fmt.Errorf("pluginhost: start: %w", err))
		}
		s := &supervised{
			name:    spec.Name,
			spec:    spec,
			opts:    h.opts,
			log:     h.opts.Logger.With("plugin", spec.Name),
			hclog:   newSlogAdapter(h.opts.Logger, spec.Name),
			configs: map[string]*pb.ConfigureRequest{},
			done:    make(chan struct{}),
			backoff: minBackoff,
		}
		p, err := launch(spec, h.opts, s.hclog, s.nextProfile())
		if err != nil {
			return fail(err)
		}
		info, err := s.getInfo(ctx, p)
		if err != nil {
			p.kill()
			return fail(err)
		}
		s.cur, s.info = p, info
		started = append(started, s)
		s.wg.Add(1)
		go s.watch(p)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return fail(ErrClosed)
	}
	for _, s := range started {
		h.plugins[s.name] = s
	}
	return nil
}

func (h *Host) get(name string) (*supervised, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, ErrClosed
	}
	s, ok := h.plugins[name]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownPlugin, name)
	}
	return s, nil
}

// Info returns plugin name's GetInfo answer.
func (h *Host) Info(name string) (*pb.GetInfoResponse, bool) {
	s, err := h.get(name)
	if err != nil {
		return nil, false
	}
	info := s.getInfoCached()
	return info, info != nil
}

// Infos returns every plugin's GetInfo answer by name.
func (h *Host) Infos() map[string]*pb.GetInfoResponse {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make(map[string]*pb.GetInfoResponse, len(h.plugins))
	for name, s := range h.plugins {
		if info := s.getInfoCached(); info != nil {
			out[name] = info
		}
	}
	return out
}

// Configure sends req to plugin name and, when the plugin accepts it (no
// error and no SEVERITY_ERROR diagnostic), remembers it per
// (name, req.InstanceId) so that it is re-sent after a restart. A rejected
// request changes nothing: the plugin keeps its previous settings and the
// previously remembered request stays.
func (h *Host) Configure(ctx context.Context, name string, req *pb.ConfigureRequest) (*pb.ConfigureResponse, error) {
	s, err := h.get(name)
	if err != nil {
		return nil, err
	}
	if req.GetInstanceId() == "" {
		return nil, sdk.InvalidArgument("instance_id", "missing")
	}
	return s.configure(ctx, req)
}

func (h *Host) kind(name string, k pb.Kind) (*client, error) {
	s, err := h.get(name)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(s.getInfoCached().GetKinds(), k) {
		return nil, fmt.Errorf("%w: plugin %q is not a %s", ErrWrongKind, name, k)
	}
	return &client{s: s}, nil
}

// Authenticator returns the supervised authenticator client of plugin name.
func (h *Host) Authenticator(name string) (sdk.Authenticator, error) {
	return h.kind(name, pb.Kind_KIND_AUTHENTICATOR)
}

// Enroller returns the supervised enrolment client of authenticator plugin
// name. A plugin without enrolment answers its calls with CodeUnimplemented.
func (h *Host) Enroller(name string) (sdk.Enroller, error) {
	return h.kind(name, pb.Kind_KIND_AUTHENTICATOR)
}

// PaymentMethod returns the supervised payment-method client of plugin name.
func (h *Host) PaymentMethod(name string) (sdk.PaymentMethod, error) {
	return h.kind(name, pb.Kind_KIND_PAYMENT_METHOD)
}

// Status runs Health on every plugin (each under HealthTimeout) and reports
// them sorted by name.
func (h *Host) Status(ctx context.Context) []Status {
	h.mu.Lock()
	all := make([]*supervised, 0, len(h.plugins))
	for _, s := range h.plugins {
		all = append(all, s)
	}
	h.mu.Unlock()
	sort.Slice(all, func(i, j int) bool { return all[i].name < all[j].name })
	out := make([]Status, len(all))
	var wg sync.WaitGroup
	for i, s := range all {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = s.status(ctx)
		}()
	}
	wg.Wait()
	return out
}

// Close kills every plugin process and stops supervision; when it returns,
// no plugin process it started is running. Calls after Close fail with
// ErrClosed.
func (h *Host) Close() error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil
	}
	h.closed = true
	all := h.plugins
	h.plugins = map[string]*supervised{}
	h.mu.Unlock()
	var wg sync.WaitGroup
	for _, s := range all {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.close()
		}()
	}
	wg.Wait()
	return nil
}

// supervised is one plugin and its current process.
type supervised struct {
	name  string
	spec  Spec
	opts  Options
	log   *slog.Logger
	hclog *slogAdapter

	// cfgMu serialises Configure with the replay after a restart, so that
	// no accepted request is missed by the new process.
	cfgMu sync.Mutex
	// stateMu, for a host_state plugin, keeps a restart from loading a
	// snapshot that misses writes the plugin already answered with: a call
	// holds the read side from after acquire until its writes are
	// committed (or it failed), and install holds the write side around
	// LoadState and the Configure replay. Order: acquire, then cfgMu (for
	// Configure), then stateMu.
	stateMu sync.RWMutex
	// inproc is the one connection of an InProcess plugin: there is no
	// process to restart, so a reset reloads its state over it instead.
	inproc *proc

	mu       sync.Mutex
	cur      *proc         // nil while down
	ready    chan struct{} // non-nil while down; closed when cur is set
	info     *pb.GetInfoResponse
	configs  map[string]*pb.ConfigureRequest
	restarts int
	launches atomic.Int64 // processes started, for CPU profile names
	lastErr  error
	backoff  time.Duration
	closed   bool
	done     chan struct{}  // closed by close
	wg       sync.WaitGroup // watchers, and the restarts they run
}

func (s *supervised) getInfoCached() *pb.GetInfoResponse {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.info
}

func (s *supervised) getInfo(ctx context.Context, p *proc) (*pb.GetInfoResponse, error) {
	ctx, cancel := boundCtx(ctx, s.opts.CallTimeout)
	defer cancel()
	info, err := p.conn.GetInfo(ctx, &pb.GetInfoRequest{})
	if err != nil {
		return nil, fmt.Errorf("pluginhost: plugin %q: GetInfo: %w", s.name, err)
	}
	if len(info.GetKinds()) == 0 {
		return nil, fmt.Errorf("pluginhost: plugin %q: GetInfo lists no kinds", s.name)
	}
	return info, nil
}

// acquire returns the current process, waiting for a restart in progress
// until ctx ends.
func (s *supervised) acquire(ctx context.Context) (*proc, error) {
	for {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return nil, ErrClosed
		}
		if p := s.cur; p != nil {
			s.mu.Unlock()
			return p, nil
		}
		ready := s.ready
		s.mu.Unlock()
		select {
		case <-ready:
		case <-ctx.Done():
			s.mu.Lock()
			lastErr := s.lastErr
			s.mu.Unlock()
			cause := fmt.Errorf("plugin %q: %w (%w)", s.name, ErrRestarting, ctx.Err())
			if lastErr != nil {
				cause = fmt.Errorf("plugin %q: %w: last attempt: %w", s.name, ErrRestarting, lastErr)
			}
			return nil, sdk.Unavailable(cause)
		}
	}
}

// current returns the current process or nil.
func (s *supervised) current() *proc {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cur
}

func (s *supervised) configure(ctx context.Context, req *pb.ConfigureRequest) (*pb.ConfigureResponse, error) {
	ctx, cancel := boundCtx(ctx, s.opts.CallTimeout)
	defer cancel()
	hostState := s.hostState()
	if hostState && s.opts.State == nil {
		return nil, fmt.Errorf("plugin %q, instance %q: %w", s.name, req.GetInstanceId(), ErrNoState)
	}
	for {
		p, err := s.acquire(ctx)
		if err != nil {
			return nil, err
		}
		s.cfgMu.Lock()
		if s.current() != p {
			// Restarted meanwhile: the replay is done; use the new process.
			s.cfgMu.Unlock()
			continue
		}
		var res *pb.ConfigureResponse
		if hostState {
			res, err = s.configureState(ctx, p, req)
		} else {
			res, err = p.conn.Configure(ctx, req)
			if err != nil && p.diedDuring(ctx, err) {
				s.markDown(p)
				err = exitedErr(s.name, err)
			}
			if err == nil && len(res.GetStateWrites()) > 0 {
				res, err = nil, s.unexpectedWrites("Configure")
			}
		}
		if err == nil && !hasErrorDiag(res) {
			s.mu.Lock()
			s.configs[req.GetInstanceId()] = req
			s.mu.Unlock()
		}
		s.cfgMu.Unlock()
		return res, err
	}
}

// configureState is Configure of a host_state plugin on p, with cfgMu
// held: the instance's state is loaded into p first (exported before, if
// the store holds none of it), and the answer's writes are committed
// before it counts.
func (s *supervised) configureState(ctx context.Context, p *proc, req *pb.ConfigureRequest) (*pb.ConfigureResponse, error) {
	s.stateMu.RLock()
	defer s.stateMu.RUnlock()
	inst := req.GetInstanceId()
	if !p.loaded[inst] {
		if err := s.loadWithin(ctx, p, inst, req.GetDataDir()); err != nil {
			return nil, err
		}
		// The load may have taken longer than the caller's deadline
		// allowed for the whole Configure; the Configure gets its own.
		ctx = context.WithoutCancel(ctx)
	}
	ctx, cancel := detach(ctx)
	defer cancel()
	if _, ok := ctx.Deadline(); !ok {
		ctx, cancel = context.WithTimeout(ctx, s.opts.CallTimeout)
		defer cancel()
	}
	res, err := p.conn.Configure(ctx, req)
	if err != nil {
		return nil, s.failed(ctx, p, "Configure", err)
	}
	if err := s.commit(ctx, p, "Configure", inst, res.GetStateWrites()); err != nil {
		return nil, err
	}
	res.StateWrites = nil
	return res, nil
}

func hasErrorDiag(res *pb.ConfigureResponse) bool {
	for _, d := range res.GetDiagnostics() {
		if d.GetSeverity() == pb.Severity_SEVERITY_ERROR {
			return true
		}
	}
	return false
}

func exitedErr(name string, err error) error {
	return &sdk.Error{Code: sdk.CodeUnavailable, Msg: fmt.Sprintf("plugin %q process exited during the call; it is being restarted", name),
		Err: errors.Join(ErrPluginExited, err)}
}

// watch waits for p to exit and then restarts the plugin, unless the host
// is closing. One watcher per process, so however many callers see the
// failure, there is exactly one restart.
func (s *supervised) watch(p *proc) {
	defer s.wg.Done()
	<-p.exited
	s.mu.Lock()
	if s.closed || (s.cur != nil && s.cur != p) {
		s.mu.Unlock()
		return
	}
	s.markDownLocked(p)
	if time.Since(p.started) >= stableAfter {
		s.backoff = minBackoff
	}
	s.mu.Unlock()
	s.log.Warn("plugin process exited; restarting", "pid", p.pid)
	p.kill() // releases go-plugin's goroutines, connection and socket dir
	s.restart()
}

// markDown takes p out of service after its exit was seen (by its watcher
// or by a caller), so later calls wait for the restart. Only the watcher
// restarts.
func (s *supervised) markDown(p *proc) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.markDownLocked(p)
}

func (s *supervised) markDownLocked(p *proc) {
	if s.cur == p {
		s.cur = nil
		s.ready = make(chan struct{})
	}
}

func (s *supervised) restart() {
	for {
		s.mu.Lock()
		delay := s.backoff
		s.backoff = min(2*s.backoff, maxBackoff)
		s.mu.Unlock()
		select {
		case <-time.After(delay):
		case <-s.done:
			return
		}
		p, err := s.relaunch()
		if errors.Is(err, ErrClosed) {
			return
		}
		if err != nil {
			s.log.Error("plugin restart failed", "error", err, "retry_in", min(2*delay, maxBackoff))
			s.mu.Lock()
			s.lastErr = err
			s.mu.Unlock()
			continue
		}
		if s.inproc != nil {
			s.log.Info("in-process plugin's state reloaded")
			return
		}
		s.log.Info("plugin restarted", "pid", p.pid)
		s.wg.Add(1)
		go s.watch(p)
		return
	}
}

// nextProfile is the CPU profile file of the plugin's next process, or
// "" when the host does not profile (Options.CPUProfileDir).
func (s *supervised) nextProfile() string {
	if s.opts.CPUProfileDir == "" {
		return ""
	}
	return filepath.Join(s.opts.CPUProfileDir, fmt.Sprintf("%s.%d.pprof", s.name, s.launches.Add(1)))
}

// relaunch starts a new process, replays the remembered Configure requests
// and only then makes it current. For an InProcess plugin it reuses its
// connection (see reset).
func (s *supervised) relaunch() (*proc, error) {
	p := s.inproc
	if p == nil {
		var err error
		if p, err = launch(s.spec, s.opts, s.hclog, s.nextProfile()); err != nil {
			return nil, err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.opts.CallTimeout)
	defer cancel()
	info, err := s.getInfo(ctx, p)
	if err != nil {
		if s.inproc == nil {
			p.kill()
		}
		return nil, err
	}
	if err := s.install(p, info); err != nil {
		if s.inproc == nil {
			p.kill()
		}
		return nil, err
	}
	return p, nil
}

// install replays every remembered Configure request to p (loading each
// instance's state first, for a host_state plugin) and makes p current.
// It holds cfgMu and the write side of stateMu throughout, so it loads
// no snapshot that misses a write the plugin already answered with, and
// no Configure is accepted that p would miss.
func (s *supervised) install(p *proc, info *pb.GetInfoResponse) error {
	s.cfgMu.Lock()
	defer s.cfgMu.Unlock()
	s.stateMu.Lock()
	defer s.stateMu.Unlock()
	hostState := slices.Contains(info.GetCapabilities(), sdk.CapHostState)
	p.loaded = map[string]bool{}
	s.mu.Lock()
	reqs := make([]*pb.ConfigureRequest, 0, len(s.configs))
	for _, r := range s.configs {
		reqs = append(reqs, r)
	}
	s.mu.Unlock()
	if hostState && s.opts.State == nil && len(reqs) > 0 {
		// Not reached through Configure, which refuses first; a binary
		// that gained the capability across a restart ends here.
		return fmt.Errorf("plugin %q: %w", s.name, ErrNoState)
	}
	sort.Slice(reqs, func(i, j int) bool { return reqs[i].GetInstanceId() < reqs[j].GetInstanceId() })
	for _, r := range reqs {
		res, err := s.replay(p, r, hostState)
		if err != nil {
			return fmt.Errorf("pluginhost: plugin %q: replaying Configure of instance %q: %w", s.name, r.GetInstanceId(), err)
		}
		if hasErrorDiag(res) {
			// It was accepted before; the same binary refusing it now is
			// worth shouting about, but the other instances still serve.
			s.log.Error("plugin refused a replayed Configure", "instance", r.GetInstanceId())
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	s.cur, s.info, s.lastErr = p, info, nil
	s.restarts++
	close(s.ready)
	s.ready = nil
	return nil
}

// replay sends one remembered Configure to p, which is not serving yet.
// A host_state instance's state is loaded first (under StateLoadTimeout);
// the Configure and the commit of its writes then get CallTimeout.
func (s *supervised) replay(p *proc, r *pb.ConfigureRequest, hostState bool) (*pb.ConfigureResponse, error) {
	if hostState {
		if err := s.loadWithin(context.Background(), p, r.GetInstanceId(), r.GetDataDir()); err != nil {
			return nil, err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.opts.CallTimeout)
	defer cancel()
	if !hostState {
		res, err := p.conn.Configure(ctx, r)
		if err == nil && len(res.GetStateWrites()) > 0 {
			err = s.unexpectedWrites("Configure")
		}
		return res, err
	}
	res, err := p.conn.Configure(ctx, r)
	if err != nil {
		return nil, err
	}
	if err := s.commitWrites(ctx, "Configure", r.GetInstanceId(), res.GetStateWrites(), MaxStateWrites); err != nil {
		return nil, err
	}
	return res, nil
}

func (s *supervised) status(ctx context.Context) Status {
	s.mu.Lock()
	st := Status{Name: s.name, Path: s.spec.Path, SHA256: s.spec.SHA256, Restarts: s.restarts}
	if s.info != nil {
		st.Version, st.Kinds = s.info.GetVersion(), s.info.GetKinds()
	}
	p, lastErr := s.cur, s.lastErr
	s.mu.Unlock()
	if p == nil {
		st.Message = "restarting"
		if lastErr != nil {
			st.Message = "restarting: " + lastErr.Error()
		}
		return st
	}
	st.PID = p.pid
	ctx, cancel := context.WithTimeout(ctx, s.opts.HealthTimeout)
	defer cancel()
	res, err := p.conn.Health(ctx, &pb.HealthRequest{})
	if err != nil {
		st.Message = err.Error()
		return st
	}
	st.Healthy, st.Message = res.GetServing(), res.GetMessage()
	return st
}

func (s *supervised) close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	close(s.done)
	p := s.cur
	s.cur = nil
	s.mu.Unlock()
	if p != nil {
		p.kill()
	}
	// A restart in progress kills what it started once it sees closed.
	s.wg.Wait()
}
