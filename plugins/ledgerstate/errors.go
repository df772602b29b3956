package ledgerstate

import "errors"

var (
	// ErrBadRecord is returned by View.Put and Decode for a record whose
	// key is of no known kind or whose value does not decode.
	ErrBadRecord = errors.New("bad ledger record")
	// ErrInvariant is returned by View.Check when the ledger's invariants
	// do not hold.
	ErrInvariant = errors.New("invariant violated")
)
