package merchantsigplugin

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/switchd/switchd/internal/edsig"
	"github.com/switchd/switchd/plugins/internal/authkit"
	"github.com/switchd/switchd/plugins/internal/oldstate"
	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
	"github.com/switchd/switchd/plugins/sdk"
	"github.com/switchd/switchd/plugins/sdk/order"
)

// Name is the plugin's name.
const Name = "merchantsig"

// Version is the plugin's version.
const Version = "1.2.0"

// StateFile is the bbolt file in which versions up to 1.1.0 kept an
// instance's replay records, in its data dir. ExportState reads it.
const StateFile = "merchantsig.db"

// Step is the flow step this plugin attests.
const Step = "B"

var (
	_ sdk.Plugin        = (*Plugin)(nil)
	_ sdk.Authenticator = (*Plugin)(nil)
	_ sdk.StateHolder   = (*Plugin)(nil)
)

// Plugin is the merchantsig authenticator. It serves any number of
// acquirers, each configured under its own instance id.
type Plugin struct {
	insts *authkit.Instances[*instance]
	now   func() time.Time

	mu     sync.Mutex
	states map[string]*replay // by instance id, from its first LoadState
}

// settings are one instance's decoded configuration.
type settings struct {
	key       authkit.Key // attestation key
	window    time.Duration
	merchants map[string]map[string]ed25519.PublicKey
}

type instance struct {
	*settings
	id            string  // instance id
	institutionID string  // signer named in attestations
	state         *replay // the instance's replay records, shared by its configurations
}

// New returns an unconfigured plugin. It has no side effects.
func New() *Plugin {
	return &Plugin{insts: authkit.NewInstances[*instance](Name), now: time.Now, states: map[string]*replay{}}
}

// GetInfo describes the plugin.
func (p *Plugin) GetInfo(context.Context, *pb.GetInfoRequest) (*pb.GetInfoResponse, error) {
	return &pb.GetInfoResponse{
		Name:             Name,
		Version:          Version,
		Kinds:            []pb.Kind{pb.Kind_KIND_AUTHENTICATOR},
		ProtocolVersions: []uint32{sdk.ProtocolVersion},
		Capabilities:     []string{sdk.CapSellerAuth, sdk.CapHostState},
		ConfigSchema:     schema(),
	}, nil
}

// LoadState replaces the working state of an instance with its committed
// records (sdk.StateHolder). Records signed more than MaxReplayWindow ago
// are not kept (no configuration can need them); their keys are deleted
// by the next approvals. A record that cannot be decoded is an
// InvalidArgument error, and the instance's state is left as it was.
func (p *Plugin) LoadState(_ context.Context, instanceID string, records []*pb.StateWrite) error {
	if instanceID == "" {
		return sdk.InvalidArgument("instance_id", "is empty")
	}
	r, err := newReplay(records, p.now().Add(-MaxReplayWindow).UnixMilli())
	if err != nil {
		return &sdk.Error{Code: sdk.CodeInvalidArgument, Field: "records", Msg: "instance " + instanceID, Err: err}
	}
	p.mu.Lock()
	if st, ok := p.states[instanceID]; ok {
		st.replace(r)
	} else {
		p.states[instanceID] = r
	}
	p.mu.Unlock()
	kept, dropped := r.len()
	sdk.Logger().Info("merchantsig: state loaded", "instance", instanceID, "records", kept, "expired", dropped)
	return nil
}

