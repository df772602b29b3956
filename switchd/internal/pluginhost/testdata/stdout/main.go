// Command stdout is a test plugin for package pluginhost that breaks the
// rule every plugin must keep: it prints to stdout before the handshake.
package main

import (
	"context"
	"fmt"

	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
	"github.com/switchd/switchd/plugins/sdk"
)

type noisy struct{}

func (noisy) GetInfo(context.Context, *pb.GetInfoRequest) (*pb.GetInfoResponse, error) {
	return &pb.GetInfoResponse{Name: "stdout", Version: "0.0.1", Kinds: []pb.Kind{pb.Kind_KIND_AUTHENTICATOR}}, nil
}

func (noisy) Configure(context.Context, *pb.ConfigureRequest) (*pb.ConfigureResponse, error) {
	return &pb.ConfigureResponse{}, nil
}

func (noisy) Health(context.Context, *pb.HealthRequest) (*pb.HealthResponse, error) {
	return &pb.HealthResponse{Serving: true}, nil
}

func main() {
	fmt.Println("hello from a plugin that should have logged to stderr")
	sdk.Serve(noisy{})
}
