// Package sdk is what a switchd plugin author imports.
//
// A plugin is a small program whose main calls Serve with a value that
// implements Plugin and at least one of Authenticator and PaymentMethod:
//
//	func main() { sdk.Serve(&myAuthenticator{}) }
//
// The wire contract is the protobuf package switchd.plugin.v1 (Go package
// pluginv1); the interfaces here take and return its messages directly, so
// there is no second data model to learn and no conversion cost per call.
//
// Every method takes the caller's context. Its deadline is the deadline the
// host derived from the payment's own; a plugin must return when it ends.
//
// Errors: return a typed error from this package (InvalidArgument,
// Unavailable, NotFound, FailedPrecondition) and it reaches the host with the
// matching gRPC status code, and comes out on the host side as an *Error with
// the same Code. A decline is not an error: return a result whose verdict or
// state says DECLINED with a decline code.
//
// Logging: use Logger(). It writes hclog JSON to stderr, which the host turns
// into its own structured log lines tagged with the plugin's name. Never log
// a card number, a key or any other secret.
//
// # State kept in the host (host_state)
//
// A plugin keeps its durable state (a ledger, replay records) either in
// files of its own under Configure's data_dir, committed before it
// answers, or in the switch's database. The second is the host_state
// capability (CapHostState): the plugin implements StateHolder, opens no
// state file, and returns with each answer the records that answer changed
// (state_writes in ConfigureResponse, MoneyResult and
// AuthenticateSellerResponse). The host commits them in its own batched
// fsync before it acts on the answer, so the plugin's answers cost no
// flush of their own, and the switch's backup covers them with the
// payments.
//
// Use it for state like the built-in plugins': small records (a journal
// entry, an operation, a replay record) that a bank's engineer is content
// to see in the switch's database. Do not use it when the plugin calls the
// bank's own core system, which already keeps that state durably: answer
// from the core and return no writes.
//
// The rules:
//
//  1. Apply a change to the working state in memory before answering, and
//     return the records that make the answer true. Any answer about an
//     operation (a retry, GetOperationStatus) repeats that operation's
//     records, so an answer the host lost becomes durable the next time
//     anyone asks. Puts are idempotent.
//  2. Records commute: two payments' writes may commit in either order. No
//     running totals: a balance is the sum of entries keyed by payment and
//     operation, recomputed at LoadState.
//  3. An error answer (an error, or a Configure with error diagnostics)
//     carries no writes and changes nothing.
//  4. The host calls LoadState with the instance's committed records, in
//     key order, before the instance's first Configure in every process
//     (launch and restart); Configure before it is refused. When the host
//     holds no record of the instance yet it first calls ExportState, and
//     the plugin streams what its old files held (it may rename them to
//     <file>.imported and must keep exporting the same records until the
//     host holds some).
//  5. Secrets (keys, payer credentials) never go into state_writes.
//
// A record's key is 1 to 512 bytes and its value at most 64 KiB; an empty
// value deletes the key. Nothing a plugin returned is durable until the
// host commits it: after a crash between an answer and its commit the
// plugin restarts from what was committed, and the change is gone on both
// sides.
//
// The conformance kit, plugins/sdk/plugintest, plays the host for a plugin
// that lists the capability and checks each rule, including across
// restarts (use plugintest.Binary, or plugintest.InProcessFunc so that the
// kit can make a fresh implementation).
//
// The server side of this package recomputes the order digest of every
// request that carries an order, and rejects a request whose digest does not
// match before the plugin sees it.
package sdk
