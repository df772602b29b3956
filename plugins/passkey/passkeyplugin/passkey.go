package passkeyplugin

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/go-webauthn/webauthn/webauthn"
	bolt "go.etcd.io/bbolt"

	"github.com/switchd/switchd/internal/boltgroup"
	"github.com/switchd/switchd/plugins/internal/authkit"
	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
	"github.com/switchd/switchd/plugins/sdk"
)

// Name is the plugin's name.
const Name = "passkey"

// Version is the plugin's version.
const Version = "1.0.0"

// Mechanism is the mechanism name in BeginMutualAuthResponse and
// BeginEnrollmentResponse; the payment page shows its passkey flow for it.
const Mechanism = "webauthn"

// StateFile is the bbolt file the plugin keeps in each data dir.
const StateFile = "passkey.db"

// Step is the flow step this plugin attests.
const Step = "C"

// ChallengeTag starts the message whose SHA-256 is the step-C challenge.
const ChallengeTag = "switchd-passkey-v1"

// NonceSize is the size of the issuer's one-time nonce in bytes.
const NonceSize = 32

// DeclineUnknownPayer is the decline code for a payer with no passkey.
const DeclineUnknownPayer = sdk.DeclineUnknownPayer

var (
	_ sdk.Plugin        = (*Plugin)(nil)
	_ sdk.Authenticator = (*Plugin)(nil)
	_ sdk.Enroller      = (*Plugin)(nil)
)

// Challenge returns the step-C WebAuthn challenge for an order digest and
// the issuer's nonce: SHA-256(ChallengeTag || digest || nonce).
func Challenge(digest, nonce []byte) []byte {
	h := sha256.New()
	h.Write([]byte(ChallengeTag))
	h.Write(digest)
	h.Write(nonce)
	return h.Sum(nil)
}

// Plugin is the passkey authenticator. It serves any number of issuers,
// each configured under its own instance id.
type Plugin struct {
	insts *authkit.Instances[*instance]
	open  *openSet // open step-C challenges, in memory, of every instance
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
		Capabilities:     []string{sdk.CapMutualAuth, sdk.CapEnrollment, Mechanism},
		ConfigSchema:     schema(),
	}, nil
}

var (
	bucketUsers  = []byte("users")              // payer_ref -> userRecord JSON
	bucketEnrol  = []byte("enrol")              // payer_ref -> enrolRecord JSON
	bucketPayers = []byte(authkit.PayersBucket) // payer_ref -> payerState JSON
	// bucketPending held open step-C challenges in files of versions
	// before they moved to memory (openSet); Configure drops it.
	bucketPending = []byte("pending")
)

// userRecord is a payer's WebAuthn account: a random user handle and the
// public credentials. Nothing in it is secret.
type userRecord struct {
	UserID      []byte                `json:"user_id"`
	Credentials []webauthn.Credential `json:"credentials"`
}

// enrolRecord is an open enrolment.
type enrolRecord struct {
	Session       webauthn.SessionData `json:"session"`
	ExpiresUnixMS int64                `json:"expires_unix_ms"`
}

// payerState is a payer's failure count and lock.
type payerState = authkit.Lockout

// user adapts a payer to webauthn.User.
type user struct {
	rec  *userRecord
	name string
}

func (u *user) WebAuthnID() []byte                         { return u.rec.UserID }
func (u *user) WebAuthnName() string                       { return u.name }
func (u *user) WebAuthnDisplayName() string                { return u.name }
func (u *user) WebAuthnCredentials() []webauthn.Credential { return u.rec.Credentials }

// Configure applies one issuer's settings. On any error diagnostic the
// instance keeps its previous settings.
func (p *Plugin) Configure(ctx context.Context, req *pb.ConfigureRequest) (*pb.ConfigureResponse, error) {
	s, diags, err := authkit.Parse(req, Name, "passkey needs a data dir for credentials, enrolments and lockouts.", parse)
	if err != nil {
		return nil, err
	}
	if sdk.HasErrors(diags) {
		return &pb.ConfigureResponse{Diagnostics: diags}, nil
	}
	db, d := p.insts.OpenState(req.GetDataDir(), StateFile, req.GetInstanceId(), bucketUsers, bucketEnrol, bucketPayers)
	if d != nil {
		return &pb.ConfigureResponse{Diagnostics: append(diags, d)}, nil
	}
	if err := authkit.DropBucket(ctx, db, req.GetInstanceId(), bucketPending); err != nil {
		return &pb.ConfigureResponse{Diagnostics: append(diags, sdk.ErrorDiag(nil, "Cannot initialise state file", "%v", err))}, nil
	}
	inst := &instance{settings: s, id: req.GetInstanceId(), institutionID: authkit.InstitutionID(req), db: db}
	p.insts.Put(inst.id, inst)
	sdk.Logger().Info("passkey: configured", "instance", inst.id, "rp_id", s.wa.Config.RPID, "payers", len(s.payers), "key_id", s.key.ID)
	return &pb.ConfigureResponse{Diagnostics: diags, AttestationKeys: []*pb.PublicKey{s.key.Public()}}, nil
}

