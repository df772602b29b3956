// Package cardplugin is the built-in card payment method: it validates and
// tokenizes card numbers for an issuer, debits the card's credit line at
// step D (single-message authorize-and-capture), records a seller's
// receivable on the acquirer's side, and reverses either. Its books are a
// ledger.Ledger per institution, holding tokens and never card numbers.
//
// The plugin binary is plugins/card; this package is importable so that
// benchmarks and tests can run the plugin in-process.
package cardplugin

import (
	"context"
	"path/filepath"
	"sync"
	"time"

	"github.com/switchd/switchd/plugins/internal/ledger"
	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
	"github.com/switchd/switchd/plugins/sdk"
)

// Name and Version identify the plugin in GetInfo.
const (
	Name    = "card"
	Version = "1.0.0"
)

// Plugin is the card payment method. One Plugin serves every institution
// configured on it, each under its own instance id.
type Plugin struct {
	mu        sync.RWMutex
	instances map[string]*instance
	now       func() time.Time
}

var _ sdk.PaymentMethod = (*Plugin)(nil)

// instance is one institution: its settings and its ledger. Money calls go
// through books, the small interface a bank could implement with its own
// core system; ledger is the same value, for setup and inspection.
type instance struct {
	settings *settings
	books    ledger.Core
	ledger   *ledger.Ledger
}

// New returns an unconfigured plugin. It has no side effects.
func New() *Plugin {
	return &Plugin{instances: map[string]*instance{}, now: time.Now}
}

// GetInfo implements sdk.Plugin.
func (p *Plugin) GetInfo(context.Context, *pb.GetInfoRequest) (*pb.GetInfoResponse, error) {
	return &pb.GetInfoResponse{
		Name:             Name,
		Version:          Version,
		Kinds:            []pb.Kind{pb.Kind_KIND_PAYMENT_METHOD},
		ProtocolVersions: []uint32{sdk.ProtocolVersion},
		Capabilities:     []string{sdk.CapReverse},
		Methods:          []pb.Method{pb.Method_METHOD_CARD},
		ConfigSchema:     Schema(),
	}, nil
}

// Configure implements sdk.Plugin. It validates the block, opens the
// instance's ledger at data_dir/ledger.db, creates the seeded cards and
// merchant accounts that do not exist yet, and then replaces the instance's
// settings in one step. On any error diagnostic the previous settings stay.
func (p *Plugin) Configure(ctx context.Context, req *pb.ConfigureRequest) (*pb.ConfigureResponse, error) {
	id := req.GetInstanceId()
	if id == "" {
		return nil, sdk.InvalidArgument("instance_id", "is required")
	}
	if req.GetDataDir() == "" {
		return nil, sdk.InvalidArgument("data_dir", "is required")
	}
	s, diags := buildSettings(req, p.now())
	if sdk.HasErrors(diags) {
		return &pb.ConfigureResponse{Diagnostics: diags}, nil
	}

	path := filepath.Join(req.GetDataDir(), "ledger.db")
	p.mu.Lock()
	defer p.mu.Unlock()
	old := p.instances[id]
	l := (*ledger.Ledger)(nil)
	if old != nil && old.ledger.Path() == path {
		l = old.ledger
	} else {
		var err error
		if l, err = ledger.Open(path); err != nil {
			return nil, sdk.Unavailable(err)
		}
	}
	var open []ledger.Opening
	for _, c := range s.cards {
		open = append(open, ledger.Opening{ID: cardAccount(c.token), Currency: c.currency, Limit: c.limit})
	}
	for acct, cur := range s.merchants {
		open = append(open, ledger.Opening{ID: merchantAccount(acct), Currency: cur})
	}
	if err := l.Seed(ctx, open); err != nil {
		if old == nil || old.ledger != l {
			_ = l.Close()
		}
		diags = append(diags, sdk.ErrorDiag(nil, "Cannot set up the card ledger", "%v", err))
		return &pb.ConfigureResponse{Diagnostics: diags}, nil
	}
	p.instances[id] = &instance{settings: s, books: l, ledger: l}
	if old != nil && old.ledger != l {
		_ = old.ledger.Close()
	}
	sdk.Logger().Info("configured", "instance", id, "cards", len(s.cards), "merchant_accounts", len(s.merchants))
	return &pb.ConfigureResponse{Diagnostics: diags}, nil
}

// Health implements sdk.Plugin: an instance serves once configured.
func (p *Plugin) Health(_ context.Context, req *pb.HealthRequest) (*pb.HealthResponse, error) {
	if id := req.GetInstanceId(); id != "" {
		if _, err := p.instance(id); err != nil {
			return &pb.HealthResponse{Serving: false, Message: "instance " + id + " is not configured"}, nil
		}
	}
	return &pb.HealthResponse{Serving: true}, nil
}

// Close closes every instance's ledger. It is safe after a failed setup and
// when called twice.
func (p *Plugin) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	var first error
	for id, in := range p.instances {
		if err := in.ledger.Close(); err != nil && first == nil {
			first = err
		}
		delete(p.instances, id)
	}
	return first
}

// Balances returns the ledger accounts of instance id, for tests and tools.
func (p *Plugin) Balances(id string) (map[string]ledger.Account, error) {
	in, err := p.instance(id)
	if err != nil {
		return nil, err
	}
	return in.ledger.Balances()
}

// Check verifies the ledger invariants of instance id (see ledger.Check).
func (p *Plugin) Check(id string) error {
	in, err := p.instance(id)
	if err != nil {
		return err
	}
	return in.ledger.Check()
}

func (p *Plugin) instance(id string) (*instance, error) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	in, ok := p.instances[id]
	if !ok {
		return nil, sdk.FailedPrecondition("instance %q is not configured", id)
	}
	return in, nil
}
