package sdk

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
	"github.com/switchd/switchd/plugins/sdk/order"
)

// recorder is a single-unit test double: an Authenticator and PaymentMethod
// that counts calls, remembers the deadline it saw and returns err.
type recorder struct {
	calls    atomic.Int32
	deadline atomic.Pointer[time.Time]
	err      error
}

func (r *recorder) seen(ctx context.Context) error {
	r.calls.Add(1)
	if d, ok := ctx.Deadline(); ok {
		r.deadline.Store(&d)
	}
	return r.err
}

func (r *recorder) GetInfo(ctx context.Context, _ *pb.GetInfoRequest) (*pb.GetInfoResponse, error) {
	return &pb.GetInfoResponse{Name: "rec"}, r.seen(ctx)
}
func (r *recorder) Configure(ctx context.Context, _ *pb.ConfigureRequest) (*pb.ConfigureResponse, error) {
	return &pb.ConfigureResponse{}, r.seen(ctx)
}
func (r *recorder) Health(ctx context.Context, _ *pb.HealthRequest) (*pb.HealthResponse, error) {
	return &pb.HealthResponse{Serving: true}, r.seen(ctx)
}
func (r *recorder) AuthenticateSeller(ctx context.Context, _ *pb.AuthenticateSellerRequest) (*pb.AuthenticateSellerResponse, error) {
	return &pb.AuthenticateSellerResponse{Verdict: pb.Verdict_VERDICT_APPROVED}, r.seen(ctx)
}
func (r *recorder) BeginMutualAuth(ctx context.Context, _ *pb.BeginMutualAuthRequest) (*pb.BeginMutualAuthResponse, error) {
	return &pb.BeginMutualAuthResponse{Mechanism: "rec"}, r.seen(ctx)
}
func (r *recorder) FinishMutualAuth(ctx context.Context, _ *pb.FinishMutualAuthRequest) (*pb.FinishMutualAuthResponse, error) {
	return &pb.FinishMutualAuthResponse{Verdict: pb.Verdict_VERDICT_APPROVED}, r.seen(ctx)
}
func (r *recorder) ResolveInstrument(ctx context.Context, _ *pb.ResolveInstrumentRequest) (*pb.ResolveInstrumentResponse, error) {
	return &pb.ResolveInstrumentResponse{Verdict: pb.Verdict_VERDICT_APPROVED}, r.seen(ctx)
}
func (r *recorder) Debit(ctx context.Context, _ *pb.DebitRequest) (*pb.MoneyResult, error) {
	return &pb.MoneyResult{State: pb.OperationState_OPERATION_STATE_APPROVED}, r.seen(ctx)
}
func (r *recorder) Credit(ctx context.Context, _ *pb.CreditRequest) (*pb.MoneyResult, error) {
	return &pb.MoneyResult{State: pb.OperationState_OPERATION_STATE_APPROVED}, r.seen(ctx)
}
func (r *recorder) Reverse(ctx context.Context, _ *pb.ReverseRequest) (*pb.MoneyResult, error) {
	return &pb.MoneyResult{State: pb.OperationState_OPERATION_STATE_REVERSED}, r.seen(ctx)
}
func (r *recorder) GetOperationStatus(ctx context.Context, _ *pb.OperationStatusRequest) (*pb.MoneyResult, error) {
	return &pb.MoneyResult{State: pb.OperationState_OPERATION_STATE_NOT_FOUND}, r.seen(ctx)
}

// enrollingRecorder adds enrolment.
type enrollingRecorder struct{ *recorder }

func (r enrollingRecorder) BeginEnrollment(ctx context.Context, _ *pb.BeginEnrollmentRequest) (*pb.BeginEnrollmentResponse, error) {
	return &pb.BeginEnrollmentResponse{Mechanism: "rec"}, r.seen(ctx)
}
func (r enrollingRecorder) FinishEnrollment(ctx context.Context, _ *pb.FinishEnrollmentRequest) (*pb.FinishEnrollmentResponse, error) {
	return &pb.FinishEnrollmentResponse{CredentialId: "c1"}, r.seen(ctx)
}

