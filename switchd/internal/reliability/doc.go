// Package reliability holds switchd's reliability and security suite: tests
// that run the real daemon (`switchd serve`, built with testbin) and the
// real plugin binaries as subprocesses on loopback, and break them.
//
//   - crash loop: SIGKILL the daemon at random moments under concurrent
//     load, restart, repeat; then check every invariant against the store
//     and the plugins' bbolt ledgers (TestReliabilityCrashLoop);
//   - plugin faults: kill or stop (SIGSTOP) each plugin process while it
//     takes part in a payment (TestReliabilityPluginFaults);
//   - failpoints: a daemon built with -tags failpoints crashes itself just
//     before or after a durable commit, a webhook delivery or a plugin call
//     (TestReliabilityFailpoints; package failpoint);
//   - hostile input: oversized, deep, unknown-field and slow requests
//     against the real HTTP listener (TestReliabilityHostileInput);
//   - access control: a matrix of credentials against every merchant and
//     payer endpoint, rate limits and replays (TestReliabilityAccess);
//   - a leak scan of every log, database and webhook body for the test
//     secrets, run at the end of the tests that produce them.
//
// The number of crash rounds is SWITCHD_RELIABILITY_ROUNDS (default 5, the
// `make test` size); `make reliability` sets 20. RELIABILITY.md at the
// repository root records the measured figures and their commands.
package reliability
