package ledger

import (
	"context"
	"errors"

	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
	"github.com/switchd/switchd/plugins/sdk"
)

// Operation names used as the second half of the idempotency key.
const (
	OpDebit  = "debit"
	OpCredit = "credit"
)

// OperationName returns the ledger's name for a wire operation.
func OperationName(op pb.Operation) (string, error) {
	switch op {
	case pb.Operation_OPERATION_DEBIT:
		return OpDebit, nil
	case pb.Operation_OPERATION_CREDIT:
		return OpCredit, nil
	}
	return "", sdk.InvalidArgument("operation", "must be OPERATION_DEBIT or OPERATION_CREDIT, got %s", op)
}

// MoneyResult converts r and the records that make it true to its wire
// form.
func MoneyResult(r Result, writes []*pb.StateWrite) *pb.MoneyResult {
	out := &pb.MoneyResult{
		StateWrites: writes,
		DeclineCode: r.DeclineCode,
		Reference:   r.Reference,
		AmountMinor: r.Amount,
		Currency:    r.Currency,
	}
	switch r.State {
	case StateApproved:
		out.State = pb.OperationState_OPERATION_STATE_APPROVED
	case StateDeclined:
		out.State = pb.OperationState_OPERATION_STATE_DECLINED
	case StateReversed:
		out.State = pb.OperationState_OPERATION_STATE_REVERSED
	default:
		out.State = pb.OperationState_OPERATION_STATE_NOT_FOUND
	}
	return out
}

// SDKError gives a ledger error the sdk code the host acts on: malformed
// input is InvalidArgument, an unknown account NotFound, a conflicting
// retry or a reversal of spent money FailedPrecondition, a cancelled or
// expired context keeps its own code, and anything else (a disk fault) is
// Unavailable, since every call is idempotent and may be retried.
func SDKError(err error) error {
	if err == nil {
		return nil
	}
	code := sdk.CodeUnavailable
	switch {
	case errors.Is(err, ErrInvalidTransfer):
		code = sdk.CodeInvalidArgument
	case errors.Is(err, ErrUnknownAccount):
		code = sdk.CodeNotFound
	case errors.Is(err, ErrConflict), errors.Is(err, ErrBelowFloor):
		code = sdk.CodeFailedPrecondition
	case errors.Is(err, context.DeadlineExceeded):
		code = sdk.CodeDeadlineExceeded
	}
	return &sdk.Error{Code: code, Msg: "ledger operation failed", Err: err}
}

// ReverseCall serves the PaymentMethod Reverse call against c.
func ReverseCall(ctx context.Context, c Core, req *pb.ReverseRequest) (*pb.MoneyResult, error) {
	op, err := OperationName(req.GetOperation())
	if err != nil {
		return nil, err
	}
	if req.GetPaymentId() == "" {
		return nil, sdk.InvalidArgument("payment_id", "is required")
	}
	r, w, err := c.Reverse(ctx, req.GetPaymentId(), op)
	if err != nil {
		return nil, SDKError(err)
	}
	return MoneyResult(r, w), nil
}

// StatusCall serves the PaymentMethod GetOperationStatus call against c.
func StatusCall(ctx context.Context, c Core, req *pb.OperationStatusRequest) (*pb.MoneyResult, error) {
	op, err := OperationName(req.GetOperation())
	if err != nil {
		return nil, err
	}
	if req.GetPaymentId() == "" {
		return nil, sdk.InvalidArgument("payment_id", "is required")
	}
	r, w, err := c.Status(ctx, req.GetPaymentId(), op)
	if err != nil {
		return nil, SDKError(err)
	}
	return MoneyResult(r, w), nil
}
