package merchantsigplugin

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"time"

	"github.com/hashicorp/go-hclog"
	bolt "go.etcd.io/bbolt"

	"github.com/switchd/switchd/internal/boltgroup"
	"github.com/switchd/switchd/internal/edsig"
	"github.com/switchd/switchd/plugins/internal/authkit"
	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
	"github.com/switchd/switchd/plugins/sdk"
	"github.com/switchd/switchd/plugins/sdk/order"
)

// Name is the plugin's name.
const Name = "merchantsig"

// Version is the plugin's version.
const Version = "1.1.0"

// StateFile is the bbolt file the plugin keeps in each data dir.
const StateFile = "merchantsig.db"

// Step is the flow step this plugin attests.
const Step = "B"

var (
	_ sdk.Plugin        = (*Plugin)(nil)
	_ sdk.Authenticator = (*Plugin)(nil)
)

// Plugin is the merchantsig authenticator. It serves any number of
// acquirers, each configured under its own instance id.
type Plugin struct {
	insts *authkit.Instances[*instance]
	now   func() time.Time
}

// settings are one instance's decoded configuration.
type settings struct {
	key       authkit.Key // attestation key
	window    time.Duration
	merchants map[string]map[string]ed25519.PublicKey
}

type instance struct {
	*settings
	id            string                         // instance id: bucket name
	institutionID string                         // signer named in attestations
	db            *boltgroup.Committer[*bolt.Tx] // the state file; writes are group-committed
}

// New returns an unconfigured plugin. It has no side effects.
func New() *Plugin {
	return &Plugin{insts: authkit.NewInstances[*instance](Name), now: time.Now}
}

// GetInfo describes the plugin.
func (p *Plugin) GetInfo(context.Context, *pb.GetInfoRequest) (*pb.GetInfoResponse, error) {
	return &pb.GetInfoResponse{
		Name:             Name,
		Version:          Version,
		Kinds:            []pb.Kind{pb.Kind_KIND_AUTHENTICATOR},
		ProtocolVersions: []uint32{sdk.ProtocolVersion},
		Capabilities:     []string{sdk.CapSellerAuth},
		ConfigSchema:     schema(),
	}, nil
}

// Configure applies one acquirer's settings. On any error diagnostic the
// instance keeps its previous settings.
func (p *Plugin) Configure(ctx context.Context, req *pb.ConfigureRequest) (*pb.ConfigureResponse, error) {
	s, diags, err := authkit.Parse(req, Name, "merchantsig needs a data dir to remember accepted signatures.", parse)
	if err != nil {
		return nil, err
	}
	if sdk.HasErrors(diags) {
		return &pb.ConfigureResponse{Diagnostics: diags}, nil
	}
	db, d := p.insts.OpenState(req.GetDataDir(), StateFile, req.GetInstanceId(), bucketApproved)
	if d != nil {
		return &pb.ConfigureResponse{Diagnostics: append(diags, d)}, nil
	}
	inst := &instance{settings: s, id: req.GetInstanceId(), institutionID: authkit.InstitutionID(req), db: db}
	if err := inst.upgrade(ctx, p.now().UnixMilli()); err != nil {
		return &pb.ConfigureResponse{Diagnostics: append(diags, sdk.ErrorDiag(nil, "Cannot upgrade state file", "merchantsig: %v", err))}, nil
	}
	p.insts.Put(inst.id, inst)
	sdk.Logger().Info("merchantsig: configured", "instance", inst.id, "merchants", len(s.merchants), "key_id", s.key.ID)
	return &pb.ConfigureResponse{Diagnostics: diags, AttestationKeys: []*pb.PublicKey{s.key.Public()}}, nil
}

// Close closes the state files. The plugin must not be used afterwards.
func (p *Plugin) Close() error { return p.insts.Close() }

// Health reports whether the plugin, or one instance, can serve.
func (p *Plugin) Health(ctx context.Context, req *pb.HealthRequest) (*pb.HealthResponse, error) {
	return p.insts.Health(ctx, req)
}

func (p *Plugin) instance(id string) (*instance, error) { return p.insts.Get(id) }

func decline(code string) *pb.AuthenticateSellerResponse {
	return &pb.AuthenticateSellerResponse{Verdict: pb.Verdict_VERDICT_DECLINED, DeclineCode: code}
}

// AuthenticateSeller is step B: it checks the seller's signature over the
// order terms and, on approval, attests the order digest.
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
	now := p.now()
	nowMS := now.UnixMilli()
	windowMS := inst.window.Milliseconds()
	if signedAt < nowMS-windowMS || signedAt > nowMS+windowMS {
		log().Info("merchantsig: declined", "code", sdk.DeclineStaleSignature, "signed_at_ms", signedAt)
		return decline(sdk.DeclineStaleSignature), nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	sum := sha256.Sum256(sig)
	key := recordKey(signedAt, sum[:])
	var code string
	// The fn may run more than once (group commit): it sets code afresh.
	// The replay check and the record are in the same transaction, so two
	// calls with one signature cannot both miss the record, batched or not.
	// signed_at is part of the signed message, so the signature found
	// under another signed_at would not have verified: the exact key is
	// the whole lookup.
	err = inst.db.Update(ctx, func(tx *bolt.Tx) error {
		code = ""
		b := tx.Bucket([]byte(inst.id))
		approved := approvedBucket(b)
		if err := purge(approved, nowMS-windowMS); err != nil {
			return err
		}
		if err := purgeLegacy(b, nowMS, windowMS); err != nil {
			return err
		}
		paymentID, found, err := approvedFor(b, approved, key)
		if err != nil {
			return err
		}
		if found {
			if paymentID != o.GetPaymentId() {
				code = sdk.DeclineReplay
			}
			return nil
		}
		return approved.Put(key, encodeRecord(o.GetPaymentId(), o.GetMerchantId()))
	})
	if err != nil {
		if cerr := ctx.Err(); cerr != nil && errors.Is(err, cerr) {
			return nil, err // the context ended before the write ran: nothing written
		}
		log().Error("merchantsig: state file", "error", err)
		return nil, sdk.Unavailable(err)
	}
	if code != "" {
		log().Warn("merchantsig: declined", "code", code)
		return decline(code), nil
	}
	if sdk.Logger().IsInfo() {
		log().Info("merchantsig: approved")
	}
	return &pb.AuthenticateSellerResponse{
		Verdict:     pb.Verdict_VERDICT_APPROVED,
		Attestation: inst.key.Attest(Step, inst.institutionID, req.GetOrderDigest()),
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
