package sdk

import (
	"context"
	"testing"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
)

// TestGoPluginGlue dispenses a plugin through go-plugin's own gRPC test
// connection and the plugin set from VersionedPlugins, as the host does.
func TestGoPluginGlue(t *testing.T) {
	r := &recorder{}
	set := VersionedPlugins(r)[ProtocolVersion]
	client, _ := plugin.TestPluginGRPCConn(t, false, set)
	defer client.Close()
	raw, err := client.Dispense(PluginName)
	if err != nil {
		t.Fatal(err)
	}
	c, ok := raw.(*Client)
	if !ok {
		t.Fatalf("dispensed %T, want *Client", raw)
	}
	info, err := c.GetInfo(context.Background(), &pb.GetInfoRequest{})
	if err != nil || info.GetName() != "rec" {
		t.Fatalf("GetInfo = %v, %v", info, err)
	}
	if _, err := c.Debit(context.Background(), validDebit()); err != nil {
		t.Fatalf("Debit through go-plugin: %v", err)
	}
	if n := r.calls.Load(); n != 2 {
		t.Errorf("plugin saw %d calls, want 2", n)
	}
}

// BenchmarkDebitRoundTrip measures one Debit from the host-side Client
// through gRPC (in memory) and the server adapter's digest check to the
// implementation and back.
func BenchmarkDebitRoundTrip(b *testing.B) {
	c := dialB(b, &recorder{})
	req := validDebit()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Debit(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}

func TestRecoverUnaryTurnsPanicIntoInternal(t *testing.T) {
	_, err := recoverUnary(context.Background(), nil, &grpc.UnaryServerInfo{FullMethod: "/switchd.plugin.v1.PaymentMethod/Debit"},
		func(context.Context, any) (any, error) { panic("boom") })
	if CodeOf(fromStatus(err)) != CodeInternal {
		t.Fatalf("panic gave %v, want an internal error", err)
	}
}
