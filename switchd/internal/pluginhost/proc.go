package pluginhost

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/go-plugin"
	"golang.org/x/sys/unix"
	"google.golang.org/grpc"
	"google.golang.org/grpc/connectivity"

	"github.com/switchd/switchd/internal/tmpdir"
	"github.com/switchd/switchd/plugins/sdk"
)

// startTimeout bounds the go-plugin handshake of one launch.
const startTimeout = 15 * time.Second

// grpcDialOptions are added to go-plugin's own dial options (its Unix
// socket dialer and AutoMTLS credentials) for every plugin connection.
//
// Fixed flow-control windows (the plugin's sdk.Serve sets the same on its
// side) turn off gRPC's BDP estimator, which otherwise sends a PING with
// the first DATA frame of a call and waits for its ACK: on a local socket
// that is about 6 extra syscalls and 3 context switches per round trip, a
// quarter of its CPU. 1 MiB is far above any plugin message in flight.
var grpcDialOptions = []grpc.DialOption{
	grpc.WithInitialWindowSize(1 << 20),
	grpc.WithInitialConnWindowSize(1 << 20),
}

// pluginGOGC is the GOGC of every plugin process, in its environment; a
// plugin may change it itself (debug.SetGCPercent). A plugin's live heap
// is a few MiB, so at the default GOGC=100 it collects every ~4 MiB
// allocated, every few hundred calls; GC was 17% of its CPU. 200 cut the
// plugin's CPU per call by 13% (400: 21%) for about 4 MiB more peak RSS
// per plugin (400: 12.5 MiB).
const pluginGOGC = "200"

// DefaultPluginProcs is the GOMAXPROCS given to plugin processes when the
// Options leave it 0: a quarter of the machine's CPUs, at least 1.
//
// A switch runs the daemon and four or more plugins on the same CPUs. With
// the runtime's default every plugin process gets one P per CPU, and each
// of them spins looking for work whenever a call wakes it: on the 2-vCPU
// bench machine, GOMAXPROCS=1 cut the plugins' CPU per payment by 8-10%
// and raised complete payments/s by 4% (BENCHMARKS.md, 2026-11-26, third
// sitting). Alone, a plugin pays for it: a goroutine blocked in fsync
// holds the only P until sysmon takes it back, which cost the card
// plugin's Debit 30-45% of its throughput with 64 callers and nothing else
// running (doc.go, Performance), still some 20,000 Debits/s. A machine
// whose plugins need more sets the plugin-gomaxprocs setting.
func DefaultPluginProcs() int { return max(1, runtime.NumCPU()/4) }

// proc is one running plugin process (or, for InProcess, one in-memory
// connection with no process).
type proc struct {
	client  *plugin.Client   // nil in process
	cc      *grpc.ClientConn // nil in process
	conn    *sdk.Client
	pid     int
	started time.Time
	exited  chan struct{} // closed when the process has exited; never for in-process
	stop    func()        // InProcess cleanup
	// loaded lists the instances whose state this process was given
	// (LoadState), for a host_state plugin; guarded by supervised.cfgMu.
	loaded map[string]bool
}

func (p *proc) hasExited() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

// kill ends the process: go-plugin's graceful shutdown, then SIGKILL of the
// whole process group so nothing the plugin forked survives it.
func (p *proc) kill() {
	if p.stop != nil {
		p.stop()
	}
	if p.client == nil {
		return
	}
	p.client.Kill()
	if p.pid > 0 {
		_ = syscall.Kill(-p.pid, syscall.SIGKILL)
		// Wait for the exit to be seen, which also removes the socket
		// directory, so that a daemon exiting right after Close leaves
		// nothing behind. After SIGKILL this takes milliseconds; the bound
		// only guards against a kernel that never reports it.
		p.exitedWithin(context.Background(), exitWait)
	}
}

// exitedWithin waits up to d (bounded by ctx) for the process's exit to be
// seen, and reports whether it was.
func (p *proc) exitedWithin(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-p.exited:
		return true
	case <-t.C:
	case <-ctx.Done():
	}
	return false
}

// exitWait bounds kill's wait for the exit of a process it has killed.
const exitWait = 2 * time.Second

// exitGrace is how long a call that failed on a broken connection waits for
// the process's exit to be seen, so that it can report ErrPluginExited and
// the next call waits for the restart instead of using the dead process.
const exitGrace = 250 * time.Millisecond

// diedDuring reports whether the process died during a call that failed
// with err. A plugin's own Unavailable answer leaves the connection ready
// and costs nothing; a broken connection waits up to exitGrace (bounded by
// ctx) for the exit.
func (p *proc) diedDuring(ctx context.Context, err error) bool {
	if p.hasExited() {
		return true
	}
	if p.cc == nil || sdk.CodeOf(err) != sdk.CodeUnavailable || p.cc.GetState() == connectivity.Ready {
		return false
	}
	return p.exitedWithin(ctx, exitGrace)
}

