package ocraplugin

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/go-hclog"
	bolt "go.etcd.io/bbolt"

	"github.com/switchd/switchd/internal/boltgroup"
	"github.com/switchd/switchd/plugins/internal/authkit"
	"github.com/switchd/switchd/plugins/ocra/rfc6287"
	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
	"github.com/switchd/switchd/plugins/sdk"
	"github.com/switchd/switchd/plugins/sdk/order"
)

// Name is the plugin's name.
const Name = "ocra"

// Version is the plugin's version.
const Version = "1.0.0"

// Mechanism is the mechanism name in BeginMutualAuthResponse, and a
// capability the plugin lists so the payment page knows what to show.
const Mechanism = "ocra"

// StateFile is the bbolt file the plugin keeps in each data dir.
const StateFile = "ocra.db"

// Step is the flow step this plugin attests.
const Step = "C"

var (
	_ sdk.Plugin        = (*Plugin)(nil)
	_ sdk.Authenticator = (*Plugin)(nil)
)

// Plugin is the ocra authenticator. It serves any number of issuers, each
// configured under its own instance id.
type Plugin struct {
	insts *authkit.Instances[*instance]
	open  *openSet // open challenges, in memory, of every instance
	now   func() time.Time
}

type instance struct {
	*settings
	id            string
	institutionID string
	db            *boltgroup.Committer[*bolt.Tx] // the state file; writes are group-committed
}

// New returns an unconfigured plugin. It has no side effects.
func New() *Plugin {
	return &Plugin{insts: authkit.NewInstances[*instance](Name), open: authkit.NewChallenges[pendingRecord](), now: time.Now}
}

// GetInfo describes the plugin.
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

var (
	bucketPayers = []byte(authkit.PayersBucket) // payer_ref -> payerState JSON
	// bucketPending held open challenges in files of versions before
	// open challenges moved to memory (openSet); Configure drops it.
	bucketPending = []byte("pending")
)

// payerState is a payer's failure count and lock.
type payerState = authkit.Lockout

// Configure applies one issuer's settings. On any error diagnostic the
// instance keeps its previous settings.
func (p *Plugin) Configure(ctx context.Context, req *pb.ConfigureRequest) (*pb.ConfigureResponse, error) {
	s, diags, err := authkit.Parse(req, Name, "ocra needs a data dir for its lockouts.", parse)
	if err != nil {
		return nil, err
	}
	if sdk.HasErrors(diags) {
		return &pb.ConfigureResponse{Diagnostics: diags}, nil
	}
	db, d := p.insts.OpenState(req.GetDataDir(), StateFile, req.GetInstanceId(), bucketPayers)
	if d != nil {
		return &pb.ConfigureResponse{Diagnostics: append(diags, d)}, nil
	}
	if err := authkit.DropBucket(ctx, db, req.GetInstanceId(), bucketPending); err != nil {
		return &pb.ConfigureResponse{Diagnostics: append(diags, sdk.ErrorDiag(nil, "Cannot initialise state file", "%v", err))}, nil
	}
	inst := &instance{settings: s, id: req.GetInstanceId(), institutionID: authkit.InstitutionID(req), db: db}
	p.insts.Put(inst.id, inst)
	sdk.Logger().Info("ocra: configured", "instance", inst.id, "payers", len(s.payers), "key_id", s.key.ID)
	return &pb.ConfigureResponse{Diagnostics: diags, AttestationKeys: []*pb.PublicKey{s.key.Public()}}, nil
}

// Close closes the state files. The plugin must not be used afterwards.
func (p *Plugin) Close() error { return p.insts.Close() }

// Health reports whether the plugin, or one instance, can serve.
func (p *Plugin) Health(ctx context.Context, req *pb.HealthRequest) (*pb.HealthResponse, error) {
	return p.insts.Health(ctx, req)
}

func (p *Plugin) instance(id string) (*instance, error) { return p.insts.Get(id) }

// common checks what Begin and Finish share and returns the instance and
// the payer's credential.
func (p *Plugin) common(instanceID string, o *pb.Order, digest []byte, payerRef string) (*instance, *payer, error) {
	inst, err := p.instance(instanceID)
	if err != nil {
		return nil, nil, err
	}
	if o == nil {
		return nil, nil, sdk.InvalidArgument("order", "missing")
	}
	if err := order.Verify(o, digest); err != nil {
		return nil, nil, sdk.InvalidArgument("order_digest", "does not match the order")
	}
	if o.GetPaymentId() == "" {
		return nil, nil, sdk.InvalidArgument("order.payment_id", "is empty")
	}
	if o.GetIssuerId() != inst.institutionID {
		return nil, nil, sdk.InvalidArgument("order.issuer_id", "names %q, but this instance is issuer %q", o.GetIssuerId(), inst.institutionID)
	}
	if payerRef == "" {
		return nil, nil, sdk.InvalidArgument("payer_ref", "is empty")
	}
	pay, ok := inst.payers[payerRef]
	if !ok {
		return nil, nil, sdk.NotFound("ocra: the payer has no OCRA credential at this issuer")
	}
	return inst, pay, nil
}

