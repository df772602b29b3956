// Package wallet is the payer's side of switchd's authentication at step C,
// for programs and tests that act for a payer: the `switchd wallet` CLI, the
// quickstart and the integration tests.
//
// OCRA is the payer's half of the ocra plugin's mutual challenge-response
// (RFC 6287, bound to the order digest; see plugins/ocra/rfc6287). The
// payer leads with Begin; Answer then checks that the issuer knows the key
// (its server_response) and that the issuer's challenge was derived from the
// order digest the payer holds, and only then answers.
package wallet
