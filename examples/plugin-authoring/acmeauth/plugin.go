package acmeauth

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"sync"
	"time"

	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
	"github.com/switchd/switchd/plugins/sdk"
	"github.com/switchd/switchd/plugins/sdk/order"
)

// Plugin identity, reported by GetInfo.
const (
	Name      = "acmeauth"
	Version   = "1.0.0"
	Mechanism = "acme-hmac"
)

// Compile-time check that Plugin is an authenticator.
var _ sdk.Authenticator = (*Plugin)(nil)

// Plugin serves every Acme Bank instance (institution) the host configures.
type Plugin struct {
	mu        sync.Mutex
	instances map[string]*instance
	now       func() time.Time
}

type instance struct {
	id, institutionID string
	s                 *settings
	open              map[string]pending // payer_ref NUL payment_id -> open challenge
}

// pending is an open challenge; nothing in it is secret.
type pending struct {
	payerNonce, serverNonce []byte
	expires                 time.Time
}

// New returns an unconfigured plugin. It has no side effects.
func New() *Plugin { return &Plugin{instances: map[string]*instance{}, now: time.Now} }

// GetInfo describes the plugin; it does not depend on configuration.
func (p *Plugin) GetInfo(context.Context, *pb.GetInfoRequest) (*pb.GetInfoResponse, error) {
	return &pb.GetInfoResponse{
		Name:             Name,
		Version:          Version,
		Kinds:            []pb.Kind{pb.Kind_KIND_AUTHENTICATOR},
		ProtocolVersions: []uint32{sdk.ProtocolVersion},
		Capabilities:     []string{sdk.CapMutualAuth, Mechanism},
		ConfigSchema:     schema(),
	}, nil
}

// Configure applies one institution's settings. With any error diagnostic
// the instance keeps its previous settings; open challenges survive a
// reload that keeps the payer.
func (p *Plugin) Configure(_ context.Context, req *pb.ConfigureRequest) (*pb.ConfigureResponse, error) {
	if req.GetInstanceId() == "" {
		return nil, sdk.InvalidArgument("instance_id", "is empty")
	}
	var cfg config
	if err := sdk.DecodeConfig(req.GetConfigJson(), &cfg); err != nil {
		return &pb.ConfigureResponse{Diagnostics: []*pb.Diagnostic{sdk.ErrorDiag(nil, "Invalid acmeauth configuration", "%v", err)}}, nil
	}
	s, diags := parse(&cfg)
	if sdk.HasErrors(diags) {
		return &pb.ConfigureResponse{Diagnostics: diags}, nil
	}
	inst := &instance{id: req.GetInstanceId(), institutionID: req.GetInstitution().GetId(), s: s, open: map[string]pending{}}
	if inst.institutionID == "" {
		inst.institutionID = inst.id
	}
	p.mu.Lock()
	if old, ok := p.instances[inst.id]; ok {
		inst.open = old.open
	}
	p.instances[inst.id] = inst
	p.mu.Unlock()
	sdk.Logger().Info("acmeauth: configured", "instance", inst.id, "payers", len(s.payers), "key_id", s.keyID)
	return &pb.ConfigureResponse{
		Diagnostics:     diags,
		AttestationKeys: []*pb.PublicKey{{KeyId: s.keyID, Ed25519: s.priv.Public().(ed25519.PublicKey)}},
	}, nil
}

// Health reports whether the plugin, or one instance, can serve.
func (p *Plugin) Health(_ context.Context, req *pb.HealthRequest) (*pb.HealthResponse, error) {
	if req.GetInstanceId() == "" {
		return &pb.HealthResponse{Serving: true}, nil
	}
	if _, err := p.instance(req.GetInstanceId()); err != nil {
		return &pb.HealthResponse{Serving: false, Message: "not configured"}, nil
	}
	return &pb.HealthResponse{Serving: true}, nil
}

func (p *Plugin) instance(id string) (*instance, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	inst, ok := p.instances[id]
	if !ok {
		return nil, sdk.FailedPrecondition("instance %q is not configured", id)
	}
	return inst, nil
}

// check finds the instance and the payer's key for a step-C call.
func (p *Plugin) check(ctx context.Context, instanceID string, o *pb.Order, payerRef string) (*instance, []byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	inst, err := p.instance(instanceID)
	if err != nil {
		return nil, nil, err
	}
	if o.GetIssuerId() != inst.institutionID {
		return nil, nil, sdk.InvalidArgument("order.issuer_id", "the order is for issuer %q, not %q", o.GetIssuerId(), inst.institutionID)
	}
	key, ok := inst.s.payers[payerRef]
	if !ok {
		return nil, nil, sdk.NotFound("payer %q has no acme-hmac key at %s", payerRef, inst.id)
	}
	return inst, key, nil
}

