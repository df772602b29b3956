package outbox

import "errors"

// ErrNoHandler is returned (as a permanent failure, recorded as the
// message's last error) when no handler is registered for a message's kind.
var ErrNoHandler = errors.New("outbox: no handler for message kind")

// ErrNoEndpoint is returned by the webhook handler when the merchant has
// no webhook URL and secret configured.
var ErrNoEndpoint = errors.New("outbox: merchant has no webhook endpoint")

// ErrStatus is wrapped by the webhook handler's error when the receiver
// answers with a non-2xx status.
var ErrStatus = errors.New("outbox: webhook receiver answered with an error status")

// permanentError marks a delivery failure not worth retrying.
type permanentError struct{ err error }

func (p *permanentError) Error() string { return "permanent: " + p.err.Error() }
func (p *permanentError) Unwrap() error { return p.err }

// Permanent marks err as a failure that retrying cannot fix (the receiver
// rejected the message): the worker gives the message up at once.
// Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err: err}
}

// IsPermanent reports whether err, or an error it wraps, was marked with
// Permanent.
func IsPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}
