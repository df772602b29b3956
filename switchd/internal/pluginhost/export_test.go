package pluginhost

import (
	"strconv"

	"google.golang.org/grpc"
)

// GRPCDialOptions exposes the host's gRPC dial options to the benchmark's
// go-plugin-only floor, so that it compares like with like.
func GRPCDialOptions() []grpc.DialOption { return grpcDialOptions }

// PluginRuntimeEnv is the Go runtime part of a plugin's environment, for
// the same benchmark.
var PluginRuntimeEnv = []string{"GOGC=" + pluginGOGC, "GOMAXPROCS=" + strconv.Itoa(DefaultPluginProcs())}