// authOnly serves only the Authenticator service.
type authOnly struct {
	Plugin
	a Authenticator
}

func (p authOnly) AuthenticateSeller(ctx context.Context, r *pb.AuthenticateSellerRequest) (*pb.AuthenticateSellerResponse, error) {
	return p.a.AuthenticateSeller(ctx, r)
}
func (p authOnly) BeginMutualAuth(ctx context.Context, r *pb.BeginMutualAuthRequest) (*pb.BeginMutualAuthResponse, error) {
	return p.a.BeginMutualAuth(ctx, r)
}
func (p authOnly) FinishMutualAuth(ctx context.Context, r *pb.FinishMutualAuthRequest) (*pb.FinishMutualAuthResponse, error) {
	return p.a.FinishMutualAuth(ctx, r)
}

// dial serves impl over an in-memory gRPC connection with the SDK's own
// adapters on both sides.
func dial(t *testing.T, impl Plugin) *Client { return dialB(t, impl) }

func dialB(t testing.TB, impl Plugin) *Client {
	t.Helper()
	lis := bufconn.Listen(1 << 20)
	srv := grpc.NewServer()
	RegisterServers(srv, impl)
	go func() { _ = srv.Serve(lis) }()
	conn, err := grpc.NewClient("passthrough:///bufconn",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(); srv.Stop() })
	return NewClient(conn)
}

func TestErrorRoundTrip(t *testing.T) {
	tests := []struct {
		name     string
		err      error
		want     Code
		wantMsg  string
		sentinel error
	}{
		{"internal", Internal(errors.New("disk on fire")), CodeInternal, "internal error: disk on fire", ErrInternal},
		{"invalid_argument", InvalidArgument("amount_minor", "must be positive, got %d", -1), CodeInvalidArgument, "amount_minor: must be positive, got -1", ErrInvalidArgument},
		{"failed_precondition", FailedPrecondition("instance %q is not configured", "bank-a"), CodeFailedPrecondition, `instance "bank-a" is not configured`, ErrFailedPrecondition},
		{"not_found", NotFound("payer %q", "alice"), CodeNotFound, `payer "alice"`, ErrNotFound},
		{"unavailable", Unavailable(errors.New("core system down")), CodeUnavailable, "temporarily unavailable: core system down", ErrUnavailable},
		{"deadline_exceeded", &Error{Code: CodeDeadlineExceeded, Msg: "backend slow"}, CodeDeadlineExceeded, "backend slow", ErrDeadlineExceeded},
		{"unimplemented", &Error{Code: CodeUnimplemented, Msg: "no refunds"}, CodeUnimplemented, "no refunds", ErrUnimplemented},
		{"wrapped typed error", fmt.Errorf("ledger: %w", NotFound("operation")), CodeNotFound, "operation", ErrNotFound},
		{"context deadline", fmt.Errorf("waiting for core: %w", context.DeadlineExceeded), CodeDeadlineExceeded, "context deadline exceeded", ErrDeadlineExceeded},
		{"context canceled", context.Canceled, CodeUnavailable, "context canceled", ErrUnavailable},
		{"plain error", errors.New("oops"), CodeInternal, "oops", ErrInternal},
		{"grpc status", status.Error(codes.ResourceExhausted, "slow down"), CodeUnavailable, "slow down", ErrUnavailable},
		{"out-of-range code", &Error{Code: Code(42), Msg: "made up"}, CodeInternal, "made up", ErrInternal},
		{"negative code", &Error{Code: Code(-1), Msg: "made up"}, CodeInternal, "made up", ErrInternal},
	}
	seen := map[Code]bool{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dial(t, &recorder{err: tt.err})
			_, err := c.Health(context.Background(), &pb.HealthRequest{})
			if err == nil {
				t.Fatal("no error reached the host")
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("host error %T is not an *Error", err)
			}
			if CodeOf(err) != tt.want {
				t.Errorf("CodeOf = %v, want %v", CodeOf(err), tt.want)
			}
			if !errors.Is(err, tt.sentinel) {
				t.Errorf("errors.Is(%v, %v) = false", err, tt.sentinel)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %q does not carry %q", err, tt.wantMsg)
			}
			if IsRetryable(err) != (tt.want == CodeUnavailable) {
				t.Errorf("IsRetryable = %v", IsRetryable(err))
			}
			seen[tt.want] = true
		})
	}
	for c := CodeInternal; c <= CodeUnimplemented; c++ {
		if !seen[c] {
			t.Errorf("code %v not covered", c)
		}
	}
}

