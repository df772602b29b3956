package rfc6287

import "errors"

// Sentinel errors. Every error returned by this package wraps one of them
// and says which part of the input is wrong, without repeating key material.
var (
	// ErrSuite is returned when an OCRA suite string does not parse or uses
	// an unsupported feature.
	ErrSuite = errors.New("rfc6287: invalid OCRA suite")
	// ErrChallenge is returned when a challenge (question) does not fit the
	// suite's challenge format or length.
	ErrChallenge = errors.New("rfc6287: invalid challenge")
	// ErrInput is returned when another data input (key, counter, password,
	// session information) does not fit the suite.
	ErrInput = errors.New("rfc6287: invalid data input")
	// ErrBinding is returned by the mutual profile when a nonce or digest
	// cannot be used to derive a server challenge.
	ErrBinding = errors.New("rfc6287: invalid binding input")
)