// Close closes the state files. The plugin must not be used afterwards.
func (p *Plugin) Close() error { return p.insts.Close() }

// Health reports whether the plugin, or one instance, can serve.
func (p *Plugin) Health(ctx context.Context, req *pb.HealthRequest) (*pb.HealthResponse, error) {
	return p.insts.Health(ctx, req)
}

func (p *Plugin) instance(id string) (*instance, error) { return p.insts.Get(id) }

// AuthenticateSeller is not served: passkey only authenticates payers. An
// instance that is not configured is FailedPrecondition, like every call.
func (p *Plugin) AuthenticateSeller(_ context.Context, req *pb.AuthenticateSellerRequest) (*pb.AuthenticateSellerResponse, error) {
	if _, err := p.instance(req.GetInstanceId()); err != nil {
		return nil, err
	}
	return nil, &sdk.Error{Code: sdk.CodeUnimplemented, Msg: "passkey authenticates payers (step C) only"}
}

// emptyPayerData accepts what the payment page sends to the begin calls:
// nothing, or an empty JSON object.
func emptyPayerData(data []byte) error {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		return sdk.InvalidArgument("payer_data", "want an empty JSON object: %v", err)
	}
	if len(m) != 0 {
		return sdk.InvalidArgument("payer_data", "want an empty JSON object, got %d fields", len(m))
	}
	return nil
}

func nonce() ([]byte, error) {
	b := make([]byte, NonceSize)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	return b, nil
}

func getJSON(b *bolt.Bucket, key []byte, v any) (bool, error) {
	raw := b.Get(key)
	if raw == nil {
		return false, nil
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return false, fmt.Errorf("%w: %w", ErrCorruptRecord, err)
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

// buckets are one instance's buckets inside a transaction.
type buckets struct{ users, enrol, payers *bolt.Bucket }

func (inst *instance) buckets(tx *bolt.Tx) buckets {
	b := tx.Bucket([]byte(inst.id))
	return buckets{b.Bucket(bucketUsers), b.Bucket(bucketEnrol), b.Bucket(bucketPayers)}
}

// payer reads the payer's failure count and lock, and WebAuthn account.
func (inst *instance) payer(payerRef string) (st payerState, rec userRecord, err error) {
	err = inst.db.DB().View(func(tx *bolt.Tx) error {
		st, rec, err = inst.buckets(tx).payer([]byte(payerRef))
		return err
	})
	return st, rec, err
}

// payer reads the payer's failure count and lock, and WebAuthn account,
// in the buckets' transaction.
func (b buckets) payer(key []byte) (payerState, userRecord, error) {
	var st payerState
	var rec userRecord
	if _, err := getJSON(b.payers, key, &st); err != nil {
		return st, rec, err
	}
	_, err := getJSON(b.users, key, &rec)
	return st, rec, err
}

func (inst *instance) displayName(payerRef string) string {
	if n := inst.payers[payerRef].DisplayName; n != "" {
		return n
	}
	return payerRef
}

// storeError answers a failed write to the state file: the context's error
// if the call's context ended before the write ran (nothing was written),
// else it logs the failure and turns it into Unavailable.
func storeError(ctx context.Context, log interface{ Error(string, ...any) }, err error) error {
	if cerr := ctx.Err(); cerr != nil && errors.Is(err, cerr) {
		return err
	}
	log.Error("passkey: state file", "error", err)
	return sdk.Unavailable(err)
}

func (inst *instance) attest(digest []byte) *pb.Attestation {
	return inst.key.Attest(Step, inst.institutionID, digest)
}
