// Package bench is the load benchmark behind `switchd bench`: complete
// A-E payments through the HTTP API of a real daemon, measured from the
// outside.
//
// Run generates a network (bank_a issuing every payer's card and account,
// bank_b acquiring for the shops; merchantsig for step B, OCRA for step
// C), then:
//
//  1. measures raw costs: each plugin's cold start (launch, sha256 check,
//     until GetInfo answers), one plugin round trip (Health through the
//     plugin host) out of and in process, and one fsynced bbolt write;
//  2. starts the real daemon (daemon.New/Start, exactly what `switchd
//     serve` runs, with the real plugin binaries as subprocesses, fsync on,
//     a fresh data dir) as a child process, and drives payments: a short
//     warm-up, then from Options.Payers concurrent payers until
//     Options.Duration or Options.Count, then, once the server is idle
//     again, Options.Unloaded one at a time (unloaded). Each payment is
//     signed by its shop, created through the merchant API, and paid the
//     way the payment page on a phone does: choose card or bank transfer
//     (alternating), OCRA begin, the wallet verifies the issuer's proof
//     over the order digest and answers, finish; it counts only when the
//     payer sees approved. A webhook receiver verifies and counts the
//     shops' webhooks;
//  3. does the same against a child running the same daemon with the
//     plugins linked in (daemon.LinkPlugins, over an in-memory gRPC
//     connection): the ceiling;
//  4. reports throughput, client-side latency per step (A create, A+B
//     choose, C begin, C finish until approved) and server-side B, D, E
//     from the payment timelines of a sample, CPU per payment of the daemon
//     and of each plugin (/proc/<pid>/stat before and after the load),
//     peak RSS (VmHWM, mapped files included, so the daemon's grows with
//     its bbolt file) and anonymous RSS at the end of the load (RssAnon:
//     heap, stacks, runtime), what the daemon's store wrote for the load, and
//     the out-of-process/in-process ratios.
//
// What the store wrote comes from the daemon's own counters
// (switchd_store_*_total on the admin listener's /metrics), read just
// before the load and again once the load's webhooks have arrived (so the
// outbox's writes for them count, the unloaded payments' do not):
// "store Updates per commit" is the mean group-commit batch, and "store
// pages written per payment" (per approved payment of the load) is bbolt's
// page writes, each a pwrite, which a commit's CPU follows more closely
// than the number of commits. Unlike throughput, which moves by ±10%
// between identical runs on a shared machine, both are nearly
// deterministic, so they show a change to the store's layout in one run.
// The JSON report has the raw growths too (commits, Updates, pages,
// write+fsync seconds) and Updates and write time per payment.
//
// Servers run as child processes of the benchmark, so their CPU is
// measured apart from the load generator's: a program that calls Run must
// call ChildMain when IsChild (see ChildEnv). The load generator's payers
// each write and read their own keep-alive HTTP/1.1 connection (no
// net/http.Transport goroutines in between), so that it takes as little
// CPU as it can from the servers on the same machine.
package bench
