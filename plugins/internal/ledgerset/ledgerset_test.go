package ledgerset

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchd/switchd/plugins/internal/ledger"
	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
	"github.com/switchd/switchd/plugins/sdk"
)

func TestSet(t *testing.T) {
	ctx := context.Background()
	s := New[string]()
	t.Cleanup(func() { _ = s.Close() })
	if _, err := s.Get("a"); sdk.CodeOf(err) != sdk.CodeFailedPrecondition {
		t.Fatalf("Get of unknown instance: %v", err)
	}
	if h, _ := s.Health(ctx, &pb.HealthRequest{InstanceId: "a"}); h.GetServing() || h.GetMessage() != "instance a is not configured" {
		t.Fatalf("Health of unknown instance: %v", h)
	}
	if h, _ := s.Health(ctx, &pb.HealthRequest{}); !h.GetServing() {
		t.Fatalf("Health of the plugin: %v", h)
	}

	dir := t.TempDir()
	open := []ledger.Opening{{ID: "acct:1", Currency: "EUR", Limit: 100, Balance: 50}}
	if d, err := s.Configure(ctx, "a", dir, "first", open, "demo"); d != nil || err != nil {
		t.Fatalf("Configure: %v %v", d, err)
	}
	in, err := s.Get("a")
	if err != nil || in.Settings != "first" || in.Books != ledger.Core(in.Ledger) || in.Ledger.Path() != filepath.Join(dir, File) {
		t.Fatalf("Get = %+v, %v", in, err)
	}
	if h, _ := s.Health(ctx, &pb.HealthRequest{InstanceId: "a"}); !h.GetServing() {
		t.Fatalf("Health of configured instance: %v", h)
	}
	bal, err := s.Balances("a")
	if err != nil || bal["acct:1"].Balance != 50 {
		t.Fatalf("Balances = %v, %v", bal, err)
	}
	if err := s.Check("a"); err != nil {
		t.Fatal(err)
	}

	// Money calls that only need the books go through the instance.
	st, err := s.GetOperationStatus(ctx, &pb.OperationStatusRequest{InstanceId: "a", PaymentId: "p1", Operation: pb.Operation_OPERATION_DEBIT})
	if err != nil || st.GetState() != pb.OperationState_OPERATION_STATE_NOT_FOUND {
		t.Fatalf("GetOperationStatus = %v, %v", st, err)
	}
	if _, err := s.GetOperationStatus(ctx, &pb.OperationStatusRequest{InstanceId: "nope", PaymentId: "p1", Operation: pb.Operation_OPERATION_DEBIT}); sdk.CodeOf(err) != sdk.CodeFailedPrecondition {
		t.Fatalf("GetOperationStatus of unknown instance: %v", err)
	}
	if _, err := s.Reverse(ctx, &pb.ReverseRequest{InstanceId: "nope", PaymentId: "p1", Operation: pb.Operation_OPERATION_DEBIT}); sdk.CodeOf(err) != sdk.CodeFailedPrecondition {
		t.Fatalf("Reverse of unknown instance: %v", err)
	}
	if _, err := s.Reverse(ctx, &pb.ReverseRequest{InstanceId: "a", Operation: pb.Operation_OPERATION_DEBIT}); sdk.CodeOf(err) != sdk.CodeInvalidArgument {
		t.Fatalf("Reverse without payment id: %v", err)
	}

	// Reconfiguring in the same dir keeps the open ledger.
	if d, err := s.Configure(ctx, "a", dir, "second", open, "demo"); d != nil || err != nil {
		t.Fatalf("reconfigure: %v %v", d, err)
	}
	if in2, _ := s.Get("a"); in2.Ledger != in.Ledger || in2.Settings != "second" {
		t.Fatalf("reconfigure reopened the ledger or kept old settings: %+v", in2)
	}

	// A seed that fails is a diagnostic naming the plugin, and the previous
	// settings stay.
	bad := []ledger.Opening{{ID: "acct:1", Currency: "USD"}}
	d, err := s.Configure(ctx, "a", dir, "third", bad, "demo")
	if err != nil || d == nil || d.GetSummary() != "Cannot set up the demo ledger" {
		t.Fatalf("bad seed: %v %v", d, err)
	}
	if in3, _ := s.Get("a"); in3.Settings != "second" {
		t.Fatalf("settings after a failed configure: %q", in3.Settings)
	}

	// An unopenable file is Unavailable.
	if _, err := s.Configure(ctx, "b", filepath.Join(dir, "missing"), "x", nil, "demo"); sdk.CodeOf(err) != sdk.CodeUnavailable {
		t.Fatalf("missing dir: %v", err)
	}

	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := s.Get("a"); err == nil || !strings.Contains(err.Error(), `instance "a" is not configured`) {
		t.Fatalf("instance kept after Close: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, File)); err != nil {
		t.Fatal(err)
	}
}
