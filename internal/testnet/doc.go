// Package testnet holds the building blocks for generated switchd networks
// in tests and `switchd bench`: card and account numbers with their Luhn
// check digit, random keys, a network directory that keeps every secret in
// its own 0600 file under secrets/ (and remembers the values for leak
// scans), the HCL text of the blocks every generated network writes
// (institutions with their authenticator and methods, merchants), and a
// reader of the built-in ledgers' balances for the suites that check money
// after a run. The webhook receiver they share is
// switchd/internal/webhook/webhooktest.
//
// Each network still decides its own banks and merchants; this package only
// renders them.
package testnet
