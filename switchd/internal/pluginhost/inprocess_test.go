package pluginhost_test

import (
	"context"
	"errors"
	"testing"

	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
	"github.com/switchd/switchd/plugins/sdk"
	"github.com/switchd/switchd/switchd/internal/pluginhost"
)

func TestInProcess(t *testing.T) {
	h := pluginhost.InProcess(map[string]sdk.Plugin{"sample": benchMethod{}})
	if info, ok := h.Info("sample"); !ok || info.GetVersion() != "1.2.3" {
		t.Fatalf("Info = %v, %v", info, ok)
	}
	m, err := h.PaymentMethod("sample")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Authenticator("sample"); !errors.Is(err, pluginhost.ErrWrongKind) {
		t.Errorf("Authenticator: err = %v, want ErrWrongKind", err)
	}
	if _, err := h.Configure(context.Background(), "sample", &pb.ConfigureRequest{InstanceId: "bank-a"}); err != nil {
		t.Fatal(err)
	}
	if got, err := resolve(context.Background(), m, "bank-a", "p1"); err != nil || got != "hello" {
		t.Fatalf("ResolveInstrument = %q, %v", got, err)
	}
	// The calls cross the SDK's server adapters: an order that does not
	// match its digest is refused before the implementation sees it.
	_, err = m.Debit(context.Background(), &pb.DebitRequest{InstanceId: "bank-a", Order: &pb.Order{PaymentId: "p1"}, OrderDigest: []byte("nope")})
	if sdk.CodeOf(err) != sdk.CodeInvalidArgument {
		t.Errorf("Debit with a wrong digest: err = %v, want invalid_argument", err)
	}
	st := h.Status(context.Background())
	if len(st) != 1 || !st[0].Healthy || st[0].PID != 0 {
		t.Errorf("Status = %+v", st)
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := resolve(context.Background(), m, "bank-a", "p1"); !errors.Is(err, pluginhost.ErrClosed) {
		t.Errorf("after Close: err = %v, want ErrClosed", err)
	}
}