func TestErrorIs(t *testing.T) {
	e := InvalidArgument("pan", "bad check digit")
	tests := []struct {
		name   string
		target error
		want   bool
	}{
		{"own sentinel", ErrInvalidArgument, true},
		{"other sentinel", ErrNotFound, false},
		{"non-sentinel of same code", &Error{Code: CodeInvalidArgument, Msg: "invalid argument"}, false},
		{"unrelated", errors.New("x"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := errors.Is(e, tt.target); got != tt.want {
				t.Errorf("errors.Is = %v, want %v", got, tt.want)
			}
		})
	}
	if got := Code(42).String(); got != "code(42)" {
		t.Errorf("Code(42).String() = %q", got)
	}
	if CodeOf(nil) != CodeInternal || IsRetryable(nil) {
		t.Error("nil error has a code or is retryable")
	}
}

func TestDeadlinePassesThrough(t *testing.T) {
	r := &recorder{}
	c := dial(t, r)
	t.Run("with deadline", func(t *testing.T) {
		want := time.Now().Add(42 * time.Second)
		ctx, cancel := context.WithDeadline(context.Background(), want)
		defer cancel()
		if _, err := c.Debit(ctx, validDebit()); err != nil {
			t.Fatal(err)
		}
		got := r.deadline.Load()
		if got == nil {
			t.Fatal("the plugin saw no deadline")
		}
		// gRPC sends the remaining time, so the server's deadline is the
		// caller's give or take the transit time.
		if diff := got.Sub(want).Abs(); diff > 2*time.Second {
			t.Errorf("plugin deadline %v, caller's %v", got, want)
		}
	})
	t.Run("expired deadline never reaches the plugin", func(t *testing.T) {
		before := r.calls.Load()
		ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
		defer cancel()
		_, err := c.Debit(ctx, validDebit())
		if CodeOf(err) != CodeDeadlineExceeded {
			t.Errorf("err = %v, want deadline_exceeded", err)
		}
		if r.calls.Load() != before {
			t.Error("the plugin ran a call whose deadline had passed")
		}
	})
}

func validOrder() *pb.Order {
	return &pb.Order{PaymentId: "pay_1", MerchantId: "shop", AcquirerId: "acq", IssuerId: "iss", AmountMinor: 1000,
		Currency: "EUR", Method: pb.Method_METHOD_CARD, OrderRef: "o1", ExpiresAtUnix: 1767225600}
}

func validDebit() *pb.DebitRequest {
	o := validOrder()
	d := order.Digest(o)
	return &pb.DebitRequest{InstanceId: "iss", Order: o, OrderDigest: d[:], Token: "tok"}
}

