package ledger

import (
	"errors"

	"github.com/switchd/switchd/plugins/ledgerstate"
)

// Errors returned by Transfer.
var (
	// ErrUnknownAccount is returned when a transfer names an account the
	// ledger does not hold.
	ErrUnknownAccount = errors.New("unknown account")
	// ErrInvalidTransfer is returned when a transfer is malformed: no
	// payment id or operation, an amount that is not positive, or the same
	// account on both sides.
	ErrInvalidTransfer = errors.New("invalid transfer")
	// ErrConflict is returned when an operation that already exists is
	// requested again with different accounts, amount or currency.
	ErrConflict = errors.New("operation exists with different terms")
)

// Errors returned by Reverse.
var (
	// ErrBelowFloor is returned when reversing an operation would take an
	// account below its floor (money already spent); nothing is posted.
	ErrBelowFloor = errors.New("reversal would take an account below its floor")
)

// Errors returned by Seed.
var (
	// ErrCurrencyMismatch is returned when an account is seeded again with a
	// different currency than it holds.
	ErrCurrencyMismatch = errors.New("account exists with another currency")
)

// Errors returned by Check.
var (
	// ErrInvariant is returned when the ledger's invariants do not hold
	// (by Check, and by Load for records that break them). It is
	// ledgerstate.ErrInvariant.
	ErrInvariant = ledgerstate.ErrInvariant
)

// Errors returned by ReadOldFile and Export.
var (
	// ErrOldFile is returned when the old ledger file cannot be exported:
	// it does not open or decode, its records break the invariants, or
	// both it and its imported copy exist.
	ErrOldFile = errors.New("cannot export the old ledger file")
)
