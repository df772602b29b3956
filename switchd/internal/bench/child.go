package bench

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"syscall"
	"time"

	"github.com/switchd/switchd/config"
	"github.com/switchd/switchd/plugins/banktransfer/banktransferplugin"
	"github.com/switchd/switchd/plugins/card/cardplugin"
	"github.com/switchd/switchd/plugins/merchantsig/merchantsigplugin"
	"github.com/switchd/switchd/plugins/ocra/ocraplugin"
	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
	"github.com/switchd/switchd/plugins/sdk"
	"github.com/switchd/switchd/switchd/internal/api"
	"github.com/switchd/switchd/switchd/internal/daemon"
	"github.com/switchd/switchd/switchd/internal/flow"
	"github.com/switchd/switchd/switchd/internal/metrics"
	"github.com/switchd/switchd/switchd/internal/outbox"
	"github.com/switchd/switchd/switchd/internal/pluginhost"
	"github.com/switchd/switchd/switchd/internal/store"
)

// ChildEnv is the environment variable that turns a process into a bench
// server child; it holds the path of the child's JSON spec.
const ChildEnv = "SWITCHD_BENCH_CHILD"

// Server modes of a child.
const (
	modeDaemon    = "daemon"    // daemon.New/Start: real plugin subprocesses
	modeInProcess = "inprocess" // the same wiring with the plugins linked in (pluginhost.InProcess)
)

// childSpec tells a child what to serve.
type childSpec struct {
	Mode      string `json:"mode"`
	ConfigDir string `json:"config_dir"`
	DataDir   string `json:"data_dir"`
}

// childAddrs is the line a ready child writes on stdout.
type childAddrs struct {
	API   string `json:"api"`
	Admin string `json:"admin"`
	Err   string `json:"error,omitempty"`
}

// IsChild reports whether this process was started as a bench server
// child (ChildEnv is set).
func IsChild() bool { return os.Getenv(ChildEnv) != "" }

// ChildMain runs this process as a bench server child: it starts the
// server ChildEnv's spec describes on loopback, writes its addresses as
// one JSON line on stdout, and serves until stdin closes or SIGTERM, then
// shuts down. It returns the process exit code. The parent (Run) starts
// children by re-executing its own binary, so a program running Run must
// call ChildMain first when IsChild (switchd bench does; tests do it in
// TestMain).
func ChildMain() int {
	fail := func(err error) int {
		_ = json.NewEncoder(os.Stdout).Encode(childAddrs{Err: err.Error()})
		return 1
	}
	b, err := os.ReadFile(os.Getenv(ChildEnv))
	if err != nil {
		return fail(fmt.Errorf("bench child: %w", err))
	}
	var spec childSpec
	if err := json.Unmarshal(b, &spec); err != nil {
		return fail(fmt.Errorf("bench child: spec: %w", err))
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	go func() { // the parent closing our stdin (or dying) ends the child
		_, _ = io.Copy(io.Discard, os.Stdin)
		stop()
	}()
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	set := childSettings(spec)
	var addrs childAddrs
	var shutdown func(context.Context) error
	switch spec.Mode {
	case modeDaemon:
		d := daemon.New(set, logger)
		if err := d.Start(ctx); err != nil {
			return fail(err)
		}
		addrs, shutdown = childAddrs{API: d.APIAddr(), Admin: d.AdminAddr()}, d.Shutdown
	case modeInProcess:
		s, err := startInProcess(ctx, set, logger)
		if err != nil {
			return fail(err)
		}
		addrs, shutdown = childAddrs{API: s.apiAddr, Admin: s.adminAddr}, s.shutdown
	default:
		return fail(fmt.Errorf("bench child: unknown mode %q", spec.Mode))
	}
	if err := json.NewEncoder(os.Stdout).Encode(addrs); err != nil {
		return 1
	}
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := shutdown(sctx); err != nil {
		logger.Error("bench child: shutdown", "err", err)
		return 1
	}
	return 0
}

// childSettings are the daemon settings of a bench server: loopback on
// ephemeral ports, the defaults of `switchd serve` otherwise.
func childSettings(spec childSpec) *config.Settings {
	return &config.Settings{APIAddr: "127.0.0.1:0", AdminAddr: "127.0.0.1:0", PublicURL: "http://127.0.0.1",
		DataDir: spec.DataDir, ConfigPath: spec.ConfigDir, PluginDir: spec.ConfigDir, LogLevel: "warn", LogFormat: "text",
		DefaultExpiry: 15 * time.Minute, WebhookMaxAttempts: 12, WebhookInitialBackoff: 100 * time.Millisecond,
		WebhookMaxBackoff: 5 * time.Second, PluginCallTimeout: 10 * time.Second}
}

// child is a running server child process.
type child struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	addrs childAddrs
	done  chan error
}

