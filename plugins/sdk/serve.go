package sdk

import (
	"context"
	"fmt"
	"os"
	"runtime/debug"
	"runtime/pprof"
	"sync"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
)

var (
	loggerOnce sync.Once
	logger     hclog.Logger
)

// Logger returns the plugin's logger. It writes hclog JSON to stderr, which
// the host parses into its own structured log, tagged with the plugin's
// name. The level comes from SWITCHD_PLUGIN_LOG_LEVEL (default "info"),
// which the host sets.
func Logger() hclog.Logger {
	loggerOnce.Do(func() {
		level := hclog.LevelFromString(os.Getenv("SWITCHD_PLUGIN_LOG_LEVEL"))
		if level == hclog.NoLevel {
			level = hclog.Info
		}
		logger = hclog.New(&hclog.LoggerOptions{
			Level:      level,
			Output:     os.Stderr,
			JSONFormat: true,
		})
	})
	return logger
}

// Serve runs impl as a plugin process and returns when the host ends it.
// impl must implement Plugin and at least one of Authenticator and
// PaymentMethod. A plugin's main is one line:
//
//	func main() { sdk.Serve(New()) }
//
// Nothing may be written to stdout before or during Serve: stdout carries
// the go-plugin handshake.
//
// If the host set CPUProfileEnv, the process's CPU profile is written to
// the file it names, from start until the host stops the plugin.
func Serve(impl Plugin) {
	if path := os.Getenv(CPUProfileEnv); path != "" {
		stop, err := startCPUProfile(path)
		if err != nil {
			Logger().Warn("sdk: no CPU profile", "error", err)
		} else {
			defer stop()
		}
	}
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig:  Handshake,
		VersionedPlugins: VersionedPlugins(impl),
		GRPCServer:       newGRPCServer,
		Logger:           Logger(),
	})
}

// CPUProfileEnv names the environment variable by which the host asks a
// plugin process for its CPU profile (`switchd bench --cpuprofile` does):
// the path of the file to write it to. Unset, nothing is profiled.
const CPUProfileEnv = "SWITCHD_PLUGIN_CPUPROFILE"

// startCPUProfile starts the process's CPU profile into a new file at
// path and returns the function that ends it and closes the file.
func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		os.Remove(path)
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			Logger().Warn("sdk: CPU profile", "error", err)
		}
	}, nil
}

// streamWorkers is the number of goroutines that serve calls, each reused
// call after call. Without them gRPC starts a goroutine per call, whose
// stack then grows (copystack was a quarter of a plugin's CPU with 64
// concurrent callers). A call that finds every worker busy still gets a
// goroutine of its own. 64 is the concurrency of the target load.
const streamWorkers = 64

// newGRPCServer is go-plugin's default server plus:
//   - a recovery interceptor: a panic in one call becomes an Internal error
//     for that call (logged with its stack) instead of killing the plugin
//     process and every call in flight;
//   - fixed flow-control windows: with them gRPC's BDP estimator is off and
//     sends no PING per call (the host fixes its windows too);
//   - streamWorkers reused goroutines.
func newGRPCServer(opts []grpc.ServerOption) *grpc.Server {
	opts = append(opts, grpc.ChainUnaryInterceptor(recoverUnary),
		grpc.InitialWindowSize(1<<20), grpc.InitialConnWindowSize(1<<20),
		grpc.NumStreamWorkers(streamWorkers))
	return plugin.DefaultGRPCServer(opts)
}

func recoverUnary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
	defer func() {
		if r := recover(); r != nil {
			Logger().Error("plugin panicked in a call", "method", info.FullMethod, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			err = toStatus(Internal(fmt.Errorf("panic in %s", info.FullMethod)))
		}
	}()
	return handler(ctx, req)
}
