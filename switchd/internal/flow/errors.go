package flow

import (
	"errors"
	"fmt"
)

// Error codes. They are stable: the HTTP API maps them to problem types.
const (
	CodeNotFound            = "not_found"
	CodeInvalidRequest      = "invalid_request"
	CodeIdempotencyConflict = "idempotency_conflict"
	CodeUnroutable          = "unroutable"
	CodeInvalidState        = "invalid_state"
	CodePaymentExpired      = "payment_expired"
	CodePaymentFinal        = "payment_final"
	CodeDeclined            = "declined"
	CodePluginUnavailable   = "plugin_unavailable"
	CodeInternal            = "internal"
)

// Error is every error the engine returns to its callers. Code is stable;
// Msg is safe to show (it never holds a card number or a secret); Field
// names the offending input, if any.
type Error struct {
	Code  string
	Msg   string
	Field string
	Err   error
}

func (e *Error) Error() string {
	s := "flow: " + e.Code
	if e.Field != "" {
		s += ": " + e.Field
	}
	if e.Msg != "" {
		s += ": " + e.Msg
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Is matches any *Error with the same Code, so errors.Is(err, ErrNotFound)
// works for every not-found error.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// Sentinels, one per code, for errors.Is.
var (
	// ErrNotFound is returned when a payment, token or outbox message does
	// not exist or belongs to another merchant.
	ErrNotFound = &Error{Code: CodeNotFound, Msg: "not found"}
	// ErrInvalidRequest is returned for malformed input; nothing changes.
	ErrInvalidRequest = &Error{Code: CodeInvalidRequest, Msg: "invalid request"}
	// ErrIdempotencyConflict is returned when an idempotency key is reused
	// with a different request body.
	ErrIdempotencyConflict = &Error{Code: CodeIdempotencyConflict, Msg: "idempotency key reused with a different request"}
	// ErrUnroutable is returned at step A when no issuer serves the card BIN
	// or bank code; nothing is charged and the state is unchanged.
	ErrUnroutable = &Error{Code: CodeUnroutable, Msg: "no issuer serves this instrument"}
	// ErrInvalidState is returned when the payment's state does not allow
	// the operation.
	ErrInvalidState = &Error{Code: CodeInvalidState, Msg: "operation not allowed in this state"}
	// ErrPaymentExpired is returned when the payment is past its expiry.
	ErrPaymentExpired = &Error{Code: CodePaymentExpired, Msg: "payment expired"}
	// ErrPaymentFinal is returned when the payment already reached a final
	// state.
	ErrPaymentFinal = &Error{Code: CodePaymentFinal, Msg: "payment is final"}
	// ErrDeclined is returned when a step declined; Msg holds the decline
	// code.
	ErrDeclined = &Error{Code: CodeDeclined, Msg: "declined"}
	// ErrPluginUnavailable is returned when an institution's plugin could
	// not be reached (after one retry).
	ErrPluginUnavailable = &Error{Code: CodePluginUnavailable, Msg: "institution temporarily unavailable"}
	// ErrInternal is returned for unexpected faults.
	ErrInternal = &Error{Code: CodeInternal, Msg: "internal error"}
)

// errIllegalTransition is returned by the transition function for a
// (state, event) pair absent from the table. It is a bug or a lost race.
var errIllegalTransition = errors.New("flow: illegal transition")

// errAttestation is returned when an attestation does not verify.
var errAttestation = errors.New("flow: attestation does not verify")

func newErr(code, field, format string, args ...any) *Error {
	return &Error{Code: code, Field: field, Msg: fmt.Sprintf(format, args...)}
}

func invalid(field, format string, args ...any) *Error {
	return newErr(CodeInvalidRequest, field, format, args...)
}

func internal(err error) *Error {
	var fe *Error
	if errors.As(err, &fe) {
		return fe
	}
	return &Error{Code: CodeInternal, Msg: "internal error", Err: err}
}
