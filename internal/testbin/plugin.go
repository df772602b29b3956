package testbin

import (
	"bytes"
	"crypto/sha256"
	"io"
	"os"
	"os/exec"
	"sync"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"

	"github.com/switchd/switchd/plugins/sdk"
)

// SyncBuffer is a bytes.Buffer safe for one writer goroutine (go-plugin's
// stderr reader) and a reading test at the same time.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// Bytes returns a copy of everything written so far.
func (s *SyncBuffer) Bytes() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]byte(nil), s.b.Bytes()...)
}

// String returns everything written so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// LaunchOption changes how LaunchPlugin starts a plugin.
type LaunchOption func(*launchConfig)

type launchConfig struct {
	hostLogs bool
}

// WithHostLogs also sends go-plugin's own log lines, at trace level, to
// Launched.Logs. Without it they are discarded and Logs holds only the
// plugin's stderr.
func WithHostLogs() LaunchOption {
	return func(c *launchConfig) { c.hostLogs = true }
}

// Launched is a plugin process started by LaunchPlugin.
type Launched struct {
	// Client is the dispensed sdk.PluginName client of the current process.
	Client *sdk.Client
	// Logs collects the plugin's stderr (with SWITCHD_PLUGIN_LOG_LEVEL=trace)
	// across every launch, so tests can scan it for secrets.
	Logs *SyncBuffer

	tb     testing.TB
	bin    string
	cfg    launchConfig
	plugin *plugin.Client
}

// LaunchPlugin starts the plugin binary at binPath the way the host does:
// go-plugin with sdk.Handshake, the binary's SHA-256 pinned, AutoMTLS, gRPC
// only, and the plugin logging at trace level. It dispenses sdk.PluginName
// and fails the test on any error. The process is killed when the test
// ends, or earlier through Kill or Restart.
func LaunchPlugin(tb testing.TB, binPath string, opts ...LaunchOption) *Launched {
	tb.Helper()
	l := &Launched{Logs: &SyncBuffer{}, tb: tb, bin: binPath}
	for _, o := range opts {
		o(&l.cfg)
	}
	l.start()
	return l
}

// Kill stops the current plugin process.
func (l *Launched) Kill() { l.plugin.Kill() }

// Restart kills the current process, starts the binary again with the same
// options and the same Logs, and returns (and stores in Client) the new
// client.
func (l *Launched) Restart() *sdk.Client {
	l.tb.Helper()
	l.Kill()
	l.start()
	return l.Client
}

func (l *Launched) start() {
	tb := l.tb
	tb.Helper()
	f, err := os.ReadFile(l.bin)
	if err != nil {
		tb.Fatal(err)
	}
	sum := sha256.Sum256(f)
	cmd := exec.Command(l.bin)
	cmd.Env = append(os.Environ(), "SWITCHD_PLUGIN_LOG_LEVEL=trace")
	logger := hclog.New(&hclog.LoggerOptions{Output: io.Discard})
	if l.cfg.hostLogs {
		logger = hclog.New(&hclog.LoggerOptions{Output: l.Logs, Level: hclog.Trace})
	}
	c := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  sdk.Handshake,
		VersionedPlugins: sdk.VersionedPlugins(nil),
		Cmd:              cmd,
		SecureConfig:     &plugin.SecureConfig{Checksum: sum[:], Hash: sha256.New()},
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		AutoMTLS:         true,
		Stderr:           l.Logs,
		Logger:           logger,
	})
	tb.Cleanup(c.Kill)
	l.plugin = c
	rpc, err := c.Client()
	if err != nil {
		tb.Fatalf("launch %s: %v", l.bin, err)
	}
	raw, err := rpc.Dispense(sdk.PluginName)
	if err != nil {
		tb.Fatal(err)
	}
	l.Client = raw.(*sdk.Client)
}