// verify checks the binary's digest against spec before anything is
// executed.
func verify(spec Spec) error {
	if spec.SHA256 == "" {
		return fmt.Errorf("plugin %q (%s): %w; run `switchd plugins lock` or set sha256 in its plugin block", spec.Name, spec.Path, ErrNotPinned)
	}
	if err := checkHex(spec.SHA256); err != nil {
		return fmt.Errorf("pluginhost: plugin %q: %w", spec.Name, err)
	}
	actual, err := FileSHA256(spec.Path)
	if err != nil {
		return fmt.Errorf("pluginhost: plugin %q: %w", spec.Name, err)
	}
	if actual != spec.SHA256 {
		return &DigestError{Plugin: spec.Name, Path: spec.Path, Expected: spec.SHA256, Actual: actual}
	}
	return nil
}

// launch verifies spec's digest, starts the plugin and connects to it.
//
// The process is forked from a goroutine locked to its OS thread. That
// goroutine stays locked until the plugin has exited and then ends, which
// terminates the thread: Pdeathsig (which fires when the forking *thread*
// dies) therefore only fires on the daemon's death, never while the plugin
// should run, and no thread is leaked per restart.
// With profile set, the plugin writes its CPU profile there (see
// sdk.CPUProfileEnv).
func launch(spec Spec, opts Options, logger *slogAdapter, profile string) (*proc, error) {
	if err := verify(spec); err != nil {
		return nil, err
	}
	sum, _ := hex.DecodeString(spec.SHA256)
	cmd := exec.Command(spec.Path)
	cmd.Env = []string{"SWITCHD_PLUGIN_LOG_LEVEL=" + opts.LogLevel, "GOGC=" + pluginGOGC,
		"GOMAXPROCS=" + strconv.Itoa(opts.GOMAXPROCS)}
	if profile != "" {
		cmd.Env = append(cmd.Env, sdk.CPUProfileEnv+"="+profile)
	}
	// The plugin's gRPC socket goes into a directory of its own (mode
	// 0700), removed once the process has exited. A killed plugin cannot
	// remove its socket itself, and go-plugin would otherwise leave one file
	// in /tmp per kill.
	sockets, err := tmpdir.New("switchd-plugin-")
	if err != nil {
		return nil, fmt.Errorf("pluginhost: plugin %q: socket directory: %w", spec.Name, err)
	}
	cmd.Env = append(cmd.Env, plugin.EnvUnixSocketDir+"="+sockets.Path())
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  sdk.Handshake,
		VersionedPlugins: sdk.VersionedPlugins(nil),
		Cmd:              cmd,
		SecureConfig:     &plugin.SecureConfig{Checksum: sum, Hash: sha256.New()},
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		AutoMTLS:         true,
		SkipHostEnv:      true,
		StartTimeout:     startTimeout,
		Logger:           logger,
		GRPCDialOptions:  grpcDialOptions,
	})
	p := &proc{client: client, exited: make(chan struct{}), loaded: map[string]bool{}}
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// Never unlocked: when this goroutine returns, its thread ends.
		_, err := client.Start()
		if err != nil {
			started <- err
			return
		}
		p.pid = cmd.Process.Pid
		p.started = time.Now()
		started <- nil
		waitExit(p.pid, client)
		sockets.Remove()
		close(p.exited)
	}()
	if err := <-started; err != nil {
		client.Kill()
		sockets.Remove()
		if strings.Contains(err.Error(), "Unrecognized remote plugin message") {
			// What the plugin printed is not repeated: it could be anything.
			return nil, fmt.Errorf("plugin %q (%s): %w (stdout carries the go-plugin handshake; plugins must log to stderr with sdk.Logger)", spec.Name, spec.Path, ErrStdoutBeforeHandshake)
		}
		if errors.Is(err, plugin.ErrChecksumsDoNotMatch) {
			// The binary changed between our check and go-plugin's.
			return nil, fmt.Errorf("pluginhost: plugin %q (%s): %w", spec.Name, spec.Path, ErrDigestMismatch)
		}
		return nil, fmt.Errorf("pluginhost: starting plugin %q (%s): %w", spec.Name, spec.Path, err)
	}
	rpc, err := client.Client()
	if err != nil {
		p.kill()
		return nil, fmt.Errorf("pluginhost: connecting to plugin %q: %w", spec.Name, err)
	}
	raw, err := rpc.Dispense(sdk.PluginName)
	if err != nil {
		p.kill()
		return nil, fmt.Errorf("pluginhost: plugin %q: %w", spec.Name, err)
	}
	conn, ok := raw.(*sdk.Client)
	if !ok {
		p.kill()
		return nil, fmt.Errorf("pluginhost: plugin %q: unexpected client type %T", spec.Name, raw)
	}
	p.conn = conn
	if g, ok := rpc.(*plugin.GRPCClient); ok {
		p.cc = g.Conn
	}
	return p, nil
}

// waitExit blocks until process pid has exited (it may not be reaped yet:
// go-plugin reaps it). It waits on a pidfd, which becomes readable when the
// process terminates, without reaping it.
func waitExit(pid int, client *plugin.Client) {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		if errors.Is(err, unix.ESRCH) {
			return
		}
		// Kernel without pidfd (< 5.3): poll go-plugin's view.
		for !client.Exited() {
			time.Sleep(50 * time.Millisecond)
		}
		return
	}
	defer unix.Close(fd)
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	for {
		_, err := unix.Poll(fds, -1)
		if err != unix.EINTR {
			return
		}
	}
}

// healthCtx returns ctx bounded by d.
func boundCtx(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, d)
}
