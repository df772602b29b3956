// Package ledgerset is the plumbing the built-in payment-method plugins
// (card and banktransfer) share: their configured instances, each with its
// settings and its own ledger.Ledger at data_dir/ledger.db, the calls that
// only look at those (Health, Close, Reverse, GetOperationStatus, and the
// Balances and Check helpers for tests and tools), and the money calls
// both make the same way once they know the account (Debit, Credit,
// CheckOrder).
//
// What differs between the plugins (their settings type, the accounts they
// seed, the name in their diagnostics) is passed in by the caller.
package ledgerset

import (
	"context"
	"path/filepath"
	"sync"

	"github.com/switchd/switchd/plugins/internal/ledger"
	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
	"github.com/switchd/switchd/plugins/sdk"
)

// File is the name of an instance's ledger file in its data dir.
const File = "ledger.db"

// Instance is one institution: its settings and its ledger. Money calls go
// through Books, the small interface a bank could implement with its own
// core system; Ledger is the same value, for setup and inspection.
type Instance[S any] struct {
	Settings S
	Books    ledger.Core
	Ledger   *ledger.Ledger
}

// Set holds a plugin's instances by instance id. It is safe for concurrent
// use.
type Set[S any] struct {
	mu        sync.RWMutex
	instances map[string]*Instance[S]
}

// New returns an empty set. It has no side effects.
func New[S any]() *Set[S] {
	return &Set[S]{instances: map[string]*Instance[S]{}}
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

// Configure opens the ledger of instance id at dataDir/ledger.db (keeping
// the open one if the instance already uses that file), creates the
// accounts of open that do not exist yet, and then replaces the instance's
// settings with settings in one step. If seeding fails it returns an error
// diagnostic "Cannot set up the <name> ledger" and the previous settings
// stay; if the file cannot be opened it returns an sdk.Unavailable error.
func (s *Set[S]) Configure(ctx context.Context, id, dataDir string, settings S, open []ledger.Opening, name string) (*pb.Diagnostic, error) {
	path := filepath.Join(dataDir, File)
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.instances[id]
	l := (*ledger.Ledger)(nil)
	if old != nil && old.Ledger.Path() == path {
		l = old.Ledger
	} else {
		var err error
		if l, err = ledger.Open(path); err != nil {
			return nil, sdk.Unavailable(err)
		}
	}
	if err := l.Seed(ctx, open); err != nil {
		if old == nil || old.Ledger != l {
			_ = l.Close()
		}
		return sdk.ErrorDiag(nil, "Cannot set up the "+name+" ledger", "%v", err), nil
	}
	s.instances[id] = &Instance[S]{Settings: settings, Books: l, Ledger: l}
	if old != nil && old.Ledger != l {
		_ = old.Ledger.Close()
	}
	return nil, nil
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

// Close closes every instance's ledger and forgets the instances. It
// returns the first error. It is safe after a failed setup and when called
// twice.
func (s *Set[S]) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var first error
	for id, in := range s.instances {
		if err := in.Ledger.Close(); err != nil && first == nil {
			first = err
		}
		delete(s.instances, id)
	}
	return first
}

// Balances returns the ledger accounts of instance id.
func (s *Set[S]) Balances(id string) (map[string]ledger.Account, error) {
	in, err := s.Get(id)
	if err != nil {
		return nil, err
	}
	return in.Ledger.Balances()
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
