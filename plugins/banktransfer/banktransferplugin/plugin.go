// Package banktransferplugin is the built-in bank-transfer payment method:
// it checks account numbers against each bank's format and check digit,
// debits the payer's account at step D, credits the seller's account, and
// reverses either, every call idempotent on the payment id. Its books are a
// ledger.Ledger per institution, in memory, whose records the switch
// commits (capability host_state).
//
// The plugin binary is plugins/banktransfer; this package is importable so
// that benchmarks and tests can run the plugin in-process.
package banktransferplugin

import (
	"context"

	"github.com/switchd/switchd/plugins/internal/ledger"
	"github.com/switchd/switchd/plugins/internal/ledgerset"
	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
	"github.com/switchd/switchd/plugins/sdk"
)

// Name and Version identify the plugin in GetInfo.
const (
	Name    = "banktransfer"
	Version = "1.1.0"
)

// Plugin is the bank-transfer payment method. One Plugin serves every institution
// configured on it, each under its own instance id.
type Plugin struct {
	insts *ledgerset.Set[*settings]
}

var (
	_ sdk.PaymentMethod = (*Plugin)(nil)
	_ sdk.StateHolder   = (*Plugin)(nil)
)

// instance is one institution: its settings and its ledger.
type instance = ledgerset.Instance[*settings]

// New returns an unconfigured plugin. It has no side effects.
func New() *Plugin {
	return &Plugin{insts: ledgerset.New[*settings]()}
}

// GetInfo implements sdk.Plugin.
func (p *Plugin) GetInfo(context.Context, *pb.GetInfoRequest) (*pb.GetInfoResponse, error) {
	return &pb.GetInfoResponse{
		Name:             Name,
		Version:          Version,
		Kinds:            []pb.Kind{pb.Kind_KIND_PAYMENT_METHOD},
		ProtocolVersions: []uint32{sdk.ProtocolVersion},
		Capabilities:     []string{sdk.CapReverse, sdk.CapHostState},
		Methods:          []pb.Method{pb.Method_METHOD_BANK_TRANSFER},
		ConfigSchema:     Schema(),
	}, nil
}

// Configure implements sdk.Plugin. It validates the block, creates the
// seeded accounts that do not exist yet, with their opening balances, in
// the ledger the host loaded (LoadState comes first; without it Configure
// is FailedPrecondition), and then replaces the instance's settings in one
// step. The accounts' records and opening entries are its state_writes. On
// any error diagnostic the previous settings and the ledger stay.
func (p *Plugin) Configure(ctx context.Context, req *pb.ConfigureRequest) (*pb.ConfigureResponse, error) {
	id := req.GetInstanceId()
	if id == "" {
		return nil, sdk.InvalidArgument("instance_id", "is required")
	}
	s, diags := buildSettings(req)
	if sdk.HasErrors(diags) {
		return &pb.ConfigureResponse{Diagnostics: diags}, nil
	}

	var open []ledger.Opening
	for _, a := range s.accounts {
		open = append(open, ledger.Opening{ID: ledgerAccount(a.number), Currency: a.currency, Limit: a.limit, Balance: a.balance})
	}
	writes, d, err := p.insts.Configure(ctx, id, s, open, "bank_transfer")
	if err != nil {
		return nil, err
	}
	if d != nil {
		return &pb.ConfigureResponse{Diagnostics: append(diags, d)}, nil
	}
	sdk.Logger().Info("configured", "instance", id, "accounts", len(s.accounts))
	return &pb.ConfigureResponse{Diagnostics: diags, StateWrites: writes}, nil
}

// Health implements sdk.Plugin: an instance serves once configured.
func (p *Plugin) Health(ctx context.Context, req *pb.HealthRequest) (*pb.HealthResponse, error) {
	return p.insts.Health(ctx, req)
}

// LoadState implements sdk.StateHolder: it replaces the ledger of
// instanceID with the records the host committed (see ledger.Load).
func (p *Plugin) LoadState(ctx context.Context, instanceID string, records []*pb.StateWrite) error {
	return p.insts.LoadState(ctx, instanceID, records)
}

// ExportState implements sdk.StateHolder: the records of the instance's
// old ledger file, data_dir/ledger.db of release 1.0.0, which it renames
// to ledger.db.imported (see ledger.Export).
func (p *Plugin) ExportState(ctx context.Context, instanceID, dataDir string) ([]*pb.StateWrite, error) {
	return p.insts.ExportState(ctx, instanceID, dataDir)
}

// Close forgets every instance (their state is the host's). It is safe
// after a failed setup and when called twice.
func (p *Plugin) Close() error { return p.insts.Close() }

// Balances returns the ledger accounts of instance id, for tests and tools.
func (p *Plugin) Balances(id string) (map[string]ledger.Account, error) { return p.insts.Balances(id) }

// Check verifies the ledger invariants of instance id (see ledger.Check).
func (p *Plugin) Check(id string) error { return p.insts.Check(id) }

func (p *Plugin) instance(id string) (*instance, error) { return p.insts.Get(id) }