// ExportState returns the replay records of an instance that a version up
// to 1.1.0 kept in StateFile in dataDir (sdk.StateHolder): those signed
// within MaxReplayWindow of now, in key order, records of versions before
// 1.1.0 converted. It then renames the file to StateFile+ImportedSuffix,
// and exports from the renamed file while the original is gone. It
// returns nil when there is neither file, or the file has no bucket for
// the instance.
func (p *Plugin) ExportState(_ context.Context, instanceID, dataDir string) ([]*pb.StateWrite, error) {
	if instanceID == "" {
		return nil, sdk.InvalidArgument("instance_id", "is empty")
	}
	if dataDir == "" {
		return nil, nil
	}
	var read string // the file read, and its error
	var readErr error
	records, err := oldstate.Export(filepath.Join(dataDir, StateFile), func(path string) ([]*pb.StateWrite, error) {
		read = path
		recs, err := readOldState(path, instanceID, p.now().Add(-MaxReplayWindow).UnixMilli())
		readErr = err
		return recs, err
	})
	switch {
	case err == nil:
	case errors.Is(err, oldstate.ErrBothFiles):
		return nil, &sdk.Error{Code: sdk.CodeFailedPrecondition, Msg: "merchantsig: cannot export", Err: fmt.Errorf("%w: %w", ErrTwoStateFiles, err)}
	case readErr != nil && errors.Is(readErr, berrors.ErrTimeout): // another process has the file open
		return nil, sdk.Unavailable(err)
	case readErr != nil:
		return nil, &sdk.Error{Code: sdk.CodeFailedPrecondition, Msg: "merchantsig: cannot export", Err: err}
	default: // the file could not be looked at or renamed
		return nil, sdk.Unavailable(fmt.Errorf("merchantsig: %w", err))
	}
	if read != "" {
		sdk.Logger().Info("merchantsig: state exported", "instance", instanceID, "file", read, "records", len(records))
	}
	return records, nil
}

// Configure applies one acquirer's settings. The instance's state must
// have been loaded (LoadState) first, else it is a FailedPrecondition
// error. On any error diagnostic the instance keeps its previous
// settings. Records older than the configured window are dropped from
// memory; the next approvals delete them in the host.
func (p *Plugin) Configure(_ context.Context, req *pb.ConfigureRequest) (*pb.ConfigureResponse, error) {
	id := req.GetInstanceId()
	if id == "" {
		return nil, sdk.InvalidArgument("instance_id", "is empty")
	}
	var cfg config
	if err := sdk.DecodeConfig(req.GetConfigJson(), &cfg); err != nil {
		return &pb.ConfigureResponse{Diagnostics: []*pb.Diagnostic{sdk.ErrorDiag(nil, "Invalid "+Name+" configuration", "%v", err)}}, nil
	}
	s, diags := parse(&cfg)
	if sdk.HasErrors(diags) {
		return &pb.ConfigureResponse{Diagnostics: diags}, nil
	}
	p.mu.Lock()
	st, ok := p.states[id]
	p.mu.Unlock()
	if !ok {
		return nil, sdk.FailedPrecondition("merchantsig: the state of instance %q has not been loaded: the host calls LoadState before an instance's first Configure", id)
	}
	st.expire(p.now().Add(-s.window).UnixMilli())
	inst := &instance{settings: s, id: id, institutionID: authkit.InstitutionID(req), state: st}
	p.insts.Put(inst.id, inst)
	sdk.Logger().Info("merchantsig: configured", "instance", inst.id, "merchants", len(s.merchants), "key_id", s.key.ID)
	return &pb.ConfigureResponse{Diagnostics: diags, AttestationKeys: []*pb.PublicKey{s.key.Public()}}, nil
}

// Close forgets every instance and its state. The plugin must not be used
// afterwards.
func (p *Plugin) Close() error {
	p.mu.Lock()
	p.states = map[string]*replay{}
	p.mu.Unlock()
	return p.insts.Close()
}

// Health reports whether the plugin, or one instance, can serve.
func (p *Plugin) Health(ctx context.Context, req *pb.HealthRequest) (*pb.HealthResponse, error) {
	return p.insts.Health(ctx, req)
}

func (p *Plugin) instance(id string) (*instance, error) { return p.insts.Get(id) }

func decline(code string) *pb.AuthenticateSellerResponse {
	return &pb.AuthenticateSellerResponse{Verdict: pb.Verdict_VERDICT_DECLINED, DeclineCode: code}
}

