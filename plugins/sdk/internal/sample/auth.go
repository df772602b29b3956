package sample

import (
	"context"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
	"github.com/switchd/switchd/plugins/sdk"
	"github.com/switchd/switchd/plugins/sdk/order"
)

// Authenticator checks sellers by Ed25519 signature (step B) and payers by
// an HMAC challenge-response over the order digest in which the issuer
// proves itself first (step C). Its config is
//
//	{"signing_seed": "<64 hex>",
//	 "payer": [{"id": "alice", "secret": "<hex>"}],
//	 "seller_key": [{"key_id": "k1", "merchant_id": "shop", "public_key": "<64 hex>"}],
//	 "latency_ms": 0}
type Authenticator struct {
	flaws     Flaw
	hostState bool
	mu        sync.Mutex
	inst      map[string]*authInstance
	// replay holds, with hostState, each instance's approved seller
	// signatures: record key -> payment id.
	replay map[string]map[string]string
}

var (
	_ sdk.Authenticator = (*Authenticator)(nil)
	_ sdk.StateHolder   = (*Authenticator)(nil)
)

// NewAuthenticator returns an authenticator with the given flaws (0 for
// none).
func NewAuthenticator(flaws Flaw) *Authenticator {
	return &Authenticator{flaws: flaws, inst: map[string]*authInstance{}}
}

// NewStateAuthenticator returns the authenticator with the host_state
// capability: step B also refuses a seller signature already approved for
// another payment ("replay"), and keeps the approvals as records in the
// host, one per signature:
//
//	seller/<key id>/<hex SHA-256 of the signature>  the payment id
func NewStateAuthenticator(flaws Flaw) *Authenticator {
	a := NewAuthenticator(flaws)
	a.hostState, a.replay = true, map[string]map[string]string{}
	return a
}

const sellerPrefix = "seller/"

