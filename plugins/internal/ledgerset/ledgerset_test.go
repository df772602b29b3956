package ledgerset

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchd/switchd/plugins/internal/ledger"
	"github.com/switchd/switchd/plugins/internal/ledger/oldledger"
	"github.com/switchd/switchd/plugins/ledgerstate"
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

	open := []ledger.Opening{{ID: "acct:1", Currency: "EUR", Limit: 100, Balance: 50}}
	// Configure before LoadState is refused: an empty ledger could pay twice.
	if _, _, err := s.Configure(ctx, "a", "first", open, "demo"); sdk.CodeOf(err) != sdk.CodeFailedPrecondition || !strings.Contains(err.Error(), "LoadState") {
		t.Fatalf("Configure before LoadState: %v", err)
	}
	if _, err := s.Get("a"); err == nil {
		t.Fatal("a refused Configure configured the instance")
	}
	if err := s.LoadState(ctx, "a", nil); err != nil {
		t.Fatal(err)
	}
	writes, d, err := s.Configure(ctx, "a", "first", open, "demo")
	if d != nil || err != nil {
		t.Fatalf("Configure: %v %v", d, err)
	}
	v, err := ledgerstate.Decode(writes)
	if err != nil || v.Balances()["acct:1"] != 50 || v.Check() != nil {
		t.Fatalf("Configure's writes %v: %v", writes, err)
	}
	in, err := s.Get("a")
	if err != nil || in.Settings != "first" || in.Books != ledger.Core(in.Ledger) {
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
	if err != nil || st.GetState() != pb.OperationState_OPERATION_STATE_NOT_FOUND || len(st.GetStateWrites()) != 0 {
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
	rev, err := s.Reverse(ctx, &pb.ReverseRequest{InstanceId: "a", PaymentId: "p9", Operation: pb.Operation_OPERATION_DEBIT})
	if err != nil || rev.GetState() != pb.OperationState_OPERATION_STATE_NOT_FOUND || len(rev.GetStateWrites()) != 1 {
		t.Fatalf("Reverse of an unknown operation = %v, %v; want not found with its tombstone", rev, err)
	}

	// Reconfiguring keeps the ledger.
	if _, d, err := s.Configure(ctx, "a", "second", open, "demo"); d != nil || err != nil {
		t.Fatalf("reconfigure: %v %v", d, err)
	}
	if in2, _ := s.Get("a"); in2.Ledger != in.Ledger || in2.Settings != "second" {
		t.Fatalf("reconfigure replaced the ledger or kept old settings: %+v", in2)
	}

	// A seed that fails is a diagnostic naming the plugin, and the previous
	// settings stay.
	bad := []ledger.Opening{{ID: "acct:1", Currency: "USD"}}
	w, d, err := s.Configure(ctx, "a", "third", bad, "demo")
	if err != nil || w != nil || d == nil || d.GetSummary() != "Cannot set up the demo ledger" {
		t.Fatalf("bad seed: %v %v %v", w, d, err)
	}
	if in3, _ := s.Get("a"); in3.Settings != "second" {
		t.Fatalf("settings after a failed configure: %q", in3.Settings)
	}

	// Records that do not load are InvalidArgument and change nothing.
	if err := s.LoadState(ctx, "a", []*pb.StateWrite{{Key: []byte("x/1"), Value: []byte("1")}}); sdk.CodeOf(err) != sdk.CodeInvalidArgument {
		t.Fatalf("LoadState of a bad record: %v", err)
	}
	if bal, _ := s.Balances("a"); bal["acct:1"].Balance != 50 {
		t.Fatalf("a refused LoadState changed the ledger: %v", bal)
	}
	// LoadState replaces the ledger's state, even of a configured instance.
	if err := s.LoadState(ctx, "a", nil); err != nil {
		t.Fatal(err)
	}
	if bal, _ := s.Balances("a"); len(bal) != 0 {
		t.Fatalf("balances after loading nothing: %v", bal)
	}
	if err := s.LoadState(ctx, "", nil); sdk.CodeOf(err) != sdk.CodeInvalidArgument {
		t.Fatalf("LoadState without instance: %v", err)
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
}

// TestExportState exports a ledger.db of release 1.0.0 (package
// oldledger) as the host would, then loads the records and configures: the
// balances are the file's.
func TestExportState(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	if err := oldledger.Write(dir); err != nil {
		t.Fatal(err)
	}
	s := New[string]()
	recs, err := s.ExportState(ctx, "a", dir)
	if err != nil || len(recs) == 0 {
		t.Fatalf("ExportState = %d records, %v", len(recs), err)
	}
	if _, err := os.Stat(filepath.Join(dir, ledger.ImportedFile)); err != nil {
		t.Fatalf("old file not renamed: %v", err)
	}
	if err := s.LoadState(ctx, "a", recs); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Configure(ctx, "a", "x", []ledger.Opening{{ID: "acct:DE001", Currency: "EUR", Balance: 1}}, "demo"); err != nil {
		t.Fatal(err)
	}
	bal, _ := s.Balances("a")
	if bal["acct:DE001"].Balance != 50000 || bal["card:tok_alice"].Balance != -2500 {
		t.Fatalf("balances after export %v", bal)
	}

	if _, err := s.ExportState(ctx, "a", ""); sdk.CodeOf(err) != sdk.CodeInvalidArgument {
		t.Fatalf("ExportState without data dir: %v", err)
	}
	bad := t.TempDir()
	if err := os.WriteFile(filepath.Join(bad, ledger.OldFile), []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ExportState(ctx, "b", bad); sdk.CodeOf(err) != sdk.CodeFailedPrecondition {
		t.Fatalf("ExportState of a bad file: %v", err)
	}
	if recs, err := s.ExportState(ctx, "c", t.TempDir()); err != nil || recs != nil {
		t.Fatalf("ExportState with no old file = %v, %v", recs, err)
	}
}