// decodeStrict decodes exactly one JSON object with no unknown fields.
func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return sdk.InvalidArgument("payer_data", "trailing data")
	}
	return nil
}

func hexField(field, s string) ([]byte, error) {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) == 0 {
		return nil, sdk.InvalidArgument(field, "must be hex")
	}
	return b, nil
}

// BeginMutualAuth answers the payer's nonce with the bank's proof over the
// order digest and opens a challenge for this payer and payment. A new
// Begin replaces the open challenge.
func (p *Plugin) BeginMutualAuth(ctx context.Context, req *pb.BeginMutualAuthRequest) (*pb.BeginMutualAuthResponse, error) {
	inst, key, err := p.check(ctx, req.GetInstanceId(), req.GetOrder(), req.GetPayerRef())
	if err != nil {
		return nil, err
	}
	var in BeginData
	if err := decodeStrict(req.GetPayerData(), &in); err != nil {
		return nil, sdk.InvalidArgument("payer_data", "want {\"payer_nonce\": \"<32 hex digits>\"}")
	}
	np, err := hexField("payer_data.payer_nonce", in.PayerNonce)
	if err != nil {
		return nil, err
	}
	if len(np) != NonceSize {
		return nil, sdk.InvalidArgument("payer_data.payer_nonce", "must be %d bytes", NonceSize)
	}
	ns := make([]byte, NonceSize)
	if _, err := rand.Read(ns); err != nil {
		return nil, sdk.Unavailable(err)
	}
	cd, err := json.Marshal(ChallengeData{ServerNonce: hex.EncodeToString(ns),
		IssuerProof: hex.EncodeToString(IssuerProof(key, req.GetOrderDigest(), np, ns))})
	if err != nil {
		return nil, sdk.Internal(err)
	}
	p.mu.Lock()
	inst.open[req.GetPayerRef()+"\x00"+req.GetOrder().GetPaymentId()] = pending{payerNonce: np, serverNonce: ns, expires: p.now().Add(inst.s.ttl)}
	p.mu.Unlock()
	return &pb.BeginMutualAuthResponse{Mechanism: Mechanism, ChallengeData: cd, Verdict: pb.Verdict_VERDICT_APPROVED}, nil
}

func declined(code string) *pb.FinishMutualAuthResponse {
	return &pb.FinishMutualAuthResponse{Verdict: pb.Verdict_VERDICT_DECLINED, DeclineCode: code}
}

// FinishMutualAuth checks the payer's proof over this request's digest.
// The open challenge is spent whatever the outcome, so each is answered
// once; malformed payer_data is InvalidArgument and spends nothing.
func (p *Plugin) FinishMutualAuth(ctx context.Context, req *pb.FinishMutualAuthRequest) (*pb.FinishMutualAuthResponse, error) {
	inst, key, err := p.check(ctx, req.GetInstanceId(), req.GetOrder(), req.GetPayerRef())
	if err != nil {
		return nil, err
	}
	var in FinishData
	if err := decodeStrict(req.GetPayerData(), &in); err != nil {
		return nil, sdk.InvalidArgument("payer_data", "want {\"payer_proof\": \"<64 hex digits>\"}")
	}
	proof, err := hexField("payer_data.payer_proof", in.PayerProof)
	if err != nil {
		return nil, err
	}
	k := req.GetPayerRef() + "\x00" + req.GetOrder().GetPaymentId()
	p.mu.Lock()
	pd, ok := inst.open[k]
	delete(inst.open, k)
	p.mu.Unlock()
	if !ok || p.now().After(pd.expires) {
		return declined(sdk.DeclineReplay), nil
	}
	if !hmac.Equal(proof, PayerProof(key, req.GetOrderDigest(), pd.serverNonce, pd.payerNonce)) {
		sdk.Logger().Info("acmeauth: payer proof did not verify", "instance", inst.id, "payment_id", req.GetOrder().GetPaymentId())
		return declined(sdk.DeclineAuthFailed), nil
	}
	sig := ed25519.Sign(inst.s.priv, order.AttestationMessage("C", inst.institutionID, req.GetOrderDigest()))
	return &pb.FinishMutualAuthResponse{Verdict: pb.Verdict_VERDICT_APPROVED,
		Attestation: &pb.Attestation{InstitutionId: inst.institutionID, KeyId: inst.s.keyID, Signature: sig, Step: "C"}}, nil
}

// AuthenticateSeller is not served: acmeauth authenticates payers (step
// C) only. An unconfigured instance is FailedPrecondition, like every call.
func (p *Plugin) AuthenticateSeller(_ context.Context, req *pb.AuthenticateSellerRequest) (*pb.AuthenticateSellerResponse, error) {
	if _, err := p.instance(req.GetInstanceId()); err != nil {
		return nil, err
	}
	return nil, &sdk.Error{Code: sdk.CodeUnimplemented, Msg: "acmeauth authenticates payers (step C) only"}
}
