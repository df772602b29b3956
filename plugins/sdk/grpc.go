package sdk

import (
	"context"
	"errors"
	"io"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
	"github.com/switchd/switchd/plugins/sdk/order"
)

// Handshake is the go-plugin handshake shared by the host and every plugin.
// The magic cookie only gives a friendly error when a plugin binary is run
// by hand; it is not a security measure (digest pinning and mTLS are).
var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  ProtocolVersion,
	MagicCookieKey:   "SWITCHD_PLUGIN_MAGIC_COOKIE",
	MagicCookieValue: "b7f4c2e1-switchd-plugin-v1",
}

// PluginName is the single go-plugin name every switchd plugin is dispensed
// under. One gRPC connection carries the Plugin service plus whichever of
// Authenticator and PaymentMethod the plugin serves.
const PluginName = "switchd"

// GRPCPlugin is the go-plugin glue. On the plugin side Impl is the plugin;
// on the host side Impl is nil and GRPCClient returns a *Client.
type GRPCPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	Impl Plugin
}

// VersionedPlugins is the plugin set for each protocol version this SDK
// speaks, for go-plugin's VersionedPlugins on both sides.
func VersionedPlugins(impl Plugin) map[int]plugin.PluginSet {
	return map[int]plugin.PluginSet{
		ProtocolVersion: {PluginName: &GRPCPlugin{Impl: impl}},
	}
}

// GRPCServer registers the services Impl implements.
func (p *GRPCPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	RegisterServers(s, p.Impl)
	return nil
}

// GRPCClient returns a *Client over conn.
func (p *GRPCPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, conn *grpc.ClientConn) (any, error) {
	return NewClient(conn), nil
}

// RegisterServers registers impl's services on s: always Plugin, and
// Authenticator and PaymentMethod when impl implements them.
func RegisterServers(s grpc.ServiceRegistrar, impl Plugin) {
	pb.RegisterPluginServer(s, &pluginServer{impl: impl})
	if a, ok := impl.(Authenticator); ok {
		e, _ := impl.(Enroller)
		pb.RegisterAuthenticatorServer(s, &authServer{impl: a, enroll: e})
	}
	if m, ok := impl.(PaymentMethod); ok {
		pb.RegisterPaymentMethodServer(s, &methodServer{impl: m})
	}
}

// --- server side: gRPC -> Go ------------------------------------------------

type pluginServer struct {
	pb.UnimplementedPluginServer
	impl Plugin
}

func (s *pluginServer) GetInfo(ctx context.Context, r *pb.GetInfoRequest) (*pb.GetInfoResponse, error) {
	res, err := s.impl.GetInfo(ctx, r)
	return res, toStatus(err)
}

func (s *pluginServer) Configure(ctx context.Context, r *pb.ConfigureRequest) (*pb.ConfigureResponse, error) {
	res, err := s.impl.Configure(ctx, r)
	return res, toStatus(err)
}

// LoadState gathers the stream's chunks and hands them to the plugin's
// StateHolder in one call.
func (s *pluginServer) LoadState(stream pb.Plugin_LoadStateServer) error {
	h, ok := s.impl.(StateHolder)
	if !ok {
		return toStatus(&Error{Code: CodeUnimplemented, Msg: "this plugin keeps no state in the host"})
	}
	var instance string
	var records []*pb.StateWrite
	for {
		chunk, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		if instance == "" {
			instance = chunk.GetInstanceId()
		}
		if chunk.GetInstanceId() != instance {
			return toStatus(InvalidArgument("instance_id", "every chunk of one LoadState must name the same instance"))
		}
		records = append(records, chunk.GetRecords()...)
	}
	if instance == "" {
		return toStatus(InvalidArgument("instance_id", "missing"))
	}
	if err := h.LoadState(stream.Context(), instance, records); err != nil {
		return toStatus(err)
	}
	return stream.SendAndClose(&pb.LoadStateResponse{Records: uint64(len(records))})
}

