package store

import "errors"

// ErrNotFound is returned when a payment, idempotency record or outbox
// message does not exist.
var ErrNotFound = errors.New("store: not found")

// ErrClosed is returned when the store has been closed.
var ErrClosed = errors.New("store: closed")

// ErrInvalid is returned when a record to be written lacks a required
// field (an ID, a merchant); nothing is written.
var ErrInvalid = errors.New("store: invalid record")

// ErrExists is returned by Enqueue when a message with the same ID is
// already in the outbox, and by PutPayment when another payment already
// holds the same token hash.
var ErrExists = errors.New("store: already exists")

// ErrInvalidCursor is returned by ListPayments when the cursor is not a
// payment of that merchant.
var ErrInvalidCursor = errors.New("store: invalid cursor")

// ErrCorrupt is returned by Check when the database file fails bbolt's
// consistency check.
var ErrCorrupt = errors.New("store: database inconsistent")
