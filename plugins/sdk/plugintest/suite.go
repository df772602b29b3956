package plugintest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
	"github.com/switchd/switchd/plugins/sdk"
	"github.com/switchd/switchd/plugins/sdk/order"
)

// Suite describes one plugin and the inputs the kit needs to exercise it.
// Only Target and Config are required; each group of checks runs when the
// plugin's GetInfo lists the matching kind and the fields it needs are set,
// and is logged as skipped otherwise.
type Suite struct {
	// Target is the plugin under test.
	Target Target

	// Config is a valid config_json for one instance.
	Config []byte
	// BadConfigs are invalid config_json values by name. Each must be
	// refused with an error diagnostic or InvalidArgument, and must leave
	// the instance configured with Config still serving.
	BadConfigs map[string][]byte
	// SlowConfig, when set, is a valid config under which Debit (payment
	// methods), or BeginMutualAuth (authenticators; AuthenticateSeller for
	// one with SellerSignature but no PayerAnswer), waits on a simulated
	// backend for at least 30 s unless its context ends. The kit uses it
	// to check that a call whose deadline ends returns promptly, and, for
	// an InProcess target, that the plugin's handler returns too.
	SlowConfig []byte
	// Institution is sent with Configure. Its Id is the instance id; the
	// default is {Id: "plugintest-bank", Roles: ["issuer", "acquirer"]}.
	Institution *pb.InstitutionInfo

	// Order is the order to pay and authenticate. The kit gives each call
	// its own payment_id and fills empty fields: merchant
	// "plugintest-shop", acquirer and issuer the instance id, 1000 EUR, the
	// plugin's first method, expiry in one hour.
	Order *pb.Order

	// Instrument is a resolvable payer instrument, for payment methods
	// (the instance_id and payment_id are filled in). The order must be
	// payable with it several times over.
	Instrument *pb.ResolveInstrumentRequest
	// PayeeAccount is the seller's account for Credit; when empty the
	// Credit checks are skipped.
	PayeeAccount string
	// Balance, when set, returns the balance of the account that Debit
	// (op OPERATION_DEBIT: the payer's) or Credit (the payee's) moves, for
	// the instance whose data dir is dataDir. With it the kit checks that
	// repeated calls move money exactly once.
	Balance func(dataDir string, op pb.Operation) (int64, error)

	// OldState, for a host_state plugin whose earlier versions kept their
	// state in files of their own, writes into dataDir the files such a
	// version leaves (for example by running it). The kit then checks the
	// import: ExportState streams records, the same ones again when the
	// host stopped before its commit, and the instance configured on them
	// serves. Without it the kit only checks that an empty data dir
	// exports nothing.
	OldState func(dataDir string) error

	// PayerRef names the payer at the issuer, for authenticators.
	PayerRef string
	// PayerHello returns the payer's payer_data for BeginMutualAuth (the
	// payer's own challenge). Nil sends none. The kit calls PayerHello(o),
	// then BeginMutualAuth, then PayerAnswer with the same o (or, in
	// issuer_proof_bound, a changed copy), so the two may share state such
	// as the payer's challenge keyed by o.PaymentId.
	PayerHello func(o *pb.Order) []byte
	// PayerAnswer plays the payer's browser for step C: from the
	// BeginMutualAuth response it returns the FinishMutualAuth payer_data
	// for order o. When it checks the issuer's proof and returns an error
	// if it does not verify for o, set PayerVerifiesIssuer.
	PayerAnswer func(begin *pb.BeginMutualAuthResponse, o *pb.Order) ([]byte, error)
	// PayerVerifiesIssuer makes the kit check that the issuer's proof for
	// one order is rejected by PayerAnswer for any other order.
	PayerVerifiesIssuer bool
	// SellerSignature signs o's terms as a seller the acquirer knows, for
	// step B: the key id, the signature over order.SellerMessage and the
	// signing time.
	SellerSignature func(o *pb.Order) (keyID string, sig []byte, signedAtUnixMS int64)
}

// callTimeout bounds every call the kit makes that should not be slow.
const callTimeout = 30 * time.Second

// env is one run of the kit against one started plugin.
type env struct {
	s        Suite
	top      tb // the run's t, which owns the plugin processes
	c        *host
	conn     *conn
	info     *pb.GetInfoResponse
	inst     string
	method   pb.Method
	dataDir  map[pb.Kind]string
	keys     []*pb.PublicKey
	seq      atomic.Int64
	runID    string
	hasKind  map[pb.Kind]bool
	template *pb.Order
}

// Run runs every applicable conformance check against s.Target as
// subtests of t. It stops t with Fatalf when the plugin cannot be started,
// GetInfo fails, or Suite.Config is refused, since no check can run then.
func Run(t *testing.T, s Suite) {
	t.Helper()
	run(stdT{t}, s)
}

