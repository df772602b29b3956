package sdk

import (
	"context"

	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
)

// ProtocolVersion is the plugin contract version this SDK speaks.
const ProtocolVersion = 1

// Capabilities a plugin may list in GetInfoResponse.capabilities.
const (
	// CapEnrollment means the authenticator serves BeginEnrollment and
	// FinishEnrollment.
	CapEnrollment = "enrollment"
	// CapSellerAuth means the authenticator serves step B.
	CapSellerAuth = "seller_auth"
	// CapMutualAuth means the authenticator serves step C.
	CapMutualAuth = "mutual_auth"
	// CapReverse means the payment method can reverse operations.
	CapReverse = "reverse"
	// CapHostState means the plugin keeps its durable state in the host's
	// database: it implements StateHolder, returns the records each answer
	// changes as state_writes, and opens no state file of its own. The host
	// commits those writes before it acts on the answer, in its own batched
	// commits, so the plugin's answers cost no fsync of their own.
	CapHostState = "host_state"
)

// StateHolder is implemented by a plugin that lists CapHostState. The
// contract is in the .proto (LoadState, ExportState, StateWrite). In short:
//   - the plugin applies a change to its working state before it answers,
//     and returns the records that make the answer true in state_writes;
//   - nothing it returned is durable until the host has committed it, and
//     the host commits before it acts on the answer;
//   - after a restart the host loads what it committed, so a change whose
//     answer never reached the host is gone on both sides;
//   - an error answer carries no writes and must change nothing.
type StateHolder interface {
	// LoadState replaces the working state of instanceID with records, in
	// key order. It is called before the instance's first Configure in
	// each process.
	LoadState(ctx context.Context, instanceID string, records []*pb.StateWrite) error
	// ExportState returns the records of the instance's state that an
	// earlier version of the plugin kept in its own files under dataDir, or
	// nil. See the .proto for when it is called.
	ExportState(ctx context.Context, instanceID, dataDir string) ([]*pb.StateWrite, error)
}

// Plugin is what every plugin serves.
type Plugin interface {
	// GetInfo describes the plugin. It must not depend on configuration.
	GetInfo(ctx context.Context, req *pb.GetInfoRequest) (*pb.GetInfoResponse, error)
	// Configure applies one institution's settings (see the .proto).
	Configure(ctx context.Context, req *pb.ConfigureRequest) (*pb.ConfigureResponse, error)
	// Health reports whether the plugin can serve.
	Health(ctx context.Context, req *pb.HealthRequest) (*pb.HealthResponse, error)
}

// Authenticator is a bank's authenticator: step B on the acquirer's side and
// step C on the issuer's side.
type Authenticator interface {
	Plugin
	// AuthenticateSeller checks the seller and the order it signed (step B).
	AuthenticateSeller(ctx context.Context, req *pb.AuthenticateSellerRequest) (*pb.AuthenticateSellerResponse, error)
	// BeginMutualAuth answers the payer's challenge and poses the issuer's
	// (step C, first half).
	BeginMutualAuth(ctx context.Context, req *pb.BeginMutualAuthRequest) (*pb.BeginMutualAuthResponse, error)
	// FinishMutualAuth verifies the payer's answer (step C, second half).
	FinishMutualAuth(ctx context.Context, req *pb.FinishMutualAuthRequest) (*pb.FinishMutualAuthResponse, error)
}

// Enroller is optionally implemented by an Authenticator that can enrol payer
// credentials. An authenticator that does not implement it answers
// Unimplemented to enrolment calls.
type Enroller interface {
	// BeginEnrollment starts enrolment of a payer credential.
	BeginEnrollment(ctx context.Context, req *pb.BeginEnrollmentRequest) (*pb.BeginEnrollmentResponse, error)
	// FinishEnrollment completes it.
	FinishEnrollment(ctx context.Context, req *pb.FinishEnrollmentRequest) (*pb.FinishEnrollmentResponse, error)
}

// PaymentMethod moves money: step A's instrument check and step D's debit
// and credit, with reversal and a status query. Every call that moves money
// is idempotent on the payment id.
type PaymentMethod interface {
	Plugin
	// ResolveInstrument validates and tokenizes the payer's instrument.
	ResolveInstrument(ctx context.Context, req *pb.ResolveInstrumentRequest) (*pb.ResolveInstrumentResponse, error)
	// Debit takes the money from the payer (issuer side).
	Debit(ctx context.Context, req *pb.DebitRequest) (*pb.MoneyResult, error)
	// Credit records the money for the seller (acquirer side).
	Credit(ctx context.Context, req *pb.CreditRequest) (*pb.MoneyResult, error)
	// Reverse puts back an earlier Debit or Credit.
	Reverse(ctx context.Context, req *pb.ReverseRequest) (*pb.MoneyResult, error)
	// GetOperationStatus reports what happened to an operation.
	GetOperationStatus(ctx context.Context, req *pb.OperationStatusRequest) (*pb.MoneyResult, error)
}