// ExportState streams the plugin's exported records in chunks.
func (s *pluginServer) ExportState(r *pb.ExportStateRequest, stream pb.Plugin_ExportStateServer) error {
	h, ok := s.impl.(StateHolder)
	if !ok {
		return toStatus(&Error{Code: CodeUnimplemented, Msg: "this plugin keeps no state in the host"})
	}
	if r.GetInstanceId() == "" {
		return toStatus(InvalidArgument("instance_id", "missing"))
	}
	records, err := h.ExportState(stream.Context(), r.GetInstanceId(), r.GetDataDir())
	if err != nil {
		return toStatus(err)
	}
	for _, c := range StateChunks(records) {
		if err := stream.Send(&pb.ExportStateResponse{Records: c}); err != nil {
			return err
		}
	}
	return nil
}

// StateChunkBytes bounds the records of one LoadState or ExportState
// message, well under gRPC's 4 MiB message limit.
const StateChunkBytes = 1 << 20

// StateChunks splits records into runs of at most StateChunkBytes of keys
// and values (a single larger record is a run of its own).
func StateChunks(records []*pb.StateWrite) [][]*pb.StateWrite {
	var out [][]*pb.StateWrite
	start, size := 0, 0
	for i, r := range records {
		n := len(r.GetKey()) + len(r.GetValue()) + 8
		if i > start && size+n > StateChunkBytes {
			out = append(out, records[start:i])
			start, size = i, 0
		}
		size += n
	}
	if start < len(records) {
		out = append(out, records[start:])
	}
	return out
}

func (s *pluginServer) Health(ctx context.Context, r *pb.HealthRequest) (*pb.HealthResponse, error) {
	res, err := s.impl.Health(ctx, r)
	return res, toStatus(err)
}

func checkDigest(o *pb.Order, digest []byte) error {
	if o == nil {
		return toStatus(InvalidArgument("order", "missing"))
	}
	if err := order.Verify(o, digest); err != nil {
		return toStatus(InvalidArgument("order_digest", "does not match the order"))
	}
	return nil
}

type authServer struct {
	pb.UnimplementedAuthenticatorServer
	impl   Authenticator
	enroll Enroller
}

func (s *authServer) AuthenticateSeller(ctx context.Context, r *pb.AuthenticateSellerRequest) (*pb.AuthenticateSellerResponse, error) {
	if err := checkDigest(r.GetOrder(), r.GetOrderDigest()); err != nil {
		return nil, err
	}
	res, err := s.impl.AuthenticateSeller(ctx, r)
	return res, toStatus(err)
}

func (s *authServer) BeginMutualAuth(ctx context.Context, r *pb.BeginMutualAuthRequest) (*pb.BeginMutualAuthResponse, error) {
	if err := checkDigest(r.GetOrder(), r.GetOrderDigest()); err != nil {
		return nil, err
	}
	res, err := s.impl.BeginMutualAuth(ctx, r)
	return res, toStatus(err)
}

func (s *authServer) FinishMutualAuth(ctx context.Context, r *pb.FinishMutualAuthRequest) (*pb.FinishMutualAuthResponse, error) {
	if err := checkDigest(r.GetOrder(), r.GetOrderDigest()); err != nil {
		return nil, err
	}
	res, err := s.impl.FinishMutualAuth(ctx, r)
	return res, toStatus(err)
}

func (s *authServer) BeginEnrollment(ctx context.Context, r *pb.BeginEnrollmentRequest) (*pb.BeginEnrollmentResponse, error) {
	if s.enroll == nil {
		return nil, toStatus(&Error{Code: CodeUnimplemented, Msg: "this authenticator does not enrol credentials"})
	}
	res, err := s.enroll.BeginEnrollment(ctx, r)
	return res, toStatus(err)
}

