package store

import "errors"

// ErrNotFound is returned when a payment, idempotency record or outbox
// message does not exist.
var ErrNotFound = errors.New("store: not found")

// ErrClosed is returned when the store has been closed.
var ErrClosed = errors.New("store: closed")