func TestDigestCheckedBeforeImplementation(t *testing.T) {
	o := validOrder()
	good := order.Digest(o)
	other := validOrder()
	other.AmountMinor++
	wrong := order.Digest(other)
	digests := []struct {
		name   string
		order  *pb.Order
		digest []byte
		ok     bool
	}{
		{"matching", o, good[:], true},
		{"other order's digest", o, wrong[:], false},
		{"truncated", o, good[:16], false},
		{"missing digest", o, nil, false},
		{"missing order", nil, good[:], false},
	}
	calls := []struct {
		name string
		call func(c *Client, o *pb.Order, d []byte) error
	}{
		{"AuthenticateSeller", func(c *Client, o *pb.Order, d []byte) error {
			_, err := c.AuthenticateSeller(context.Background(), &pb.AuthenticateSellerRequest{Order: o, OrderDigest: d})
			return err
		}},
		{"BeginMutualAuth", func(c *Client, o *pb.Order, d []byte) error {
			_, err := c.BeginMutualAuth(context.Background(), &pb.BeginMutualAuthRequest{Order: o, OrderDigest: d})
			return err
		}},
		{"FinishMutualAuth", func(c *Client, o *pb.Order, d []byte) error {
			_, err := c.FinishMutualAuth(context.Background(), &pb.FinishMutualAuthRequest{Order: o, OrderDigest: d})
			return err
		}},
		{"Debit", func(c *Client, o *pb.Order, d []byte) error {
			_, err := c.Debit(context.Background(), &pb.DebitRequest{Order: o, OrderDigest: d})
			return err
		}},
		{"Credit", func(c *Client, o *pb.Order, d []byte) error {
			_, err := c.Credit(context.Background(), &pb.CreditRequest{Order: o, OrderDigest: d})
			return err
		}},
	}
	for _, call := range calls {
		for _, d := range digests {
			t.Run(call.name+"/"+d.name, func(t *testing.T) {
				r := &recorder{}
				c := dial(t, r)
				err := call.call(c, d.order, d.digest)
				if d.ok {
					if err != nil || r.calls.Load() != 1 {
						t.Errorf("err = %v, calls = %d; want the call to reach the plugin", err, r.calls.Load())
					}
					return
				}
				if CodeOf(err) != CodeInvalidArgument {
					t.Errorf("err = %v, want invalid_argument", err)
				}
				if n := r.calls.Load(); n != 0 {
					t.Errorf("the implementation ran %d times", n)
				}
			})
		}
	}
}

func TestEnrollment(t *testing.T) {
	tests := []struct {
		name string
		impl Plugin
		want Code // CodeInternal here means success
	}{
		{"without Enroller", &recorder{}, CodeUnimplemented},
		{"with Enroller", enrollingRecorder{&recorder{}}, CodeInternal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dial(t, tt.impl)
			_, err1 := c.BeginEnrollment(context.Background(), &pb.BeginEnrollmentRequest{InstanceId: "iss"})
			_, err2 := c.FinishEnrollment(context.Background(), &pb.FinishEnrollmentRequest{InstanceId: "iss"})
			for _, err := range []error{err1, err2} {
				if tt.want == CodeInternal {
					if err != nil {
						t.Errorf("err = %v, want success", err)
					}
				} else if CodeOf(err) != tt.want || !errors.Is(err, ErrUnimplemented) {
					t.Errorf("err = %v, want %v", err, tt.want)
				}
			}
		})
	}
}

func TestServicesFollowImplementation(t *testing.T) {
	r := &recorder{}
	c := dial(t, authOnly{Plugin: r, a: r})
	if _, err := c.Health(context.Background(), &pb.HealthRequest{}); err != nil {
		t.Fatalf("Plugin service: %v", err)
	}
	o := validOrder()
	d := order.Digest(o)
	if _, err := c.FinishMutualAuth(context.Background(), &pb.FinishMutualAuthRequest{Order: o, OrderDigest: d[:]}); err != nil {
		t.Fatalf("Authenticator service: %v", err)
	}
	_, err := c.Debit(context.Background(), validDebit())
	if CodeOf(err) != CodeUnimplemented {
		t.Errorf("Debit on an authenticator-only plugin: %v, want unimplemented", err)
	}
}