func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after the JSON object")
	}
	return nil
}

// payerState reads the payer's failure count and lock.
func (inst *instance) payerState(payerRef string) (payerState, error) {
	var st payerState
	err := inst.db.DB().View(func(tx *bolt.Tx) error {
		_, err := getJSON(tx.Bucket([]byte(inst.id)).Bucket(bucketPayers), []byte(payerRef), &st)
		return err
	})
	return st, err
}

func getJSON(b *bolt.Bucket, key []byte, v any) (bool, error) {
	raw := b.Get(key)
	if raw == nil {
		return false, nil
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return false, fmt.Errorf("ocra: corrupt record: %w", err)
	}
	return true, nil
}

func putJSON(b *bolt.Bucket, key []byte, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put(key, raw)
}

// BeginMutualAuth answers the payer's challenge with the issuer's proof and
// poses the issuer's challenge, bound to the order digest.
func (p *Plugin) BeginMutualAuth(ctx context.Context, req *pb.BeginMutualAuthRequest) (*pb.BeginMutualAuthResponse, error) {
	inst, pay, err := p.common(req.GetInstanceId(), req.GetOrder(), req.GetOrderDigest(), req.GetPayerRef())
	if err != nil {
		return nil, err
	}
	var in rfc6287.BeginPayerData
	if err := decodeStrict(req.GetPayerData(), &in); err != nil {
		return nil, sdk.InvalidArgument("payer_data", "want {\"client_challenge\": \"...\"}: %v", err)
	}
	if err := pay.suite.CheckMutualChallenge(in.ClientChallenge); err != nil {
		return nil, sdk.InvalidArgument("payer_data.client_challenge", "%v", err)
	}
	nonce, err := rfc6287.NewNonce()
	if err != nil {
		return nil, sdk.Internal(err)
	}
	qs, err := pay.suite.ServerChallenge(req.GetOrderDigest(), nonce)
	if err != nil {
		return nil, sdk.Internal(err)
	}
	rs, err := pay.suite.ServerResponse(pay.key, in.ClientChallenge, qs)
	if err != nil {
		return nil, sdk.Internal(err)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	log := callLog(inst, req.GetOrder(), req.GetPayerRef())
	st, err := inst.payerState(req.GetPayerRef())
	if err != nil {
		return nil, stateError(ctx, log(), err)
	}
	if st.Locked {
		log().Warn("ocra: begin declined", "code", sdk.DeclineLocked)
		return &pb.BeginMutualAuthResponse{Mechanism: Mechanism, Verdict: pb.Verdict_VERDICT_DECLINED, DeclineCode: sdk.DeclineLocked}, nil
	}
	// A new Begin replaces any open challenge for the same payment.
	now := p.now()
	p.open.Put(p.open.Payer(inst.id, req.GetPayerRef()), req.GetOrder().GetPaymentId(), pendingRecord{
		digest:          bytes.Clone(req.GetOrderDigest()),
		nonce:           nonce,
		clientChallenge: in.ClientChallenge,
		serverChallenge: qs,
		expiresMS:       now.Add(inst.ttl).UnixMilli(),
	}, now.UnixMilli())
	data, err := json.Marshal(rfc6287.ChallengeData{Suite: pay.suite.Raw, ServerResponse: rs, ServerChallenge: qs, Nonce: hex.EncodeToString(nonce)})
	if err != nil {
		return nil, sdk.Internal(err)
	}
	if sdk.Logger().IsInfo() {
		log().Info("ocra: challenge issued")
	}
	return &pb.BeginMutualAuthResponse{Mechanism: Mechanism, ChallengeData: data, Verdict: pb.Verdict_VERDICT_APPROVED}, nil
}

// callLog returns the logger of one call, made only when a message is
// logged: at the usual level (warn) an approved call logs nothing and
// should not pay for its fields.
func callLog(inst *instance, o *pb.Order, payerRef string) func() hclog.Logger {
	return func() hclog.Logger {
		return sdk.Logger().With("instance", inst.id, "payment_id", o.GetPaymentId(), "payer_ref", payerRef)
	}
}

// stateError answers a failed write to the state file: the context's error
// if the call's context ended before the write ran (nothing was written),
// else Unavailable.
func stateError(ctx context.Context, log interface{ Error(string, ...any) }, err error) error {
	if cerr := ctx.Err(); cerr != nil && errors.Is(err, cerr) {
		return err
	}
	log.Error("ocra: state file", "error", err)
	return sdk.Unavailable(err)
}

func finishDecline(code string) *pb.FinishMutualAuthResponse {
	return &pb.FinishMutualAuthResponse{Verdict: pb.Verdict_VERDICT_DECLINED, DeclineCode: code}
}

// FinishMutualAuth verifies the payer's answer to the issuer's challenge
// against the order digest. The open challenge is spent, right or wrong.
func (p *Plugin) FinishMutualAuth(ctx context.Context, req *pb.FinishMutualAuthRequest) (*pb.FinishMutualAuthResponse, error) {
	inst, pay, err := p.common(req.GetInstanceId(), req.GetOrder(), req.GetOrderDigest(), req.GetPayerRef())
	if err != nil {
		return nil, err
	}
	var in rfc6287.FinishPayerData
	if err := decodeStrict(req.GetPayerData(), &in); err != nil {
		return nil, sdk.InvalidArgument("payer_data", "want {\"client_response\": \"...\"}: %v", err)
	}
	if err := pay.suite.CheckResponse(in.ClientResponse); err != nil {
		return nil, sdk.InvalidArgument("payer_data.client_response", "%v", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	log := callLog(inst, req.GetOrder(), req.GetPayerRef())
	code, failures, err := p.spend(ctx, inst, pay, req, in.ClientResponse)
	if err != nil {
		return nil, stateError(ctx, log(), err)
	}
	if code != "" {
		log().Warn("ocra: finish declined", "code", code, "failures", failures)
		return finishDecline(code), nil
	}
	if sdk.Logger().IsInfo() {
		log().Info("ocra: payer authenticated")
	}
	return &pb.FinishMutualAuthResponse{
		Verdict:     pb.Verdict_VERDICT_APPROVED,
		Attestation: inst.key.Attest(Step, inst.institutionID, req.GetOrderDigest()),
	}, nil
}

// spend takes the payment's open challenge and checks the answer: it
// returns "" when the payer is authenticated, else the decline code (and
// the payer's failure count after a wrong answer). The payer's Finishes
// run one at a time, so the lock read here is current until the failure
// count is written. A locked payer is refused before the challenge is
// touched; otherwise the challenge is spent, right or wrong. Only a
// wrong answer, or a right one after earlier wrong ones, writes to the
// state file (the count must outlive a restart); a right answer from a
// payer with no failures writes nothing.
func (p *Plugin) spend(ctx context.Context, inst *instance, pay *payer, req *pb.FinishMutualAuthRequest, answer string) (code string, failures int, err error) {
	payerRef := req.GetPayerRef()
	po := p.open.Payer(inst.id, payerRef)
	po.Finish.Lock()
	defer po.Finish.Unlock()
	st, err := inst.payerState(payerRef)
	if err != nil {
		return "", 0, err
	}
	if st.Locked {
		return sdk.DeclineLocked, 0, nil
	}
	rec, ok := p.open.Take(po, req.GetOrder().GetPaymentId())
	if !ok || p.now().UnixMilli() > rec.expiresMS {
		// Spent, replaced, expired, forgotten at a restart, or never
		// issued: a new Begin is needed.
		return sdk.DeclineReplay, 0, nil
	}
	right := p.verify(pay, &rec, req.GetOrderDigest(), answer)
	if right && st.Failures == 0 {
		return "", 0, nil
	}
	code, failures = st.Answer(right, inst.maxFailures)
	// The answer has been checked and the challenge spent: the count is
	// written even if the caller has gone. The fn may run more than once
	// (group commit); it writes the same state each time.
	err = inst.db.Update(context.WithoutCancel(ctx), func(tx *bolt.Tx) error {
		return putJSON(tx.Bucket([]byte(inst.id)).Bucket(bucketPayers), []byte(payerRef), st)
	})
	return code, failures, err
}

// verify checks the answer against the challenge recomputed from the
// request's digest: the digest must be the one the challenge was issued
// for, and Q_S is derived again from it rather than trusted from the record.
func (p *Plugin) verify(pay *payer, rec *pendingRecord, digest []byte, answer string) bool {
	if subtle.ConstantTimeCompare(rec.digest, digest) != 1 {
		return false
	}
	qs, err := pay.suite.ServerChallenge(digest, rec.nonce)
	if err != nil || qs != rec.serverChallenge {
		return false
	}
	want, err := pay.suite.ClientResponse(pay.key, qs, rec.clientChallenge)
	if err != nil {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(want), []byte(answer)) == 1
}

// AuthenticateSeller is not served: ocra only authenticates payers. An
// instance that is not configured is FailedPrecondition, like every call.
func (p *Plugin) AuthenticateSeller(_ context.Context, req *pb.AuthenticateSellerRequest) (*pb.AuthenticateSellerResponse, error) {
	if _, err := p.instance(req.GetInstanceId()); err != nil {
		return nil, err
	}
	return nil, &sdk.Error{Code: sdk.CodeUnimplemented, Msg: "ocra authenticates payers (step C) only"}
}