// startChild starts exe (with args) as a child serving spec, and waits
// until it listens.
func startChild(ctx context.Context, exe string, args []string, spec childSpec, stderr io.Writer) (*child, error) {
	specPath := filepath.Join(spec.DataDir + ".spec.json")
	b, _ := json.Marshal(spec)
	if err := os.WriteFile(specPath, b, 0o600); err != nil {
		return nil, fmt.Errorf("bench: child spec: %w", err)
	}
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), ChildEnv+"="+specPath)
	cmd.Stderr = stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("bench: start %s server: %w", spec.Mode, err)
	}
	c := &child{cmd: cmd, stdin: stdin, done: make(chan error, 1)}
	line := make(chan []byte, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			line <- append([]byte(nil), sc.Bytes()...)
		}
		close(line)
		_, _ = io.Copy(io.Discard, stdout)
		c.done <- cmd.Wait()
	}()
	select {
	case l, ok := <-line:
		if !ok {
			return nil, fmt.Errorf("%w: %s server exited: %v", ErrServer, spec.Mode, <-c.done)
		}
		if err := json.Unmarshal(l, &c.addrs); err != nil || c.addrs.Err != "" || c.addrs.API == "" {
			c.kill()
			return nil, fmt.Errorf("%w: %s server: %s%v", ErrServer, spec.Mode, c.addrs.Err, err)
		}
	case <-ctx.Done():
		c.kill()
		return nil, ctx.Err()
	case <-time.After(2 * time.Minute):
		c.kill()
		return nil, fmt.Errorf("%w: %s server did not start within 2 minutes", ErrServer, spec.Mode)
	}
	return c, nil
}

// stop asks the child to shut down gracefully and waits for it.
func (c *child) stop() error {
	_ = c.stdin.Close()
	select {
	case err := <-c.done:
		return err
	case <-time.After(30 * time.Second):
		c.kill()
		return fmt.Errorf("%w: server did not stop within 30s", ErrServer)
	}
}

func (c *child) kill() {
	_ = c.cmd.Process.Kill()
}

// inProcessServer is the daemon's wiring (store, flow engine, outbox,
// API) with the plugins linked into this process: the ceiling that out of
// process is compared against.
type inProcessServer struct {
	apiAddr, adminAddr string
	shutdown           func(context.Context) error
}

func startInProcess(ctx context.Context, set *config.Settings, logger *slog.Logger) (*inProcessServer, error) {
	// The plugins log at the level the daemon gives its plugin
	// subprocesses, so both sides do the same logging work.
	if err := os.Setenv("SWITCHD_PLUGIN_LOG_LEVEL", set.LogLevel); err != nil {
		return nil, err
	}
	host := pluginhost.InProcess(map[string]sdk.Plugin{
		"card": cardplugin.New(), "banktransfer": banktransferplugin.New(),
		"merchantsig": merchantsigplugin.New(), "ocra": ocraplugin.New(),
	})
	files, diags := config.Parse(set.ConfigPath)
	if diags.HasErrors() {
		host.Close()
		return nil, fmt.Errorf("bench: in-process config: %s", diags.Error())
	}
	network, diags := files.Decode(host.Infos())
	if diags.HasErrors() {
		host.Close()
		return nil, fmt.Errorf("bench: in-process config: %s", diags.Error())
	}
	keys, err := configureAll(ctx, host, network, set.DataDir)
	if err != nil {
		host.Close()
		return nil, err
	}
	st, err := store.Open(filepath.Join(set.DataDir, "switchd.db"), store.Options{})
	if err != nil {
		host.Close()
		return nil, fmt.Errorf("bench: %w", err)
	}
	m := metrics.New()
	var w *outbox.Worker
	eng, err := flow.New(flow.Options{Store: st, Plugins: host, Logger: logger, Metrics: m, PublicURL: set.PublicURL,
		DefaultExpiry: set.DefaultExpiry, PluginCallTimeout: set.PluginCallTimeout,
		Kick:   func() { w.Kick() },
		Resend: func(ctx context.Context, id string) error { return w.Resend(ctx, id) },
	}, &flow.Config{Generation: 1, Network: network, Infos: host.Infos(), AttestationKeys: keys})
	if err != nil {
		st.Close()
		host.Close()
		return nil, err
	}
	target := func(id string) (string, string, bool) {
		mc, ok := network.Merchants[id]
		return mc.WebhookURL, mc.WebhookSecret, ok
	}
	w = outbox.New(st, map[string]outbox.Handler{
		store.KindWebhook:        outbox.WebhookHandler(target, nil),
		store.KindAcquirerNotice: eng.HandleAcquirerNotice,
	}, outbox.Policy{MaxAttempts: set.WebhookMaxAttempts, InitialBackoff: set.WebhookInitialBackoff, MaxBackoff: set.WebhookMaxBackoff}, logger)
	runCtx, cancel := context.WithCancel(context.Background())
	bg := make(chan struct{}, 2)
	go func() { _ = w.Run(runCtx); bg <- struct{}{} }()
	go func() { eng.SweepLoop(runCtx); bg <- struct{}{} }()
	srv := api.New(api.Options{Engine: eng, MerchantByKeyHash: merchantByKeyHash(network), PublicURL: set.PublicURL, Metrics: m, Logger: logger})
	var servers []*http.Server
	listen := func(h http.Handler) (string, error) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return "", err
		}
		s := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
		servers = append(servers, s)
		go func() { _ = s.Serve(ln) }()
		return ln.Addr().String(), nil
	}
	s := &inProcessServer{}
	s.shutdown = func(ctx context.Context) error {
		var errs []error
		for _, hs := range servers {
			errs = append(errs, hs.Shutdown(ctx))
		}
		cancel()
		<-bg
		<-bg
		errs = append(errs, host.Close(), st.Close())
		return errors.Join(errs...)
	}
	if s.apiAddr, err = listen(srv.PublicHandler()); err == nil {
		s.adminAddr, err = listen(srv.AdminHandler())
	}
	if err != nil {
		_ = s.shutdown(ctx)
		return nil, fmt.Errorf("bench: listen: %w", err)
	}
	return s, nil
}

