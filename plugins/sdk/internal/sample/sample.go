// Package sample holds small but correct plugins, a bank-transfer payment
// method and an HMAC-based authenticator, each also in a host_state
// variant (NewStateMethod, NewStateAuthenticator), used to test the
// conformance kit in plugins/sdk/plugintest. Each can be built with
// deliberate flaws (see Flaw) so the kit's tests can show that it catches
// them. They are not meant for production: secrets sit in the config in the
// clear and the ledger is a JSON file.
package sample

import (
	"context"
	"errors"
	"time"
)

// Flaw is a deliberate bug a sample plugin can be built with.
type Flaw uint

// The flaws the kit must catch.
const (
	// NonIdempotentDebit makes every Debit move money again.
	NonIdempotentDebit Flaw = 1 << iota
	// DoubleReverse makes every Reverse put money back again.
	DoubleReverse
	// IgnoresDeadline makes the simulated backend latency ignore the
	// call's context.
	IgnoresDeadline
	// UnboundProof makes FinishMutualAuth check the payer's answer against
	// the order seen at BeginMutualAuth instead of the order being
	// finished, so a proof for one order verifies for another.
	UnboundProof
	// BadSchema declares a schema with a duplicate, untyped attribute.
	BadSchema
	// AcceptsBadConfig makes Configure accept any config without checks.
	AcceptsBadConfig
	// ServesUnconfigured makes the payment method answer calls for an
	// instance that was never configured as if it had no accounts.
	ServesUnconfigured
	// LeaksSecret makes the authenticator repeat a malformed payer secret
	// in its diagnostic.
	LeaksSecret
	// BadInfo makes the authenticator describe itself wrongly: an upper
	// case name, no protocol version 1, and the enrollment capability
	// without serving enrolment.
	BadInfo
	// SkipsSellerSignature makes AuthenticateSeller approve any known
	// key without verifying the seller's signature.
	SkipsSellerSignature

	// The flaws of the host_state plugins (NewStateMethod,
	// NewStateAuthenticator):

	// ForgetsRecords makes an answer about an existing operation or seller
	// signature (a retry, a status query) carry no state_writes, so an
	// answer the host lost never becomes durable (rule 1).
	ForgetsRecords
	// KeepsOwnFile makes the state method also keep its state in a file of
	// its own and read it back at Configure, so a restart brings back
	// changes the host never committed (rule 4).
	KeepsOwnFile
	// WritesOnError makes the state method return the opening-balance
	// writes of a Configure it refuses (rule 3).
	WritesOnError
	// RunningTotal makes the state method write each account's running
	// balance and trust it at LoadState, so two payments' writes do not
	// commute (rule 2).
	RunningTotal
	// ConfiguresUnloaded makes the host_state plugins accept Configure of
	// an instance whose state was never loaded, as empty (rule 4).
	ConfiguresUnloaded
	// ExportsOnce makes the state method's ExportState rename the earlier
	// version's ledger file and then export nothing from the renamed one,
	// so a host that stopped before its commit loses the ledger (rule 4).
	ExportsOnce
)

// Version is the version both sample plugins report.
const Version = "0.1.0"

// ErrNoLedger is returned by Balance when the instance has no ledger yet.
var ErrNoLedger = errors.New("sample: no ledger in data dir")

// wait simulates a backend that takes d. Unless flaws has IgnoresDeadline
// it returns early with ctx's error when ctx ends.
func wait(ctx context.Context, d time.Duration, flaws Flaw) error {
	if d <= 0 {
		return nil
	}
	if flaws&IgnoresDeadline != 0 {
		time.Sleep(d)
		return nil
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

var (
	errInvalidChallenge = errors.New("sample: challenge_data is not hex")
	errIssuerProof      = errors.New("sample: the issuer's proof does not verify for this order")
)