func run(t tb, s Suite) {
	t.Helper()
	if s.Institution == nil {
		s.Institution = &pb.InstitutionInfo{Id: "plugintest-bank", DisplayName: "Plugintest Bank", Roles: []string{"issuer", "acquirer"}}
	}
	if s.Institution.GetId() == "" {
		t.Fatalf("Suite.Institution.Id is empty: it is the instance id")
	}
	cn, err := s.Target.start(t)
	if err != nil {
		t.Fatalf("start %v: %v", s.Target, err)
	}
	e := &env{s: s, top: t, c: newHost(cn.client, false), conn: cn, inst: s.Institution.GetId(), dataDir: map[pb.Kind]string{}, hasKind: map[pb.Kind]bool{}}
	rb := make([]byte, 4)
	_, _ = rand.Read(rb)
	e.runID = hex.EncodeToString(rb)

	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	e.info, err = e.c.GetInfo(ctx, &pb.GetInfoRequest{})
	if err != nil {
		t.Fatalf("GetInfo: %v", err)
	}
	for _, k := range e.info.GetKinds() {
		e.hasKind[k] = true
	}
	e.c.on = slices.Contains(e.info.GetCapabilities(), sdk.CapHostState)
	for _, v := range sensitiveValues(e.info.GetConfigSchema(), s.Config) {
		e.c.secrets = append(e.c.secrets, []byte(v))
	}
	if pan := s.Instrument.GetCard().GetPan(); pan != "" {
		e.c.secrets = append(e.c.secrets, []byte(pan))
	}
	e.method = e.s.Order.GetMethod()
	if e.method == pb.Method_METHOD_UNSPECIFIED && len(e.info.GetMethods()) > 0 {
		e.method = e.info.GetMethods()[0]
	}
	e.template = e.defaultOrder()

	t.Run("info", e.checkInfo)
	t.Run("schema", e.checkSchema)
	t.Run("unconfigured", e.checkUnconfigured)
	for _, k := range e.info.GetKinds() {
		dir := t.TempDir()
		res, err := e.configure(e.inst, k, s.Config, dir)
		if err != nil {
			t.Fatalf("Configure(%v) with Suite.Config: %v", k, err)
		}
		if sdk.HasErrors(res.GetDiagnostics()) {
			t.Fatalf("Configure(%v) with Suite.Config has errors: %v", k, res.GetDiagnostics())
		}
		e.dataDir[k] = dir
		e.keys = append(e.keys, res.GetAttestationKeys()...)
	}
	t.Run("configure", e.checkConfigure)
	t.Run("info_stable", e.checkInfoStable)
	if e.hasKind[pb.Kind_KIND_PAYMENT_METHOD] {
		t.Run("payment_method", e.checkMethod)
	}
	if e.hasKind[pb.Kind_KIND_AUTHENTICATOR] {
		t.Run("authenticator", e.checkAuthenticator)
	}
	t.Run("deadline", e.checkDeadline)
	if e.c.on {
		t.Run("host_state", e.checkHostState)
	}
	t.Run("state_writes", e.checkStateWrites)
}

func (e *env) configure(inst string, k pb.Kind, cfg []byte, dir string) (*pb.ConfigureResponse, error) {
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	req := &pb.ConfigureRequest{InstanceId: inst, Kind: k, ConfigJson: cfg, DataDir: dir, Institution: e.s.Institution}
	if k == pb.Kind_KIND_PAYMENT_METHOD {
		req.Method = e.method
	}
	return e.c.Configure(ctx, req)
}

func (e *env) defaultOrder() *pb.Order {
	o := &pb.Order{}
	if e.s.Order != nil {
		o = proto.Clone(e.s.Order).(*pb.Order)
	}
	if o.MerchantId == "" {
		o.MerchantId = "plugintest-shop"
	}
	if o.AcquirerId == "" {
		o.AcquirerId = e.inst
	}
	if o.IssuerId == "" {
		o.IssuerId = e.inst
	}
	if o.AmountMinor == 0 {
		o.AmountMinor = 1000
	}
	if o.Currency == "" {
		o.Currency = "EUR"
	}
	if o.Method == pb.Method_METHOD_UNSPECIFIED {
		o.Method = e.method
	}
	if o.OrderRef == "" {
		o.OrderRef = "plugintest-order"
	}
	if o.ExpiresAtUnix == 0 {
		o.ExpiresAtUnix = time.Now().Add(time.Hour).Unix()
	}
	return o
}

// newOrder returns the suite's order with a payment id of its own.
func (e *env) newOrder(check string) *pb.Order {
	o := proto.Clone(e.template).(*pb.Order)
	o.PaymentId = fmt.Sprintf("pt-%s-%s-%d", e.runID, check, e.seq.Add(1))
	return o
}

func digest(o *pb.Order) []byte {
	d := order.Digest(o)
	return d[:]
}

func callCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), callTimeout)
}

// unconfiguredInstance is an instance id the kit never configures.
const unconfiguredInstance = "plugintest-never-configured"

// isConfigError reports whether err refuses a configuration in the way
// the contract allows.
func isConfigError(res *pb.ConfigureResponse, err error) bool {
	if err != nil {
		return sdk.CodeOf(err) == sdk.CodeInvalidArgument
	}
	return sdk.HasErrors(res.GetDiagnostics())
}