func (s *authServer) FinishEnrollment(ctx context.Context, r *pb.FinishEnrollmentRequest) (*pb.FinishEnrollmentResponse, error) {
	if s.enroll == nil {
		return nil, toStatus(&Error{Code: CodeUnimplemented, Msg: "this authenticator does not enrol credentials"})
	}
	res, err := s.enroll.FinishEnrollment(ctx, r)
	return res, toStatus(err)
}

type methodServer struct {
	pb.UnimplementedPaymentMethodServer
	impl PaymentMethod
}

func (s *methodServer) ResolveInstrument(ctx context.Context, r *pb.ResolveInstrumentRequest) (*pb.ResolveInstrumentResponse, error) {
	res, err := s.impl.ResolveInstrument(ctx, r)
	return res, toStatus(err)
}

func (s *methodServer) Debit(ctx context.Context, r *pb.DebitRequest) (*pb.MoneyResult, error) {
	if err := checkDigest(r.GetOrder(), r.GetOrderDigest()); err != nil {
		return nil, err
	}
	res, err := s.impl.Debit(ctx, r)
	return res, toStatus(err)
}

func (s *methodServer) Credit(ctx context.Context, r *pb.CreditRequest) (*pb.MoneyResult, error) {
	if err := checkDigest(r.GetOrder(), r.GetOrderDigest()); err != nil {
		return nil, err
	}
	res, err := s.impl.Credit(ctx, r)
	return res, toStatus(err)
}

func (s *methodServer) Reverse(ctx context.Context, r *pb.ReverseRequest) (*pb.MoneyResult, error) {
	res, err := s.impl.Reverse(ctx, r)
	return res, toStatus(err)
}

func (s *methodServer) GetOperationStatus(ctx context.Context, r *pb.OperationStatusRequest) (*pb.MoneyResult, error) {
	res, err := s.impl.GetOperationStatus(ctx, r)
	return res, toStatus(err)
}

// --- client side: Go -> gRPC ------------------------------------------------

// Client is the host's view of one plugin process. It implements Plugin,
// Authenticator, Enroller and PaymentMethod; calls to a service the plugin
// does not serve fail with CodeUnimplemented. Every error it returns is an
// *Error whose Code reflects the gRPC status.
type Client struct {
	plugin pb.PluginClient
	auth   pb.AuthenticatorClient
	method pb.PaymentMethodClient
}

var (
	_ Authenticator = (*Client)(nil)
	_ Enroller      = (*Client)(nil)
	_ PaymentMethod = (*Client)(nil)
	_ StateHolder   = (*Client)(nil)
)

// NewClient returns a Client over conn.
func NewClient(conn grpc.ClientConnInterface) *Client {
	return &Client{
		plugin: pb.NewPluginClient(conn),
		auth:   pb.NewAuthenticatorClient(conn),
		method: pb.NewPaymentMethodClient(conn),
	}
}

func wrap[T any](res T, err error) (T, error) {
	if err != nil {
		var zero T
		return zero, fromStatus(err)
	}
	return res, nil
}

// GetInfo calls the plugin's GetInfo.
func (c *Client) GetInfo(ctx context.Context, r *pb.GetInfoRequest) (*pb.GetInfoResponse, error) {
	return wrap(c.plugin.GetInfo(ctx, r))
}

// Configure calls the plugin's Configure.
func (c *Client) Configure(ctx context.Context, r *pb.ConfigureRequest) (*pb.ConfigureResponse, error) {
	return wrap(c.plugin.Configure(ctx, r))
}

// Health calls the plugin's Health.
func (c *Client) Health(ctx context.Context, r *pb.HealthRequest) (*pb.HealthResponse, error) {
	return wrap(c.plugin.Health(ctx, r))
}

