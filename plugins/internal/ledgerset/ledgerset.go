// Package ledgerset is the plumbing the built-in payment-method plugins
// (card and banktransfer) share: their configured instances, each with its
// settings and its own in-memory ledger.Ledger whose durable state the host
// keeps (capability host_state: LoadState, ExportState, and the records
// every answer returns), the calls that only look at those (Health, Close,
// Reverse, GetOperationStatus, and the Balances and Check helpers for tests
// and tools), and the money calls both make the same way once they know the
// account (Debit, Credit, CheckOrder).
//
// What differs between the plugins (their settings type, the accounts they
// seed, the name in their diagnostics) is passed in by the caller.
package ledgerset

import (
	"context"
	"errors"
	"sync"

	"github.com/switchd/switchd/plugins/internal/ledger"
	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
	"github.com/switchd/switchd/plugins/sdk"
)

// Instance is one institution: its settings and its ledger. Money calls go
// through Books, the small interface a bank could implement with its own
// core system; Ledger is the same value, for setup and inspection.
type Instance[S any] struct {
	Settings S
	Books    ledger.Core
	Ledger   *ledger.Ledger
}

// Set holds a plugin's instances by instance id, and the ledgers the host
// loaded for them. It is safe for concurrent use.
type Set[S any] struct {
	mu        sync.RWMutex
	ledgers   map[string]*ledger.Ledger
	instances map[string]*Instance[S]
}

// New returns an empty set. It has no side effects.
func New[S any]() *Set[S] {
	return &Set[S]{ledgers: map[string]*ledger.Ledger{}, instances: map[string]*Instance[S]{}}
}

// Get returns the instance configured under id, or a FailedPrecondition
// error.
func (s *Set[S]) Get(id string) (*Instance[S], error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	in, ok := s.instances[id]
	if !ok {
		return nil, sdk.FailedPrecondition("instance %q is not configured", id)
	}
	return in, nil
}

// LoadState answers sdk.StateHolder's LoadState: it replaces the ledger of
// instance id with records (see ledger.Load), keeping the instance's
// settings if it is configured. Records that do not decode or break the
// ledger's invariants are InvalidArgument and change nothing.
func (s *Set[S]) LoadState(ctx context.Context, id string, records []*pb.StateWrite) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if id == "" {
		return sdk.InvalidArgument("instance_id", "is required")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.ledgers[id]
	if l == nil {
		l = ledger.New()
	}
	if err := l.Load(records); err != nil {
		return &sdk.Error{Code: sdk.CodeInvalidArgument, Field: "records", Msg: "cannot load the ledger of instance " + id, Err: err}
	}
	s.ledgers[id] = l
	sdk.Logger().Info("ledger loaded", "instance", id, "records", len(records))
	return nil
}

// ExportState answers sdk.StateHolder's ExportState: the records of the
// instance's old ledger file in dataDir (see ledger.Export), which it then
// renames to ledger.db.imported. An old file that cannot be exported is
// FailedPrecondition and stays where it is.
func (s *Set[S]) ExportState(ctx context.Context, id, dataDir string) ([]*pb.StateWrite, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if dataDir == "" {
		return nil, sdk.InvalidArgument("data_dir", "is required")
	}
	recs, err := ledger.Export(dataDir)
	switch {
	case errors.Is(err, ledger.ErrOldFile):
		return nil, &sdk.Error{Code: sdk.CodeFailedPrecondition, Msg: "cannot export the old ledger of instance " + id, Err: err}
	case err != nil:
		return nil, sdk.Unavailable(err)
	}
	if recs != nil {
		sdk.Logger().Info("old ledger exported", "instance", id, "records", len(recs))
	}
	return recs, nil
}

// Configure creates the accounts of open that do not exist yet in the
// ledger the host loaded for instance id, and then replaces the
// instance's settings with settings in one step. It returns the records of
// the accounts named (ConfigureResponse.state_writes). If seeding fails it
// returns an error diagnostic "Cannot set up the <name> ledger", and the
// ledger and the previous settings stay. Before LoadState of the instance
// it refuses (FailedPrecondition): a ledger that started empty because
// the host did not load it would pay again what it paid before.
func (s *Set[S]) Configure(ctx context.Context, id string, settings S, open []ledger.Opening, name string) ([]*pb.StateWrite, *pb.Diagnostic, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.ledgers[id]
	if l == nil {
		return nil, nil, sdk.FailedPrecondition("instance %q: the host has not loaded its ledger (LoadState before Configure; the plugin needs a host with host_state support)", id)
	}
	writes, err := l.Seed(ctx, open)
	if err != nil {
		return nil, sdk.ErrorDiag(nil, "Cannot set up the "+name+" ledger", "%v", err), nil
	}
	s.instances[id] = &Instance[S]{Settings: settings, Books: l, Ledger: l}
	return writes, nil, nil
}

// Health answers sdk.Plugin's Health: an instance serves once configured.
func (s *Set[S]) Health(_ context.Context, req *pb.HealthRequest) (*pb.HealthResponse, error) {
	if id := req.GetInstanceId(); id != "" {
		if _, err := s.Get(id); err != nil {
			return &pb.HealthResponse{Serving: false, Message: "instance " + id + " is not configured"}, nil
		}
	}
	return &pb.HealthResponse{Serving: true}, nil
}

// Close forgets the instances and their ledgers (their state is the
// host's). It is safe after a failed setup and when called twice.
func (s *Set[S]) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.instances)
	clear(s.ledgers)
	return nil
}

// Balances returns the ledger accounts of instance id.
func (s *Set[S]) Balances(id string) (map[string]ledger.Account, error) {
	in, err := s.Get(id)
	if err != nil {
		return nil, err
	}
	return in.Ledger.Balances(), nil
}

// Check verifies the ledger invariants of instance id (see ledger.Check).
func (s *Set[S]) Check(id string) error {
	in, err := s.Get(id)
	if err != nil {
		return err
	}
	return in.Ledger.Check()
}

// Reverse answers sdk.PaymentMethod's Reverse from the instance's books
// (see ledger.ReverseCall) and logs the reversal.
func (s *Set[S]) Reverse(ctx context.Context, req *pb.ReverseRequest) (*pb.MoneyResult, error) {
	in, err := s.Get(req.GetInstanceId())
	if err != nil {
		return nil, err
	}
	res, err := ledger.ReverseCall(ctx, in.Books, req)
	if err == nil {
		sdk.Logger().Info("reversed", "instance", req.GetInstanceId(), "payment_id", req.GetPaymentId(), "operation", req.GetOperation().String(), "reason", req.GetReason(), "state", res.GetState().String())
	}
	return res, err
}

// GetOperationStatus answers sdk.PaymentMethod's GetOperationStatus from
// the instance's books (see ledger.StatusCall).
func (s *Set[S]) GetOperationStatus(ctx context.Context, req *pb.OperationStatusRequest) (*pb.MoneyResult, error) {
	in, err := s.Get(req.GetInstanceId())
	if err != nil {
		return nil, err
	}
	return ledger.StatusCall(ctx, in.Books, req)
}
