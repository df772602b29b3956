// Package hosttest plays the switch's part for the built-in ledger plugins
// in tests that run them as real subprocesses: it keeps each instance's
// committed records, as the switch does in switchd.db, loads them into a
// plugin process before Configure (LoadState), and commits the
// state_writes of every Configure and money answer. It reads the records
// back with package ledgerstate.
package hosttest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/switchd/switchd/plugins/ledgerstate"
	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
	"github.com/switchd/switchd/plugins/sdk"
)

// Host holds the committed records of every instance. It is safe for
// concurrent use.
type Host struct {
	mu   sync.Mutex
	recs map[string]sdk.StateMap
}

// New returns a host that holds nothing.
func New() *Host { return &Host{recs: map[string]sdk.StateMap{}} }

// Commit applies writes to instance's records (an empty value deletes).
func (h *Host) Commit(instance string, writes []*pb.StateWrite) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.recs[instance] == nil {
		h.recs[instance] = sdk.StateMap{}
	}
	h.recs[instance].Apply(writes)
}

// Records returns instance's records in key order.
func (h *Host) Records(instance string) []*pb.StateWrite {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.recs[instance].Records()
}

// View decodes instance's records and checks the ledger's invariants; a
// failure fails the test.
func (h *Host) View(tb testing.TB, instance string) *ledgerstate.View {
	tb.Helper()
	v, err := ledgerstate.Decode(h.Records(instance))
	if err != nil {
		tb.Fatalf("records of %s: %v", instance, err)
	}
	if err := v.Check(); err != nil {
		tb.Errorf("records of %s: %v", instance, err)
	}
	return v
}

// Configure loads instance's records into the plugin behind c, configures
// it with req and commits the answer's records. Error diagnostics fail the
// test.
func (h *Host) Configure(tb testing.TB, c *sdk.Client, req *pb.ConfigureRequest) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.LoadState(ctx, req.GetInstanceId(), h.Records(req.GetInstanceId())); err != nil {
		tb.Fatalf("LoadState %s: %v", req.GetInstanceId(), err)
	}
	res, err := c.Configure(ctx, req)
	if err != nil {
		tb.Fatal(err)
	}
	if sdk.HasErrors(res.GetDiagnostics()) {
		tb.Fatalf("configure %s: %v", req.GetInstanceId(), res.GetDiagnostics())
	}
	h.Commit(req.GetInstanceId(), res.GetStateWrites())
}

// Client is a plugin client whose money answers h commits.
type Client struct {
	*sdk.Client
	h *Host
}

// Client wraps c so that its money calls commit their answers' records.
func (h *Host) Client(c *sdk.Client) *Client { return &Client{Client: c, h: h} }

func (c *Client) commit(instance string, r *pb.MoneyResult, err error) (*pb.MoneyResult, error) {
	if err == nil {
		c.h.Commit(instance, r.GetStateWrites())
	}
	return r, err
}

// Debit calls Debit and commits the answer's records.
func (c *Client) Debit(ctx context.Context, req *pb.DebitRequest) (*pb.MoneyResult, error) {
	r, err := c.Client.Debit(ctx, req)
	return c.commit(req.GetInstanceId(), r, err)
}

// Credit calls Credit and commits the answer's records.
func (c *Client) Credit(ctx context.Context, req *pb.CreditRequest) (*pb.MoneyResult, error) {
	r, err := c.Client.Credit(ctx, req)
	return c.commit(req.GetInstanceId(), r, err)
}

// Reverse calls Reverse and commits the answer's records.
func (c *Client) Reverse(ctx context.Context, req *pb.ReverseRequest) (*pb.MoneyResult, error) {
	r, err := c.Client.Reverse(ctx, req)
	return c.commit(req.GetInstanceId(), r, err)
}

// GetOperationStatus calls GetOperationStatus and commits the answer's
// records.
func (c *Client) GetOperationStatus(ctx context.Context, req *pb.OperationStatusRequest) (*pb.MoneyResult, error) {
	r, err := c.Client.GetOperationStatus(ctx, req)
	return c.commit(req.GetInstanceId(), r, err)
}