// LoadState replaces an instance's approved signatures with records.
func (a *Authenticator) LoadState(_ context.Context, instanceID string, records []*pb.StateWrite) error {
	if !a.hostState {
		return &sdk.Error{Code: sdk.CodeUnimplemented, Msg: "this authenticator keeps no state in the host"}
	}
	seen := map[string]string{}
	for _, r := range records {
		k := string(r.GetKey())
		if !strings.HasPrefix(k, sellerPrefix) {
			return sdk.InvalidArgument("records", "unknown record %q", k)
		}
		seen[k] = string(r.GetValue())
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.replay[instanceID] = seen
	delete(a.inst, instanceID) // configured again after the load
	return nil
}

// ExportState exports nothing: this plugin never kept files of its own.
func (a *Authenticator) ExportState(context.Context, string, string) ([]*pb.StateWrite, error) {
	if !a.hostState {
		return nil, &sdk.Error{Code: sdk.CodeUnimplemented, Msg: "this authenticator keeps no state in the host"}
	}
	return nil, nil
}

// approve records an approved seller signature for paymentID, or reports
// the payment it was already approved for. It returns the record to
// write, or nil.
func (a *Authenticator) approve(instance, keyID string, sig []byte, paymentID string) (other string, write *pb.StateWrite) {
	sum := sha256.Sum256(sig)
	key := sellerPrefix + keyID + "/" + hex.EncodeToString(sum[:])
	a.mu.Lock()
	defer a.mu.Unlock()
	seen := a.replay[instance]
	if p, ok := seen[key]; ok {
		if p != paymentID {
			return p, nil
		}
		if a.flaws&ForgetsRecords != 0 {
			return "", nil
		}
	}
	seen[key] = paymentID
	return "", &pb.StateWrite{Key: []byte(key), Value: []byte(paymentID)}
}

type authConfig struct {
	SigningSeed string `json:"signing_seed"`
	Payer       []struct {
		ID     string `json:"id"`
		Secret string `json:"secret"`
	} `json:"payer"`
	SellerKey []struct {
		KeyID      string `json:"key_id"`
		MerchantID string `json:"merchant_id"`
		PublicKey  string `json:"public_key"`
	} `json:"seller_key"`
	LatencyMS int64 `json:"latency_ms"`
}

type sellerKey struct {
	merchant string
	pub      ed25519.PublicKey
}

type pending struct {
	digest    []byte
	challenge []byte
}

type authInstance struct {
	id      string
	keyID   string
	priv    ed25519.PrivateKey
	payers  map[string][]byte
	sellers map[string]sellerKey
	latency time.Duration
	pending map[string]pending // by payment id
}

// sellerWindow is how far a seller's signing time may be from now.
const sellerWindow = 10 * time.Minute

// GetInfo describes the plugin.
func (a *Authenticator) GetInfo(context.Context, *pb.GetInfoRequest) (*pb.GetInfoResponse, error) {
	schema := &pb.Schema{
		Attributes: []*pb.Attribute{
			sdk.SensitiveAttr("signing_seed", pb.AttributeType_ATTRIBUTE_TYPE_STRING, true, "hex Ed25519 seed for attestations"),
			sdk.Attr("latency_ms", pb.AttributeType_ATTRIBUTE_TYPE_NUMBER, false, "simulated backend latency"),
		},
		Blocks: []*pb.BlockType{
			{Name: "payer", Labels: []string{"id"}, Body: &pb.Schema{Attributes: []*pb.Attribute{
				sdk.SensitiveAttr("secret", pb.AttributeType_ATTRIBUTE_TYPE_STRING, true, "hex shared secret")}}},
			{Name: "seller_key", Labels: []string{"key_id"}, Body: &pb.Schema{Attributes: []*pb.Attribute{
				sdk.Attr("merchant_id", pb.AttributeType_ATTRIBUTE_TYPE_STRING, true, "the seller the key belongs to"),
				sdk.Attr("public_key", pb.AttributeType_ATTRIBUTE_TYPE_STRING, true, "hex Ed25519 public key")}}},
		},
	}
	if a.flaws&BadSchema != 0 {
		schema.Blocks[0].Body.Attributes = append(schema.Blocks[0].Body.Attributes, &pb.Attribute{Name: "secret"})
	}
	info := &pb.GetInfoResponse{Name: "sample-auth", Version: Version, Kinds: []pb.Kind{pb.Kind_KIND_AUTHENTICATOR},
		ProtocolVersions: []uint32{sdk.ProtocolVersion}, Capabilities: []string{sdk.CapSellerAuth, sdk.CapMutualAuth},
		ConfigSchema: schema}
	if a.hostState {
		info.Name = "sample-state-auth"
		info.Capabilities = append(info.Capabilities, sdk.CapHostState)
	}
	if a.flaws&BadInfo != 0 {
		info.Name, info.ProtocolVersions = "Sample Auth", []uint32{2}
		info.Capabilities = append(info.Capabilities, sdk.CapEnrollment)
	}
	return info, nil
}

// Configure validates and applies an instance's config.
func (a *Authenticator) Configure(_ context.Context, req *pb.ConfigureRequest) (*pb.ConfigureResponse, error) {
	var cfg authConfig
	if err := sdk.DecodeConfig(req.GetConfigJson(), &cfg); err != nil && a.flaws&AcceptsBadConfig == 0 {
		return nil, err
	}
	in := &authInstance{id: req.GetInstanceId(), keyID: req.GetInstanceId() + "-1", payers: map[string][]byte{},
		sellers: map[string]sellerKey{}, latency: time.Duration(cfg.LatencyMS) * time.Millisecond, pending: map[string]pending{}}
	var diags []*pb.Diagnostic
	seed, err := hex.DecodeString(cfg.SigningSeed)
	if err != nil || len(seed) != ed25519.SeedSize {
		diags = append(diags, sdk.ErrorDiag([]string{"signing_seed"}, "Bad signing seed", "signing_seed must be %d bytes of hex", ed25519.SeedSize))
	} else {
		in.priv = ed25519.NewKeyFromSeed(seed)
	}
	if cfg.LatencyMS < 0 {
		diags = append(diags, sdk.ErrorDiag([]string{"latency_ms"}, "Negative latency", "latency_ms must be 0 or more"))
	}
	for _, p := range cfg.Payer {
		s, err := hex.DecodeString(p.Secret)
		if err != nil || len(s) < 16 {
			d := sdk.ErrorDiag([]string{"payer", p.ID, "secret"}, "Bad payer secret", "a secret is at least 16 bytes of hex")
			if a.flaws&LeaksSecret != 0 {
				d.Detail += fmt.Sprintf(", got %q", p.Secret)
			}
			diags = append(diags, d)
			continue
		}
		in.payers[p.ID] = s
	}
	for _, k := range cfg.SellerKey {
		pub, err := hex.DecodeString(k.PublicKey)
		if err != nil || len(pub) != ed25519.PublicKeySize {
			diags = append(diags, sdk.ErrorDiag([]string{"seller_key", k.KeyID, "public_key"}, "Bad public key", "a public key is %d bytes of hex", ed25519.PublicKeySize))
			continue
		}
		in.sellers[k.KeyID] = sellerKey{merchant: k.MerchantID, pub: pub}
	}
	if a.flaws&AcceptsBadConfig != 0 {
		diags = nil
		if in.priv == nil {
			in.priv = ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
		}
	}
	if sdk.HasErrors(diags) {
		return &pb.ConfigureResponse{Diagnostics: diags}, nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.hostState && a.replay[in.id] == nil {
		if a.flaws&ConfiguresUnloaded == 0 {
			return nil, sdk.FailedPrecondition("instance %q: its state was not loaded (LoadState comes before Configure)", in.id)
		}
		a.replay[in.id] = map[string]string{}
	}
	a.inst[in.id] = in
	return &pb.ConfigureResponse{Diagnostics: diags, AttestationKeys: []*pb.PublicKey{
		{KeyId: in.keyID, Ed25519: in.priv.Public().(ed25519.PublicKey)}}}, nil
}

// Health reports serving once the instance is configured.
func (a *Authenticator) Health(_ context.Context, req *pb.HealthRequest) (*pb.HealthResponse, error) {
	return health(req, func(id string) bool {
		a.mu.Lock()
		defer a.mu.Unlock()
		return a.inst[id] != nil
	}), nil
}

func (a *Authenticator) instance(id string) (*authInstance, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	in, ok := a.inst[id]
	if !ok {
		return nil, sdk.FailedPrecondition("instance %q is not configured", id)
	}
	return in, nil
}

func (in *authInstance) attest(step string, digest []byte) *pb.Attestation {
	return &pb.Attestation{InstitutionId: in.id, KeyId: in.keyID, Step: step,
		Signature: ed25519.Sign(in.priv, order.AttestationMessage(step, in.id, digest))}
}

// AuthenticateSeller verifies the seller's signature over the order terms.
func (a *Authenticator) AuthenticateSeller(ctx context.Context, req *pb.AuthenticateSellerRequest) (*pb.AuthenticateSellerResponse, error) {
	in, err := a.instance(req.GetInstanceId())
	if err != nil {
		return nil, err
	}
	if err := wait(ctx, in.latency, a.flaws); err != nil {
		return nil, err
	}
	decline := func(code string) (*pb.AuthenticateSellerResponse, error) {
		return &pb.AuthenticateSellerResponse{Verdict: pb.Verdict_VERDICT_DECLINED, DeclineCode: code}, nil
	}
	k, ok := in.sellers[req.GetSellerKeyId()]
	if !ok {
		return decline(sdk.DeclineUnknownKey)
	}
	o := req.GetOrder()
	if k.merchant != o.GetMerchantId() {
		return decline(sdk.DeclineUnknownMerchant)
	}
	at := time.UnixMilli(req.GetSignedAtUnixMs())
	if d := time.Since(at); d > sellerWindow || d < -sellerWindow {
		return decline(sdk.DeclineStaleSignature)
	}
	if a.flaws&SkipsSellerSignature == 0 && !ed25519.Verify(k.pub, order.SellerMessage(order.TermsDigest(o), req.GetSignedAtUnixMs()), req.GetSellerSignature()) {
		return decline(sdk.DeclineBadSignature)
	}
	res := &pb.AuthenticateSellerResponse{Verdict: pb.Verdict_VERDICT_APPROVED, Attestation: in.attest("B", req.GetOrderDigest())}
	if a.hostState {
		other, w := a.approve(in.id, req.GetSellerKeyId(), req.GetSellerSignature(), o.GetPaymentId())
		if other != "" {
			return decline(sdk.DeclineReplay)
		}
		if w != nil {
			res.StateWrites = []*pb.StateWrite{w}
		}
	}
	return res, nil
}

// Challenge is the challenge_data of BeginMutualAuth.
type Challenge struct {
	ClientChallenge string `json:"client_challenge"`
	IssuerProof     string `json:"issuer_proof"`
	ServerChallenge string `json:"server_challenge"`
}

// ClientHello is the payer_data of BeginMutualAuth.
type ClientHello struct {
	ClientChallenge string `json:"client_challenge"`
}

// Answer is the payer_data of FinishMutualAuth.
type Answer struct {
	Response string `json:"response"`
}

func mac(secret []byte, role string, digest, challenge []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("sample-mutual-v1\x00" + role + "\x00"))
	m.Write(digest)
	m.Write(challenge)
	return m.Sum(nil)
}

// BeginMutualAuth proves the issuer to the payer over the order digest and
// poses the issuer's challenge.
func (a *Authenticator) BeginMutualAuth(ctx context.Context, req *pb.BeginMutualAuthRequest) (*pb.BeginMutualAuthResponse, error) {
	in, err := a.instance(req.GetInstanceId())
	if err != nil {
		return nil, err
	}
	if err := wait(ctx, in.latency, a.flaws); err != nil {
		return nil, err
	}
	var hello ClientHello
	if err := json.Unmarshal(req.GetPayerData(), &hello); err != nil {
		return nil, sdk.InvalidArgument("payer_data", "not JSON: %v", err)
	}
	cc, err := hex.DecodeString(hello.ClientChallenge)
	if err != nil || len(cc) < 16 {
		return nil, sdk.InvalidArgument("payer_data.client_challenge", "must be at least 16 bytes of hex")
	}
	secret, ok := in.payers[req.GetPayerRef()]
	if !ok {
		return &pb.BeginMutualAuthResponse{Verdict: pb.Verdict_VERDICT_DECLINED, DeclineCode: sdk.DeclineAuthFailed}, nil
	}
	sc := make([]byte, 16)
	if _, err := rand.Read(sc); err != nil {
		return nil, sdk.Internal(err)
	}
	a.mu.Lock()
	in.pending[req.GetOrder().GetPaymentId()] = pending{digest: req.GetOrderDigest(), challenge: sc}
	a.mu.Unlock()
	data, err := json.Marshal(Challenge{ClientChallenge: hello.ClientChallenge,
		IssuerProof: hex.EncodeToString(mac(secret, "issuer", req.GetOrderDigest(), cc)), ServerChallenge: hex.EncodeToString(sc)})
	if err != nil {
		return nil, sdk.Internal(err)
	}
	return &pb.BeginMutualAuthResponse{Mechanism: "sample-hmac", ChallengeData: data, Verdict: pb.Verdict_VERDICT_APPROVED}, nil
}

// FinishMutualAuth verifies the payer's answer over the order digest. A
// challenge answers once.
func (a *Authenticator) FinishMutualAuth(ctx context.Context, req *pb.FinishMutualAuthRequest) (*pb.FinishMutualAuthResponse, error) {
	in, err := a.instance(req.GetInstanceId())
	if err != nil {
		return nil, err
	}
	if err := wait(ctx, in.latency, a.flaws); err != nil {
		return nil, err
	}
	var ans Answer
	if err := json.Unmarshal(req.GetPayerData(), &ans); err != nil {
		return nil, sdk.InvalidArgument("payer_data", "not JSON: %v", err)
	}
	resp, err := hex.DecodeString(ans.Response)
	if err != nil {
		return nil, sdk.InvalidArgument("payer_data.response", "not hex")
	}
	a.mu.Lock()
	p, ok := in.pending[req.GetOrder().GetPaymentId()]
	delete(in.pending, req.GetOrder().GetPaymentId())
	a.mu.Unlock()
	secret, known := in.payers[req.GetPayerRef()]
	declined := &pb.FinishMutualAuthResponse{Verdict: pb.Verdict_VERDICT_DECLINED, DeclineCode: sdk.DeclineAuthFailed}
	if !ok || !known {
		return declined, nil
	}
	digest := req.GetOrderDigest()
	if a.flaws&UnboundProof != 0 {
		digest = p.digest
	}
	if !hmac.Equal(resp, mac(secret, "payer", digest, p.challenge)) {
		return declined, nil
	}
	return &pb.FinishMutualAuthResponse{Verdict: pb.Verdict_VERDICT_APPROVED, Attestation: in.attest("C", req.GetOrderDigest())}, nil
}

// PayerHello returns a fresh payer_data for BeginMutualAuth.
func PayerHello(*pb.Order) []byte {
	cc := make([]byte, 16)
	_, _ = rand.Read(cc)
	b, _ := json.Marshal(ClientHello{ClientChallenge: hex.EncodeToString(cc)})
	return b
}

// PayerAnswer returns the payer's side of step C for secret: it checks the
// issuer's proof over o's digest and answers the issuer's challenge.
func PayerAnswer(secret []byte) func(begin *pb.BeginMutualAuthResponse, o *pb.Order) ([]byte, error) {
	return func(begin *pb.BeginMutualAuthResponse, o *pb.Order) ([]byte, error) {
		var c Challenge
		if err := json.Unmarshal(begin.GetChallengeData(), &c); err != nil {
			return nil, err
		}
		cc, err1 := hex.DecodeString(c.ClientChallenge)
		proof, err2 := hex.DecodeString(c.IssuerProof)
		sc, err3 := hex.DecodeString(c.ServerChallenge)
		if err1 != nil || err2 != nil || err3 != nil {
			return nil, errInvalidChallenge
		}
		d := order.Digest(o)
		if !hmac.Equal(proof, mac(secret, "issuer", d[:], cc)) {
			return nil, errIssuerProof
		}
		return json.Marshal(Answer{Response: hex.EncodeToString(mac(secret, "payer", d[:], sc))})
	}
}

// SellerSigner returns a function that signs an order's terms as the
// seller holding priv under keyID, now.
func SellerSigner(keyID string, priv ed25519.PrivateKey) func(o *pb.Order) (string, []byte, int64) {
	return func(o *pb.Order) (string, []byte, int64) {
		at := time.Now().UnixMilli()
		return keyID, ed25519.Sign(priv, order.SellerMessage(order.TermsDigest(o), at)), at
	}
}