// LoadState streams an instance's records to the plugin (see StateHolder).
// An instance with no records is sent as one empty chunk, so the plugin
// still learns that its state is empty.
func (c *Client) LoadState(ctx context.Context, instanceID string, records []*pb.StateWrite) error {
	stream, err := c.plugin.LoadState(ctx)
	if err != nil {
		return fromStatus(err)
	}
	chunks := StateChunks(records)
	if len(chunks) == 0 {
		chunks = [][]*pb.StateWrite{nil}
	}
	for _, ch := range chunks {
		if err := stream.Send(&pb.LoadStateRequest{InstanceId: instanceID, Records: ch}); err != nil {
			if errors.Is(err, io.EOF) {
				break // the plugin answered early; CloseAndRecv has its error
			}
			return fromStatus(err)
		}
	}
	if _, err := stream.CloseAndRecv(); err != nil {
		return fromStatus(err)
	}
	return nil
}

// ExportState gathers the records the plugin exports for instanceID.
func (c *Client) ExportState(ctx context.Context, instanceID, dataDir string) ([]*pb.StateWrite, error) {
	stream, err := c.plugin.ExportState(ctx, &pb.ExportStateRequest{InstanceId: instanceID, DataDir: dataDir})
	if err != nil {
		return nil, fromStatus(err)
	}
	var out []*pb.StateWrite
	for {
		chunk, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fromStatus(err)
		}
		out = append(out, chunk.GetRecords()...)
	}
}

// AuthenticateSeller calls step B.
func (c *Client) AuthenticateSeller(ctx context.Context, r *pb.AuthenticateSellerRequest) (*pb.AuthenticateSellerResponse, error) {
	return wrap(c.auth.AuthenticateSeller(ctx, r))
}

// BeginMutualAuth calls the first half of step C.
func (c *Client) BeginMutualAuth(ctx context.Context, r *pb.BeginMutualAuthRequest) (*pb.BeginMutualAuthResponse, error) {
	return wrap(c.auth.BeginMutualAuth(ctx, r))
}

// FinishMutualAuth calls the second half of step C.
func (c *Client) FinishMutualAuth(ctx context.Context, r *pb.FinishMutualAuthRequest) (*pb.FinishMutualAuthResponse, error) {
	return wrap(c.auth.FinishMutualAuth(ctx, r))
}

// BeginEnrollment calls BeginEnrollment.
func (c *Client) BeginEnrollment(ctx context.Context, r *pb.BeginEnrollmentRequest) (*pb.BeginEnrollmentResponse, error) {
	return wrap(c.auth.BeginEnrollment(ctx, r))
}

// FinishEnrollment calls FinishEnrollment.
func (c *Client) FinishEnrollment(ctx context.Context, r *pb.FinishEnrollmentRequest) (*pb.FinishEnrollmentResponse, error) {
	return wrap(c.auth.FinishEnrollment(ctx, r))
}

// ResolveInstrument calls step A's instrument check.
func (c *Client) ResolveInstrument(ctx context.Context, r *pb.ResolveInstrumentRequest) (*pb.ResolveInstrumentResponse, error) {
	return wrap(c.method.ResolveInstrument(ctx, r))
}

// Debit calls the issuer-side debit.
func (c *Client) Debit(ctx context.Context, r *pb.DebitRequest) (*pb.MoneyResult, error) {
	return wrap(c.method.Debit(ctx, r))
}

// Credit calls the acquirer-side credit.
func (c *Client) Credit(ctx context.Context, r *pb.CreditRequest) (*pb.MoneyResult, error) {
	return wrap(c.method.Credit(ctx, r))
}

// Reverse calls Reverse.
func (c *Client) Reverse(ctx context.Context, r *pb.ReverseRequest) (*pb.MoneyResult, error) {
	return wrap(c.method.Reverse(ctx, r))
}

// GetOperationStatus calls GetOperationStatus.
func (c *Client) GetOperationStatus(ctx context.Context, r *pb.OperationStatusRequest) (*pb.MoneyResult, error) {
	return wrap(c.method.GetOperationStatus(ctx, r))
}
