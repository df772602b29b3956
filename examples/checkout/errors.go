package checkout

import "errors"

// Errors returned by Run.
var (
	// ErrAPI is returned when switchd answers a request with an error
	// status; the error carries the status and the problem's code.
	ErrAPI = errors.New("checkout: switchd refused the request")
	// ErrDigestMismatch is returned when the order digest switchd sends is
	// not the digest of the order the payer was shown: the payer does not
	// authenticate.
	ErrDigestMismatch = errors.New("checkout: switchd's order digest is not the digest of the order shown")
	// ErrNoCredential is returned when the issuer asks for an
	// authentication mechanism the payer has no credential for.
	ErrNoCredential = errors.New("checkout: the payer has no credential for the issuer's mechanism")
	// ErrNotApproved is returned when a payment ends in a final state
	// other than approved.
	ErrNotApproved = errors.New("checkout: payment not approved")
	// ErrNoWebhook is returned when the store's webhook for a final state
	// does not arrive in time.
	ErrNoWebhook = errors.New("checkout: no verified webhook")
	// ErrPhone is returned when the passkey phone file cannot be read or
	// written, or does not match the issuer.
	ErrPhone = errors.New("checkout: passkey phone")
)
