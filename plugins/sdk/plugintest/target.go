package plugintest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"

	"github.com/switchd/switchd/plugins/sdk"
)

// Target is the plugin under test: a built binary run as a real plugin
// subprocess, or an implementation served in memory.
type Target struct {
	path    string
	impl    sdk.Plugin
	newImpl func() sdk.Plugin
}

// Binary is the plugin binary at path, launched as the host launches it: a
// go-plugin subprocess speaking gRPC over AutoMTLS, with the binary pinned
// by its SHA-256.
func Binary(path string) Target { return Target{path: path} }

// InProcess is p served by the SDK's gRPC adapters over an in-memory
// connection. It is fast, and lets the kit see when the plugin's handlers
// return, which the deadline check needs to catch a plugin that ignores its
// context.
func InProcess(p sdk.Plugin) Target { return Target{impl: p} }

// InProcessFunc is InProcess for the implementation newPlugin returns. The
// kit calls newPlugin to start the target and again for each restart that
// the host_state checks make (a fresh implementation stands for a new
// process), so newPlugin must return a new value with no state of its
// own. InProcess cannot be restarted, and those checks skip.
//
// Suite.Balance, if set, must read the implementation newPlugin returned
// last.
func InProcessFunc(newPlugin func() sdk.Plugin) Target { return Target{newImpl: newPlugin} }

// restartable reports whether the kit can start the target afresh.
func (tg Target) restartable() bool { return tg.path != "" || tg.newImpl != nil }

func (tg Target) String() string {
	switch {
	case tg.impl != nil:
		return fmt.Sprintf("in-process %T", tg.impl)
	case tg.newImpl != nil:
		return "in-process from a constructor"
	case tg.path != "":
		return "binary " + tg.path
	}
	return "no target"
}

// conn is a started target.
type conn struct {
	client *sdk.Client
	// handlers counts the plugin's running handlers; nil for a binary,
	// whose handlers the kit cannot see.
	handlers *atomic.Int64
	// stop ends the process (or the in-memory server); safe to call twice.
	stop func()
}

func (tg Target) start(t tb) (*conn, error) {
	switch {
	case tg.impl != nil:
		return startInProcess(t, tg.impl)
	case tg.newImpl != nil:
		return startInProcess(t, tg.newImpl())
	case tg.path != "":
		return startBinary(t, tg.path)
	}
	return nil, ErrNoTarget
}

func startInProcess(t tb, impl sdk.Plugin) (*conn, error) {
	var running atomic.Int64
	count := func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		running.Add(1)
		defer running.Add(-1)
		return h(ctx, req)
	}
	lis := bufconn.Listen(1 << 20)
	srv := grpc.NewServer(grpc.UnaryInterceptor(count))
	sdk.RegisterServers(srv, impl)
	go func() { _ = srv.Serve(lis) }()
	cc, err := grpc.NewClient("passthrough:///plugintest",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		srv.Stop()
		return nil, fmt.Errorf("plugintest: %w", err)
	}
	stop := func() { cc.Close(); srv.Stop() }
	t.Cleanup(stop)
	return &conn{client: sdk.NewClient(cc), handlers: &running, stop: stop}, nil
}

func startBinary(t tb, path string) (*conn, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("plugintest: %w", err)
	}
	h := sha256.New()
	_, err = io.Copy(h, f)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("plugintest: %w", err)
	}
	logs := &lockedBuffer{}
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  sdk.Handshake,
		VersionedPlugins: sdk.VersionedPlugins(nil),
		Cmd:              exec.Command(path),
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		AutoMTLS:         true,
		SecureConfig:     &plugin.SecureConfig{Checksum: h.Sum(nil), Hash: sha256.New()},
		Logger:           hclog.New(&hclog.LoggerOptions{Name: "plugintest", Output: logs, Level: hclog.Debug}),
	})
	t.Cleanup(func() {
		client.Kill()
		if t.Failed() {
			t.Logf("plugin log:\n%s", logs.String())
		}
	})
	rpc, err := client.Client()
	if err != nil {
		return nil, fmt.Errorf("plugintest: launch %s: %w\n%s", path, err, logs.String())
	}
	raw, err := rpc.Dispense(sdk.PluginName)
	if err != nil {
		return nil, fmt.Errorf("plugintest: dispense %s: %w", path, err)
	}
	c, ok := raw.(*sdk.Client)
	if !ok {
		return nil, fmt.Errorf("plugintest: dispensed %T, want *sdk.Client", raw)
	}
	return &conn{client: c, stop: client.Kill}, nil
}

// waitIdle waits up to d for the plugin's handlers to return and reports
// whether they did.
func (c *conn) waitIdle(d time.Duration) bool {
	end := time.Now().Add(d)
	for c.handlers.Load() > 0 {
		if time.Now().After(end) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
