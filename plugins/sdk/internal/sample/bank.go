package sample

import (
	"context"
	"sync"
	"time"

	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
	"github.com/switchd/switchd/plugins/sdk"
)

// bank is what the two bank-transfer methods, Method and StateMethod,
// share: their flaws, their configured instances, and the calls whose
// logic does not depend on where the ledger is kept.
type bank[L book] struct {
	flaws Flaw
	mu    sync.Mutex
	inst  map[string]*instance[L] // configured instances
	// blank, when set, is the instance the ServesUnconfigured flaw serves
	// for an instance that was never configured.
	blank func() *instance[L]
}

// book is the ledger of a bank-transfer method's instance.
type book interface {
	// holds reports whether the ledger has the account.
	holds(number string) bool
	// ops are the ledger's operations, by opKey.
	ops() map[string]*operation
}

// instance is a configured instance of a bank-transfer method.
type instance[L book] struct {
	dataDir string
	latency time.Duration
	tokens  map[string]string // token -> account number
	led     L
}

func newBank[L book](flaws Flaw) bank[L] {
	return bank[L]{flaws: flaws, inst: map[string]*instance[L]{}}
}

// instance returns the configured instance; the caller holds b.mu.
func (b *bank[L]) instance(id string) (*instance[L], error) {
	in, ok := b.inst[id]
	if !ok && b.blank != nil && b.flaws&ServesUnconfigured != 0 {
		return b.blank(), nil
	}
	if !ok {
		return in, sdk.FailedPrecondition("instance %q is not configured", id)
	}
	return in, nil
}

// Health reports serving once the instance is configured.
func (b *bank[L]) Health(_ context.Context, req *pb.HealthRequest) (*pb.HealthResponse, error) {
	return health(req, func(id string) bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		return b.inst[id] != nil
	}), nil
}

// health answers Health for the sample plugins: serving for the plugin
// (no instance), and for an instance once configured says it is.
func health(req *pb.HealthRequest, configured func(id string) bool) *pb.HealthResponse {
	if req.GetInstanceId() != "" && !configured(req.GetInstanceId()) {
		return &pb.HealthResponse{Message: "not configured"}
	}
	return &pb.HealthResponse{Serving: true}
}

// ResolveInstrument checks that the account exists and tokenizes it.
func (b *bank[L]) ResolveInstrument(_ context.Context, req *pb.ResolveInstrumentRequest) (*pb.ResolveInstrumentResponse, error) {
	acct := req.GetAccount()
	if acct == nil {
		return nil, sdk.InvalidArgument("account", "a bank-transfer instrument is required")
	}
	if !digitsRe.MatchString(acct.GetAccountNumber()) {
		return nil, sdk.InvalidArgument("account.account_number", "must be 4 to 34 digits")
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	in, err := b.instance(req.GetInstanceId())
	if err != nil {
		return nil, err
	}
	n := acct.GetAccountNumber()
	if !in.led.holds(n) {
		return &pb.ResolveInstrumentResponse{Verdict: pb.Verdict_VERDICT_DECLINED, DeclineCode: sdk.DeclineUnknownAccount}, nil
	}
	tok := token(req.GetInstanceId(), n)
	return &pb.ResolveInstrumentResponse{Verdict: pb.Verdict_VERDICT_APPROVED, Token: tok, Display: "···· " + n[len(n)-4:],
		Last4: n[len(n)-4:], PayerRef: tok}, nil
}

// moving checks the order a Debit or Credit moves, waits out the
// instance's simulated latency without holding b.mu, then calls fn under
// b.mu with the instance and the operation's key.
func (b *bank[L]) moving(ctx context.Context, id string, op pb.Operation, o *pb.Order, fn func(in *instance[L], key string) (*pb.MoneyResult, error)) (*pb.MoneyResult, error) {
	if o.GetAmountMinor() <= 0 {
		return nil, sdk.InvalidArgument("order.amount_minor", "must be positive")
	}
	if o.GetPaymentId() == "" {
		return nil, sdk.InvalidArgument("order.payment_id", "required")
	}
	b.mu.Lock()
	in, err := b.instance(id)
	b.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if err := wait(ctx, in.latency, b.flaws); err != nil {
		return nil, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return fn(in, opKey(op, o.GetPaymentId()))
}

// withOperation calls fn under b.mu with the instance's record of an
// operation and its key; without a record the answer is NOT_FOUND.
func (b *bank[L]) withOperation(id string, op pb.Operation, paymentID string, fn func(in *instance[L], key string, rec *operation) (*pb.MoneyResult, error)) (*pb.MoneyResult, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	in, err := b.instance(id)
	if err != nil {
		return nil, err
	}
	key := opKey(op, paymentID)
	rec, ok := in.led.ops()[key]
	if !ok {
		return &pb.MoneyResult{State: pb.OperationState_OPERATION_STATE_NOT_FOUND}, nil
	}
	return fn(in, key, rec)
}

// sign is the sign an operation moves money with: -1 debit, +1 credit.
func sign(op pb.Operation) int64 {
	if op == pb.Operation_OPERATION_DEBIT {
		return -1
	}
	return 1
}

// decide is the outcome of moving o's amount with sign s on an account
// with currency and balance; known says the ledger holds the account.
func decide(known bool, currency string, balance, s int64, o *pb.Order) (pb.OperationState, string) {
	switch {
	case !known:
		return pb.OperationState_OPERATION_STATE_DECLINED, sdk.DeclineUnknownAccount
	case currency != o.GetCurrency():
		return pb.OperationState_OPERATION_STATE_DECLINED, sdk.DeclineCurrency
	case s < 0 && balance < o.GetAmountMinor():
		return pb.OperationState_OPERATION_STATE_DECLINED, sdk.DeclineInsufficientFunds
	}
	return pb.OperationState_OPERATION_STATE_APPROVED, ""
}
