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
// The server side of this package recomputes the order digest of every
// request that carries an order, and rejects a request whose digest does not
// match before the plugin sees it.
package sdk
