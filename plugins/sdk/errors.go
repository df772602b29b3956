package sdk

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Code classifies an error so that a decline, a temporary outage and invalid
// input stay distinct from the plugin all the way to the host.
type Code int

// Codes, each mapped to one gRPC status code on the wire.
const (
	// CodeInternal is a bug or unexpected fault (codes.Internal).
	CodeInternal Code = iota
	// CodeInvalidArgument is malformed input; retrying will not help
	// (codes.InvalidArgument).
	CodeInvalidArgument
	// CodeFailedPrecondition means the instance is not configured or state
	// forbids the call (codes.FailedPrecondition).
	CodeFailedPrecondition
	// CodeNotFound means a referenced payer, credential or operation is
	// unknown (codes.NotFound).
	CodeNotFound
	// CodeUnavailable is a temporary outage, including a plugin process that
	// died mid-call; the same call may be retried (codes.Unavailable).
	CodeUnavailable
	// CodeDeadlineExceeded means the call's deadline ran out
	// (codes.DeadlineExceeded).
	CodeDeadlineExceeded
	// CodeUnimplemented is an optional RPC the plugin does not offer
	// (codes.Unimplemented).
	CodeUnimplemented
)

var codeNames = [...]string{"internal", "invalid_argument", "failed_precondition", "not_found", "unavailable", "deadline_exceeded", "unimplemented"}

func (c Code) String() string {
	if c >= 0 && int(c) < len(codeNames) {
		return codeNames[c]
	}
	return fmt.Sprintf("code(%d)", int(c))
}

var toGRPC = [...]codes.Code{codes.Internal, codes.InvalidArgument, codes.FailedPrecondition, codes.NotFound, codes.Unavailable, codes.DeadlineExceeded, codes.Unimplemented}

// Sentinel errors, one per Code, for errors.Is. An *Error matches the
// sentinel of its code.
var (
	// ErrInternal is matched by errors of CodeInternal.
	ErrInternal = &Error{Code: CodeInternal, Msg: "internal error"}
	// ErrInvalidArgument is matched by errors of CodeInvalidArgument.
	ErrInvalidArgument = &Error{Code: CodeInvalidArgument, Msg: "invalid argument"}
	// ErrFailedPrecondition is matched by errors of CodeFailedPrecondition.
	ErrFailedPrecondition = &Error{Code: CodeFailedPrecondition, Msg: "failed precondition"}
	// ErrNotFound is matched by errors of CodeNotFound.
	ErrNotFound = &Error{Code: CodeNotFound, Msg: "not found"}
	// ErrUnavailable is matched by errors of CodeUnavailable.
	ErrUnavailable = &Error{Code: CodeUnavailable, Msg: "unavailable"}
	// ErrDeadlineExceeded is matched by errors of CodeDeadlineExceeded.
	ErrDeadlineExceeded = &Error{Code: CodeDeadlineExceeded, Msg: "deadline exceeded"}
	// ErrUnimplemented is matched by errors of CodeUnimplemented.
	ErrUnimplemented = &Error{Code: CodeUnimplemented, Msg: "unimplemented"}
)

// Error is a typed plugin error. Field names the offending input, if any.
// Msg must never contain a card number or a secret.
type Error struct {
	Code  Code
	Field string
	Msg   string
	Err   error
}

func (e *Error) Error() string {
	s := e.Code.String() + ": " + e.Msg
	if e.Field != "" {
		s = e.Code.String() + ": " + e.Field + ": " + e.Msg
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the wrapped cause.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is the sentinel of e's code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Field == "" && t.Err == nil && t.Code == e.Code && (t == sentinel(t.Code))
}

func sentinel(c Code) *Error {
	switch c {
	case CodeInvalidArgument:
		return ErrInvalidArgument
	case CodeFailedPrecondition:
		return ErrFailedPrecondition
	case CodeNotFound:
		return ErrNotFound
	case CodeUnavailable:
		return ErrUnavailable
	case CodeDeadlineExceeded:
		return ErrDeadlineExceeded
	case CodeUnimplemented:
		return ErrUnimplemented
	}
	return ErrInternal
}

// InvalidArgument reports malformed input in field.
func InvalidArgument(field, format string, args ...any) error {
	return &Error{Code: CodeInvalidArgument, Field: field, Msg: fmt.Sprintf(format, args...)}
}

// FailedPrecondition reports that state forbids the call.
func FailedPrecondition(format string, args ...any) error {
	return &Error{Code: CodeFailedPrecondition, Msg: fmt.Sprintf(format, args...)}
}

// NotFound reports that something referenced does not exist.
func NotFound(format string, args ...any) error {
	return &Error{Code: CodeNotFound, Msg: fmt.Sprintf(format, args...)}
}

// Unavailable reports a temporary outage caused by err; the call may be
// retried.
func Unavailable(err error) error {
	return &Error{Code: CodeUnavailable, Msg: "temporarily unavailable", Err: err}
}

// Internal reports an unexpected fault caused by err.
func Internal(err error) error {
	return &Error{Code: CodeInternal, Msg: "internal error", Err: err}
}

// CodeOf returns the Code of err: the code of an *Error in its chain, the
// code of a gRPC status, or CodeDeadlineExceeded for context errors.
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return CodeDeadlineExceeded
	}
	if errors.Is(err, context.Canceled) {
		return CodeUnavailable
	}
	if s, ok := status.FromError(err); ok {
		return fromGRPC(s.Code())
	}
	return CodeInternal
}

// IsRetryable reports whether the same call may be retried: an outage or a
// plugin restart (CodeUnavailable). A deadline is not retryable within the
// same payment deadline.
func IsRetryable(err error) bool { return err != nil && CodeOf(err) == CodeUnavailable }

func fromGRPC(c codes.Code) Code {
	switch c {
	case codes.InvalidArgument, codes.OutOfRange:
		return CodeInvalidArgument
	case codes.FailedPrecondition, codes.AlreadyExists, codes.Aborted:
		return CodeFailedPrecondition
	case codes.NotFound:
		return CodeNotFound
	case codes.Unavailable, codes.ResourceExhausted, codes.Canceled:
		return CodeUnavailable
	case codes.DeadlineExceeded:
		return CodeDeadlineExceeded
	case codes.Unimplemented:
		return CodeUnimplemented
	}
	return CodeInternal
}

// toStatus turns an error returned by a plugin implementation into a gRPC
// status error. Only the message of a typed error crosses the wire.
func toStatus(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		var e *Error
		if !errors.As(err, &e) {
			return err
		}
	}
	c := CodeOf(err)
	msg := err.Error()
	var e *Error
	if errors.As(err, &e) {
		msg = e.Msg
		if e.Field != "" {
			msg = e.Field + ": " + e.Msg
		}
		if e.Err != nil {
			msg += ": " + e.Err.Error()
		}
	}
	gc := codes.Internal // a Code this SDK does not know must not crash the plugin
	if c >= 0 && int(c) < len(toGRPC) {
		gc = toGRPC[c]
	}
	return status.Error(gc, msg)
}

// fromStatus turns a gRPC error received by the host into an *Error whose
// Code matches the status code, wrapping the original.
func fromStatus(err error) error {
	if err == nil {
		return nil
	}
	s, ok := status.FromError(err)
	if !ok {
		return &Error{Code: CodeOf(err), Msg: "plugin call failed", Err: err}
	}
	return &Error{Code: fromGRPC(s.Code()), Msg: s.Message()}
}
