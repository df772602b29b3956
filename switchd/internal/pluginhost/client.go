package pluginhost

import (
	"context"

	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
	"github.com/switchd/switchd/plugins/sdk"
)

// client is the supervised view of one plugin: every call goes to the
// plugin's current process, under CallTimeout when ctx has no deadline.
// The answers that may carry state writes (AuthenticateSeller, Debit,
// Credit, Reverse, GetOperationStatus) go through stateCall.
type client struct{ s *supervised }

var (
	_ sdk.Authenticator = (*client)(nil)
	_ sdk.Enroller      = (*client)(nil)
	_ sdk.PaymentMethod = (*client)(nil)
)

// call runs fn on the current process. If the process died during the call,
// the error is a retryable sdk error (CodeUnavailable) wrapping
// ErrPluginExited; the plugin's watcher restarts it.
func call[Req, Res any](ctx context.Context, s *supervised, fn func(*sdk.Client, context.Context, Req) (Res, error), req Req) (Res, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.opts.CallTimeout)
		defer cancel()
	}
	p, err := s.acquire(ctx)
	if err != nil {
		var zero Res
		return zero, err
	}
	res, err := fn(p.conn, ctx, req)
	if err != nil && p.diedDuring(ctx, err) {
		s.markDown(p)
		return res, exitedErr(s.name, err)
	}
	return res, err
}

func (c *client) GetInfo(ctx context.Context, r *pb.GetInfoRequest) (*pb.GetInfoResponse, error) {
	return call(ctx, c.s, (*sdk.Client).GetInfo, r)
}

// Configure goes through the host, so the request is remembered for replay.
func (c *client) Configure(ctx context.Context, r *pb.ConfigureRequest) (*pb.ConfigureResponse, error) {
	if r.GetInstanceId() == "" {
		return nil, sdk.InvalidArgument("instance_id", "missing")
	}
	return c.s.configure(ctx, r)
}

func (c *client) Health(ctx context.Context, r *pb.HealthRequest) (*pb.HealthResponse, error) {
	ctx, cancel := context.WithTimeout(ctx, c.s.opts.HealthTimeout)
	defer cancel()
	return call(ctx, c.s, (*sdk.Client).Health, r)
}

func (c *client) AuthenticateSeller(ctx context.Context, r *pb.AuthenticateSellerRequest) (*pb.AuthenticateSellerResponse, error) {
	return stateCall(ctx, c.s, "AuthenticateSeller", (*sdk.Client).AuthenticateSeller, stripSeller, r)
}

func (c *client) BeginMutualAuth(ctx context.Context, r *pb.BeginMutualAuthRequest) (*pb.BeginMutualAuthResponse, error) {
	return call(ctx, c.s, (*sdk.Client).BeginMutualAuth, r)
}

func (c *client) FinishMutualAuth(ctx context.Context, r *pb.FinishMutualAuthRequest) (*pb.FinishMutualAuthResponse, error) {
	return call(ctx, c.s, (*sdk.Client).FinishMutualAuth, r)
}

func (c *client) BeginEnrollment(ctx context.Context, r *pb.BeginEnrollmentRequest) (*pb.BeginEnrollmentResponse, error) {
	return call(ctx, c.s, (*sdk.Client).BeginEnrollment, r)
}

func (c *client) FinishEnrollment(ctx context.Context, r *pb.FinishEnrollmentRequest) (*pb.FinishEnrollmentResponse, error) {
	return call(ctx, c.s, (*sdk.Client).FinishEnrollment, r)
}

func (c *client) ResolveInstrument(ctx context.Context, r *pb.ResolveInstrumentRequest) (*pb.ResolveInstrumentResponse, error) {
	return call(ctx, c.s, (*sdk.Client).ResolveInstrument, r)
}

func (c *client) Debit(ctx context.Context, r *pb.DebitRequest) (*pb.MoneyResult, error) {
	return stateCall(ctx, c.s, "Debit", (*sdk.Client).Debit, stripMoney, r)
}

func (c *client) Credit(ctx context.Context, r *pb.CreditRequest) (*pb.MoneyResult, error) {
	return stateCall(ctx, c.s, "Credit", (*sdk.Client).Credit, stripMoney, r)
}

func (c *client) Reverse(ctx context.Context, r *pb.ReverseRequest) (*pb.MoneyResult, error) {
	return stateCall(ctx, c.s, "Reverse", (*sdk.Client).Reverse, stripMoney, r)
}

func (c *client) GetOperationStatus(ctx context.Context, r *pb.OperationStatusRequest) (*pb.MoneyResult, error) {
	return stateCall(ctx, c.s, "GetOperationStatus", (*sdk.Client).GetOperationStatus, stripMoney, r)
}

func stripSeller(r *pb.AuthenticateSellerResponse) { r.StateWrites = nil }

func stripMoney(r *pb.MoneyResult) { r.StateWrites = nil }