// AuthenticateSeller is step B: it checks the seller's signature over the
// order terms and, on approval, attests the order digest. An approval
// returns the signature's replay record in state_writes (the same record
// again for a retry of the same payment), with the deletes of up to
// PurgePerAnswer expired records; a decline or an error writes nothing.
func (p *Plugin) AuthenticateSeller(ctx context.Context, req *pb.AuthenticateSellerRequest) (*pb.AuthenticateSellerResponse, error) {
	inst, err := p.instance(req.GetInstanceId())
	if err != nil {
		return nil, err
	}
	o := req.GetOrder()
	if o == nil {
		return nil, sdk.InvalidArgument("order", "missing")
	}
	if err := order.Verify(o, req.GetOrderDigest()); err != nil {
		return nil, sdk.InvalidArgument("order_digest", "does not match the order")
	}
	if o.GetPaymentId() == "" {
		return nil, sdk.InvalidArgument("order.payment_id", "is empty")
	}
	if o.GetAcquirerId() != inst.institutionID {
		return nil, sdk.InvalidArgument("order.acquirer_id", "names %q, but this instance is acquirer %q", o.GetAcquirerId(), inst.institutionID)
	}
	// The call's logger, with its fields, is made only for a message that
	// is logged: at the usual level (warn) an approval logs nothing.
	log := func() hclog.Logger {
		return sdk.Logger().With("instance", inst.id, "payment_id", o.GetPaymentId(), "merchant_id", o.GetMerchantId(), "seller_key_id", req.GetSellerKeyId())
	}

	keys, ok := inst.merchants[o.GetMerchantId()]
	if !ok {
		log().Info("merchantsig: declined", "code", sdk.DeclineUnknownMerchant)
		return decline(sdk.DeclineUnknownMerchant), nil
	}
	pub, ok := keys[req.GetSellerKeyId()]
	if !ok {
		log().Info("merchantsig: declined", "code", sdk.DeclineUnknownKey)
		return decline(sdk.DeclineUnknownKey), nil
	}
	sig := req.GetSellerSignature()
	signedAt := req.GetSignedAtUnixMs()
	if !edsig.Verify(pub, order.SellerMessage(order.TermsDigest(o), signedAt), sig) {
		log().Info("merchantsig: declined", "code", sdk.DeclineBadSignature)
		return decline(sdk.DeclineBadSignature), nil
	}
	nowMS := p.now().UnixMilli()
	windowMS := inst.window.Milliseconds()
	if signedAt < nowMS-windowMS || signedAt > nowMS+windowMS {
		log().Info("merchantsig: declined", "code", sdk.DeclineStaleSignature, "signed_at_ms", signedAt)
		return decline(sdk.DeclineStaleSignature), nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err // nothing recorded
	}

	// The check and the record are one step under the instance's lock, so
	// two calls with one signature cannot both miss the record.
	before, writes, err := inst.state.approve(sha256.Sum256(sig), signedAt, o.GetPaymentId(), o.GetMerchantId(), nowMS-windowMS)
	if err != nil {
		log().Error("merchantsig: replay record", "error", err)
		return nil, sdk.Unavailable(err)
	}
	if writes == nil {
		log().Warn("merchantsig: declined", "code", sdk.DeclineReplay, "approved_for", before)
		return decline(sdk.DeclineReplay), nil
	}
	if sdk.Logger().IsInfo() {
		log().Info("merchantsig: approved", "retry", before != "", "writes", len(writes))
	}
	return &pb.AuthenticateSellerResponse{
		Verdict:     pb.Verdict_VERDICT_APPROVED,
		Attestation: inst.key.Attest(Step, inst.institutionID, req.GetOrderDigest()),
		StateWrites: writes,
	}, nil
}

// errPayerAuth answers step-C calls: FailedPrecondition for an instance
// that is not configured, like every call, else Unimplemented.
func (p *Plugin) errPayerAuth(instanceID string) error {
	if _, err := p.instance(instanceID); err != nil {
		return err
	}
	return &sdk.Error{Code: sdk.CodeUnimplemented, Msg: "merchantsig authenticates sellers (step B) only"}
}

// BeginMutualAuth is not served: merchantsig only authenticates sellers.
func (p *Plugin) BeginMutualAuth(_ context.Context, req *pb.BeginMutualAuthRequest) (*pb.BeginMutualAuthResponse, error) {
	return nil, p.errPayerAuth(req.GetInstanceId())
}

// FinishMutualAuth is not served: merchantsig only authenticates sellers.
func (p *Plugin) FinishMutualAuth(_ context.Context, req *pb.FinishMutualAuthRequest) (*pb.FinishMutualAuthResponse, error) {
	return nil, p.errPayerAuth(req.GetInstanceId())
}
