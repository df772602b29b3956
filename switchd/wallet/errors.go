package wallet

import "errors"

// Errors of OCRA. Answer returns ErrIssuerNotProven and ErrNotBound wrapped
// in a *RefusedError; the others report a problem on the payer's own side.
var (
	// ErrSuite is returned when the wallet's suite does not parse or cannot
	// be used for mutual authentication.
	ErrSuite = errors.New("wallet: unusable OCRA suite")
	// ErrNoClientChallenge is returned by Answer when there is no client
	// challenge: Begin was not called, or ClientChallenge was not set.
	ErrNoClientChallenge = errors.New("wallet: no client challenge; call Begin first")
	// ErrChallengeData is returned when the issuer's challenge data is not
	// the JSON object the ocra plugin sends.
	ErrChallengeData = errors.New("wallet: malformed challenge data")
	// ErrSuiteMismatch is returned when the issuer names another suite than
	// the wallet's.
	ErrSuiteMismatch = errors.New("wallet: the issuer uses another OCRA suite")
	// ErrIssuerNotProven is returned when the issuer's server_response is
	// not the right answer to the payer's challenge: the other side does
	// not hold the payer's key.
	ErrIssuerNotProven = errors.New("wallet: the issuer's proof is wrong")
	// ErrNotBound is returned when the issuer's challenge is not derived
	// from the order digest the payer holds: the answer would approve
	// another order.
	ErrNotBound = errors.New("wallet: the issuer's challenge is not bound to this order")
)

// RefusedError means the wallet refused to answer because the issuer's side
// did not check out. Reason is ErrIssuerNotProven or ErrNotBound.
type RefusedError struct {
	Reason error
}

func (e *RefusedError) Error() string { return "refusing to answer: " + e.Reason.Error() }

// Unwrap returns Reason.
func (e *RefusedError) Unwrap() error { return e.Reason }
