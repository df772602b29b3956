// Package pluginhost launches switchd's plugins as separate processes with
// hashicorp/go-plugin and supervises them.
//
// # Launch
//
// Every plugin binary is pinned by its sha256 (from its plugin block or the
// lock file written by `switchd plugins lock`). The host hashes the binary
// itself before anything is executed, so an unpinned or mismatching binary
// is refused before its process starts (fail closed, the error names the
// plugin, the expected and the actual digest), and go-plugin's SecureConfig
// checks it again right before exec. Plugins speak gRPC only, over a Unix
// socket with automatic mutual TLS, and negotiate the contract version with
// VersionedPlugins. They do not inherit the daemon's environment: they see
// only SWITCHD_PLUGIN_LOG_LEVEL, GOGC=200 (see Performance) and
// go-plugin's handshake variables.
//
// # No orphans
//
// Each plugin runs in its own process group with Pdeathsig=SIGKILL, so no
// plugin outlives the daemon, even when the daemon is killed with SIGKILL.
// Pdeathsig fires when the *thread* that forked the child ends, and the Go
// runtime may end idle threads; so each plugin is forked from a goroutine
// locked to its OS thread, which stays locked for as long as the plugin
// runs (it waits for the plugin's exit on a pidfd) and then returns,
// letting the runtime end that thread. Close kills the whole process group.
//
// # One process per plugin binary
//
// One process serves every institution that uses the plugin; calls name
// their institution in instance_id, and Configure is sent once per
// institution. This is the agreed design because:
//   - a network of dozens of banks sharing the card plugin would otherwise
//     cost dozens of processes, sockets and TLS sessions on a 2-core box;
//   - restarts, health and digest checks are per binary, which is what an
//     operator pins and upgrades;
//   - isolation between institutions inside a binary is the plugin's job
//     (it keys all state by instance_id, each instance has its own
//     data_dir); isolation between *different* plugins (different vendors)
//     is by process, which is where the trust boundary is.
//
// # Calls, deadlines and supervision
//
// Authenticator, Enroller and PaymentMethod return supervised clients. A
// call whose context has no deadline gets Options.CallTimeout; Health has
// its own Options.HealthTimeout. A call always returns by its deadline,
// even if the plugin hangs.
//
// Each process has one watcher, blocked on the process's pidfd. When the
// process dies, the watcher (and only it) restarts the plugin, with
// exponential backoff (50ms doubling to 30s while it keeps dying within 10s
// of starting), re-sends every remembered Configure request to the new
// process and only then lets it serve calls. Because restart is driven by
// the single watcher and not by callers, any number of callers that notice
// the death cause exactly one restart. A call in flight when the process
// died returns an sdk error with CodeUnavailable wrapping ErrPluginExited
// (retryable); a call made during the restart waits for it until its own
// deadline and then returns CodeUnavailable wrapping ErrRestarting.
//
// # Logs
//
// Plugins log hclog JSON on stderr (sdk.Logger). go-plugin parses each line
// and hands it to the client's Logger, which here is an hclog→slog adapter:
// every line becomes a slog record of the same level, message and
// attributes, tagged plugin=<name>. A plugin that writes to stdout before
// the handshake fails to start with ErrStdoutBeforeHandshake naming it.
//
// # Performance
//
// One ResolveInstrument round trip, measured with
//
//	go test -run '^$' -bench RoundTrip -benchtime 3s ./switchd/internal/pluginhost/
//
// one call at a time (BenchmarkRoundTrip) and from 64 goroutines at once
// (BenchmarkRoundTripParallel, as under the payment load), on the shared
// 2-core AMD EPYC build VM (load average 2-9 from other builds, so wall
// times are noisy; CPU times are steadier), 2026-11-26, mean of 3 runs,
// CPU per call:
//
//	                                 host     plugin   total   x in-process
//	serial   in process (bufconn)    32µs        -      32µs
//	serial   out of process          80µs      61µs    141µs      4.4
//	parallel in process              22µs        -      22µs
//	parallel out of process          17µs      11µs     28µs      1.25
//
// CPU comes from getrusage(RUSAGE_SELF) for the host and /proc/<pid>/stat
// for the plugin. The same runs before the changes below: serial 188µs
// (x5.6), parallel 38µs (x1.7). What made the difference, each measured on
// its own:
//   - fixed 1 MiB flow-control windows on both sides (the host's dial
//     options here, the plugin's in sdk.Serve), which turn off gRPC's BDP
//     estimator and its PING per call: serial syscalls per round trip
//     25 -> 20, CPU -30%;
//   - GOMAXPROCS=1 for plugins: -15% serial, -28% parallel;
//   - 64 reused stream workers in sdk.Serve instead of a goroutine (and a
//     stack growth) per call: plugin CPU -22% parallel, -8% serial;
//   - GOGC=200 for plugins: plugin CPU -13%.
//
// No measurable effect: NumStreamWorkers(4), SharedWriteBuffer, 8 KiB
// read/write buffers, WithDisableRetry, fixed windows in process. The
// connection negotiates TLS 1.3 with AES-128-GCM (TestTransportTLS13);
// crypto/tls is about 1% of the profile. What is left out of process is
// mostly the kernel (syscalls and wake-ups are half of each side's CPU)
// and the Go scheduler handing each call between the caller, the
// connection's reader and its writer goroutine: serial calls pay it in
// full, concurrent ones share it. The supervision layer (deadline,
// current-process lookup, exit check) adds about 4µs and 9 allocations
// over go-plugin alone, most of it the deadline timer of a call whose
// context has none (the flow engine always sets one).
package pluginhost
