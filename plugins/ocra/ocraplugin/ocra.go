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
	return &Plugin{insts: authkit.NewInstances[*instance](Name), now: time.Now}
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
	bucketPending = []byte("pending") // payer_ref NUL payment_id -> pendingRecord JSON
	bucketPayers  = []byte("payers")  // payer_ref -> payerState JSON
)

// pendingRecord is an open challenge. Nothing in it is secret.
type pendingRecord struct {
	Digest          string `json:"digest"`
	Nonce           string `json:"nonce"`
	ClientChallenge string `json:"client_challenge"`
	ServerChallenge string `json:"server_challenge"`
	ExpiresUnixMS   int64  `json:"expires_unix_ms"`
}

// payerState is a payer's failure count and lock.
type payerState struct {
	Failures int  `json:"failures"`
	Locked   bool `json:"locked"`
}

// Configure applies one issuer's settings. On any error diagnostic the
// instance keeps its previous settings.
func (p *Plugin) Configure(_ context.Context, req *pb.ConfigureRequest) (*pb.ConfigureResponse, error) {
	s, diags, err := authkit.Parse(req, Name, "ocra needs a data dir for open challenges and lockouts.", parse)
	if err != nil {
		return nil, err
	}
	if sdk.HasErrors(diags) {
		return &pb.ConfigureResponse{Diagnostics: diags}, nil
	}
	db, d := p.insts.OpenState(req.GetDataDir(), StateFile, req.GetInstanceId(), bucketPending, bucketPayers)
	if d != nil {
		return &pb.ConfigureResponse{Diagnostics: append(diags, d)}, nil
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

func pendingKey(payerRef, paymentID string) []byte {
	return []byte(payerRef + "\x00" + paymentID)
}

// purgeExpired deletes the payer's open challenges that have expired, so
// challenges that were never answered do not pile up.
func purgeExpired(pending *bolt.Bucket, payerRef string, nowMS int64) error {
	prefix := []byte(payerRef + "\x00")
	var expired [][]byte
	c := pending.Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		var rec pendingRecord
		if err := json.Unmarshal(v, &rec); err != nil || rec.ExpiresUnixMS < nowMS {
			expired = append(expired, append([]byte(nil), k...))
		}
	}
	for _, k := range expired {
		if err := pending.Delete(k); err != nil {
			return err
		}
	}
	return nil
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
	var locked bool
	// The fn may run more than once (group commit): it sets locked afresh.
	err = inst.db.Update(ctx, func(tx *bolt.Tx) error {
		locked = false
		b := tx.Bucket([]byte(inst.id))
		var st payerState
		if _, err := getJSON(b.Bucket(bucketPayers), []byte(req.GetPayerRef()), &st); err != nil {
			return err
		}
		if st.Locked {
			locked = true
			return nil
		}
		pending := b.Bucket(bucketPending)
		if err := purgeExpired(pending, req.GetPayerRef(), p.now().UnixMilli()); err != nil {
			return err
		}
		// A new Begin replaces any open challenge for the same payment.
		return putJSON(pending, pendingKey(req.GetPayerRef(), req.GetOrder().GetPaymentId()), pendingRecord{
			Digest:          hex.EncodeToString(req.GetOrderDigest()),
			Nonce:           hex.EncodeToString(nonce),
			ClientChallenge: in.ClientChallenge,
			ServerChallenge: qs,
			ExpiresUnixMS:   p.now().Add(inst.ttl).UnixMilli(),
		})
	})
	if err != nil {
		return nil, stateError(ctx, log(), err)
	}
	if locked {
		log().Warn("ocra: begin declined", "code", sdk.DeclineLocked)
		return &pb.BeginMutualAuthResponse{Mechanism: Mechanism, Verdict: pb.Verdict_VERDICT_DECLINED, DeclineCode: sdk.DeclineLocked}, nil
	}
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
	var code string
	var failures int
	// The fn may run more than once (group commit): it sets code and
	// failures afresh. The challenge is spent inside the transaction, so two
	// Finishes for one challenge cannot both see it, batched or not.
	err = inst.db.Update(ctx, func(tx *bolt.Tx) error {
		code, failures = "", 0
		b := tx.Bucket([]byte(inst.id))
		payers, pending := b.Bucket(bucketPayers), b.Bucket(bucketPending)
		var st payerState
		if _, err := getJSON(payers, []byte(req.GetPayerRef()), &st); err != nil {
			return err
		}
		if st.Locked {
			code = sdk.DeclineLocked
			return nil
		}
		key := pendingKey(req.GetPayerRef(), req.GetOrder().GetPaymentId())
		var rec pendingRecord
		found, err := getJSON(pending, key, &rec)
		if err != nil {
			return err
		}
		if !found {
			// Spent, replaced, or never issued: a new Begin is needed.
			code = sdk.DeclineReplay
			return nil
		}
		if err := pending.Delete(key); err != nil {
			return err
		}
		if p.now().UnixMilli() > rec.ExpiresUnixMS {
			code = sdk.DeclineReplay
			return nil
		}
		if !p.verify(pay, &rec, req.GetOrderDigest(), in.ClientResponse) {
			st.Failures++
			st.Locked = st.Failures >= inst.maxFailures
			failures = st.Failures
			code = sdk.DeclineAuthFailed
			return putJSON(payers, []byte(req.GetPayerRef()), st)
		}
		if st.Failures != 0 {
			return putJSON(payers, []byte(req.GetPayerRef()), payerState{})
		}
		return nil
	})
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

// verify checks the answer against the challenge recomputed from the
// request's digest: the digest must be the one the challenge was issued
// for, and Q_S is derived again from it rather than trusted from the record.
func (p *Plugin) verify(pay *payer, rec *pendingRecord, digest []byte, answer string) bool {
	stored, err := hex.DecodeString(rec.Digest)
	if err != nil || subtle.ConstantTimeCompare(stored, digest) != 1 {
		return false
	}
	nonce, err := rfc6287.ParseNonce(rec.Nonce)
	if err != nil {
		return false
	}
	qs, err := pay.suite.ServerChallenge(digest, nonce)
	if err != nil || qs != rec.ServerChallenge {
		return false
	}
	want, err := pay.suite.ClientResponse(pay.key, qs, rec.ClientChallenge)
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
