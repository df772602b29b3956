package pluginhost

import (
	"context"
	"log/slog"
	"net"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"

	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
	"github.com/switchd/switchd/plugins/sdk"
)

// InProcess returns a Host that serves the given implementations in this
// process, over an in-memory gRPC connection. The calls cross the same SDK
// adapters as out of process (order digest checks, error mapping through
// gRPC status codes), so a flow tested against it behaves the same, minus
// processes, restarts and digest pinning. Start is not needed; Close stops
// the servers. A plugin whose GetInfo fails is left out (Info reports it
// missing and its clients fail with ErrUnknownPlugin).
//
// opts, if given (only its first element counts), are the host's Options;
// of them only Logger, CallTimeout, HealthTimeout and State apply. A
// plugin that lists sdk.CapHostState needs State, as with New. Its state
// cannot be reset by a restart: when its memory may be ahead of the store
// (see the package doc), the host takes it out of service and loads its
// committed state again over the same connection, with the Configure
// replay, before it serves again. Unlike a killed process, an
// implementation still working on the lost call may apply it after that
// reload; InProcess is for benchmarks and tests, not for serving.
func InProcess(impls map[string]sdk.Plugin, opts ...Options) *Host {
	o := Options{Logger: slog.Default()}
	if len(opts) > 0 {
		o = opts[0]
	}
	h := New(o)
	for name, impl := range impls {
		info, err := impl.GetInfo(context.Background(), &pb.GetInfoRequest{})
		if err != nil || len(info.GetKinds()) == 0 {
			h.opts.Logger.Error("in-process plugin left out: GetInfo failed", "plugin", name, "error", err)
			continue
		}
		lis := bufconn.Listen(1 << 20)
		srv := grpc.NewServer()
		sdk.RegisterServers(srv, impl)
		go func() { _ = srv.Serve(lis) }()
		conn, err := grpc.NewClient("passthrough:///"+name,
			grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
			grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			srv.Stop()
			h.opts.Logger.Error("in-process plugin left out", "plugin", name, "error", err)
			continue
		}
		p := &proc{
			loaded: map[string]bool{},
			conn:   sdk.NewClient(conn),
			exited: make(chan struct{}), // never closed: nothing to restart
			stop: func() {
				_ = conn.Close()
				srv.Stop()
			},
		}
		h.plugins[name] = &supervised{
			name:    name,
			spec:    Spec{Name: name},
			opts:    h.opts,
			log:     h.opts.Logger.With("plugin", name),
			configs: map[string]*pb.ConfigureRequest{},
			done:    make(chan struct{}),
			cur:     p,
			info:    info,
			inproc:  p,
			backoff: minBackoff,
		}
	}
	return h
}
