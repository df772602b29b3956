package api

import (
	"errors"
	"net/http"
	"strings"

	"github.com/switchd/switchd/switchd/internal/flow"
)

// Problem codes: the stable, machine-readable `code` member of every error
// response. The problem `type` is ProblemTypeBase + code.
const (
	CodeUnauthorized          = "unauthorized"
	CodeNotFound              = "not_found"
	CodeMethodNotAllowed      = "method_not_allowed"
	CodeInvalidRequest        = "invalid_request"
	CodeUnknownField          = "unknown_field"
	CodeBodyTooLarge          = "body_too_large"
	CodeJSONTooDeep           = "json_too_deep"
	CodeUnsupportedMediaType  = "unsupported_media_type"
	CodeIdempotencyConflict   = "idempotency_conflict"
	CodeIdempotencyKeyInvalid = "idempotency_key_invalid"
	CodeUnroutable            = "unroutable"
	CodeInvalidState          = "invalid_state"
	CodePaymentExpired        = "payment_expired"
	CodePaymentFinal          = "payment_final"
	CodeDeclined              = "declined"
	CodeRateLimited           = "rate_limited"
	CodePluginUnavailable     = "plugin_unavailable"
	CodeNotReady              = "not_ready"
	CodeReloadFailed          = "reload_failed"
	CodeInternal              = "internal"
)

// ProblemTypeBase prefixes every problem type URI.
const ProblemTypeBase = "https://switchd.dev/problems/"

// problemKinds gives each code its HTTP status and title.
var problemKinds = map[string]struct {
	status int
	title  string
}{
	CodeUnauthorized:          {http.StatusUnauthorized, "Missing or invalid API key"},
	CodeNotFound:              {http.StatusNotFound, "Not found"},
	CodeMethodNotAllowed:      {http.StatusMethodNotAllowed, "Method not allowed"},
	CodeInvalidRequest:        {http.StatusBadRequest, "Invalid request"},
	CodeUnknownField:          {http.StatusBadRequest, "Unknown field"},
	CodeBodyTooLarge:          {http.StatusRequestEntityTooLarge, "Request body too large"},
	CodeJSONTooDeep:           {http.StatusBadRequest, "JSON nested too deeply"},
	CodeUnsupportedMediaType:  {http.StatusUnsupportedMediaType, "Unsupported media type"},
	CodeIdempotencyConflict:   {http.StatusConflict, "Idempotency key reused with a different request"},
	CodeIdempotencyKeyInvalid: {http.StatusBadRequest, "Invalid Idempotency-Key header"},
	CodeUnroutable:            {http.StatusUnprocessableEntity, "No institution serves this instrument"},
	CodeInvalidState:          {http.StatusConflict, "Not allowed in the payment's current state"},
	CodePaymentExpired:        {http.StatusGone, "Payment expired"},
	CodePaymentFinal:          {http.StatusConflict, "Payment already final"},
	CodeDeclined:              {http.StatusPaymentRequired, "Declined"},
	CodeRateLimited:           {http.StatusTooManyRequests, "Too many requests"},
	CodePluginUnavailable:     {http.StatusServiceUnavailable, "Institution temporarily unavailable"},
	CodeNotReady:              {http.StatusServiceUnavailable, "Not ready"},
	CodeReloadFailed:          {http.StatusUnprocessableEntity, "Configuration reload rejected"},
	CodeInternal:              {http.StatusInternalServerError, "Internal error"},
}

// Problem is an RFC 9457 problem details object, with switchd's extension
// members code, errors, decline_code and diagnostics.
type Problem struct {
	Type        string       `json:"type"`
	Title       string       `json:"title"`
	Status      int          `json:"status"`
	Detail      string       `json:"detail,omitempty"`
	Code        string       `json:"code"`
	Errors      []FieldError `json:"errors,omitempty"`
	DeclineCode string       `json:"decline_code,omitempty"`
	Diagnostics string       `json:"diagnostics,omitempty"`

	retryAfter string // Retry-After header value, for rate_limited
}

// FieldError names one invalid input field.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// newProblem builds a problem for code with a detail.
func newProblem(code, detail string) *Problem {
	k, ok := problemKinds[code]
	if !ok {
		code, k = CodeInternal, problemKinds[CodeInternal]
	}
	return &Problem{Type: ProblemTypeBase + code, Title: k.title, Status: k.status, Detail: detail, Code: code}
}

// invalidFields is a 400 invalid_request listing every bad field.
func invalidFields(errs []FieldError) *Problem {
	p := newProblem(CodeInvalidRequest, "The request has invalid fields; see errors.")
	p.Errors = errs
	return p
}

// notFound is the one not-found answer: it is byte-identical whether the
// resource does not exist or belongs to someone else.
func notFound() *Problem { return newProblem(CodeNotFound, "No such resource.") }

// writeProblem sends p as application/problem+json.
func writeProblem(w http.ResponseWriter, p *Problem) {
	h := w.Header()
	h["Content-Type"] = hdrProblem
	h["Cache-Control"] = hdrNoStore
	h["X-Content-Type-Options"] = hdrNosniff
	if p.retryAfter != "" {
		h.Set("Retry-After", p.retryAfter)
	}
	if p.Status == http.StatusUnauthorized {
		h.Set("WWW-Authenticate", `Bearer realm="switchd"`)
	}
	w.WriteHeader(p.Status)
	buf, err := encodeJSON(p)
	if err != nil { // a Problem holds only strings and ints
		return
	}
	_, _ = w.Write(buf.Bytes())
	putBuf(buf)
}

// engineProblem maps an error from the flow engine to a problem. Only
// *flow.Error messages are shown (the engine guarantees they are safe);
// anything else is an internal error with a generic detail. The secrets are
// scrubbed from the detail in case an input value was echoed.
func engineProblem(err error, secrets ...string) *Problem {
	var fe *flow.Error
	if !errors.As(err, &fe) {
		return newProblem(CodeInternal, "An unexpected error occurred.")
	}
	switch fe.Code {
	case CodeNotFound:
		return notFound()
	case CodeInternal:
		return newProblem(CodeInternal, "An unexpected error occurred.")
	}
	msg := redact(fe.Msg, secrets...)
	p := newProblem(fe.Code, msg)
	if fe.Code == CodeDeclined {
		p.DeclineCode = msg
		p.Detail = "The payment was declined."
	}
	if fe.Field != "" {
		p.Errors = []FieldError{{Field: fe.Field, Message: msg}}
	}
	return p
}

// redact replaces each non-empty secret in s.
func redact(s string, secrets ...string) string {
	for _, x := range secrets {
		if len(x) >= 4 {
			s = strings.ReplaceAll(s, x, "[redacted]")
		}
	}
	return s
}
