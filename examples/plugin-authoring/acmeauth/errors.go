package acmeauth

import "errors"

// Errors of the payer's side (Wallet) and of key decoding.
var (
	// ErrIssuerNotProven is returned by Wallet.Answer when the bank's
	// issuer_proof does not verify for the payer's own digest and nonce:
	// the bank is not genuine, or the order is not the one shown.
	ErrIssuerNotProven = errors.New("acmeauth: the bank's proof does not verify for this order")
	// ErrNoHello is returned by Wallet.Answer before Wallet.Hello.
	ErrNoHello = errors.New("acmeauth: answer before hello")
	// ErrChallengeData is returned by Wallet.Answer for challenge_data that
	// is not the bank's JSON.
	ErrChallengeData = errors.New("acmeauth: malformed challenge_data")
	// ErrKey is returned when a key is not hex of the right size.
	ErrKey = errors.New("acmeauth: key must be hex")
)
