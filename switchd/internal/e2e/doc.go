// Package e2e holds switchd's end-to-end tests: real plugin binaries
// (built with internal/testbin), a real bbolt store, real HTTP through the
// API package, a webhook receiver that verifies every signature, and the
// plugins' own ledgers read back to show where the money went. The crash
// test runs the daemon as a subprocess and kills it with SIGKILL.
package e2e