// merchantByKeyHash resolves an API key's SHA-256 in network, in constant
// time, as the daemon does.
func merchantByKeyHash(network *config.Network) func([32]byte) (string, bool) {
	return func(sum [32]byte) (string, bool) {
		id, found := "", 0
		for _, m := range network.Merchants {
			if subtle.ConstantTimeCompare(m.APIKeySHA256[:], sum[:]) == 1 {
				id, found = m.ID, 1
			}
		}
		return id, found == 1
	}
}

// configureAll sends every plugin use of network its settings, as the
// daemon does on start, and returns the attestation keys by institution.
func configureAll(ctx context.Context, host *pluginhost.Host, network *config.Network, dataDir string) (map[string]map[string]ed25519.PublicKey, error) {
	ids := make([]string, 0, len(network.Institutions))
	for id := range network.Institutions {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	keys := map[string]map[string]ed25519.PublicKey{}
	for _, id := range ids {
		in := network.Institutions[id]
		info := &pb.InstitutionInfo{Id: in.ID, DisplayName: in.DisplayName, BankCode: in.BankCode, Roles: in.Roles}
		for _, r := range in.BINRanges {
			info.BinRanges = append(info.BinRanges, r.String())
		}
		type use struct {
			u      *config.PluginUse
			kind   pb.Kind
			method pb.Method
		}
		var uses []use
		for _, a := range in.Authenticators {
			uses = append(uses, use{a, pb.Kind_KIND_AUTHENTICATOR, pb.Method_METHOD_UNSPECIFIED})
		}
		for m, u := range in.Methods {
			uses = append(uses, use{u, pb.Kind_KIND_PAYMENT_METHOD, m})
		}
		for _, u := range uses {
			dir := filepath.Join(dataDir, "plugins", u.u.Plugin, in.ID)
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return nil, fmt.Errorf("bench: %w", err)
			}
			res, err := host.Configure(ctx, u.u.Plugin, &pb.ConfigureRequest{InstanceId: in.ID, Kind: u.kind, Method: u.method,
				ConfigJson: u.u.ConfigJSON, DataDir: dir, Institution: info})
			if err == nil && sdk.HasErrors(res.GetDiagnostics()) {
				err = fmt.Errorf("%v", res.GetDiagnostics())
			}
			if err != nil {
				return nil, fmt.Errorf("bench: configure %s for %s: %w", u.u.Plugin, in.ID, err)
			}
			for _, k := range res.GetAttestationKeys() {
				if len(k.GetEd25519()) != ed25519.PublicKeySize {
					continue
				}
				if keys[in.ID] == nil {
					keys[in.ID] = map[string]ed25519.PublicKey{}
				}
				keys[in.ID][k.GetKeyId()] = ed25519.PublicKey(k.GetEd25519())
			}
		}
	}
	return keys, nil
}
