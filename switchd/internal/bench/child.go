package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/switchd/switchd/config"
	"github.com/switchd/switchd/plugins/banktransfer/banktransferplugin"
	"github.com/switchd/switchd/plugins/card/cardplugin"
	"github.com/switchd/switchd/plugins/merchantsig/merchantsigplugin"
	"github.com/switchd/switchd/plugins/ocra/ocraplugin"
	"github.com/switchd/switchd/plugins/sdk"
	"github.com/switchd/switchd/switchd/internal/daemon"
)

// ChildEnv is the environment variable that turns a process into a bench
// server child; it holds the path of the child's JSON spec.
const ChildEnv = "SWITCHD_BENCH_CHILD"

// Server modes of a child.
const (
	modeDaemon    = "daemon"    // daemon.New/Start: real plugin subprocesses
	modeInProcess = "inprocess" // the same daemon with the plugins linked in (daemon.LinkPlugins)
)

// childSpec tells a child what to serve.
type childSpec struct {
	Mode      string `json:"mode"`
	ConfigDir string `json:"config_dir"`
	DataDir   string `json:"data_dir"`
	// PluginProfileDir, if set, is where the plugin processes write
	// their CPU profiles (daemon.ProfilePlugins).
	PluginProfileDir string `json:"plugin_profile_dir,omitempty"`
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
	daemon.TuneGC() // as `switchd serve` runs
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
	d := daemon.New(set, logger)
	switch spec.Mode {
	case modeDaemon:
		if spec.PluginProfileDir != "" {
			d.ProfilePlugins(spec.PluginProfileDir)
		}
	case modeInProcess:
		// The plugins log at the level the daemon gives its plugin
		// subprocesses, so both sides do the same logging work.
		if err := os.Setenv("SWITCHD_PLUGIN_LOG_LEVEL", set.LogLevel); err != nil {
			return fail(err)
		}
		d.LinkPlugins(map[string]sdk.Plugin{
			"card": cardplugin.New(), "banktransfer": banktransferplugin.New(),
			"merchantsig": merchantsigplugin.New(), "ocra": ocraplugin.New(),
		})
	default:
		return fail(fmt.Errorf("bench child: unknown mode %q", spec.Mode))
	}
	if err := d.Start(ctx); err != nil {
		return fail(err)
	}
	addrs, shutdown = childAddrs{API: d.APIAddr(), Admin: d.AdminAddr()}, d.Shutdown
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
// ephemeral ports, no merchant rate limit to speak of (one shop may take
// the whole load), the defaults of `switchd serve` otherwise.
func childSettings(spec childSpec) *config.Settings {
	return &config.Settings{APIAddr: "127.0.0.1:0", AdminAddr: "127.0.0.1:0", PublicURL: "http://127.0.0.1",
		DataDir: spec.DataDir, ConfigPath: spec.ConfigDir, PluginDir: spec.ConfigDir, LogLevel: "warn", LogFormat: "text",
		DefaultExpiry: 15 * time.Minute, WebhookMaxAttempts: 12, WebhookInitialBackoff: 100 * time.Millisecond,
		WebhookMaxBackoff: 5 * time.Second, PluginCallTimeout: 10 * time.Second,
		MerchantRate: 1_000_000, MerchantBurst: 1_000_000}
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
