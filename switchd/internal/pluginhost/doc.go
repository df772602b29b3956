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
// VersionedPlugins. The socket lives in a directory of its own per process
// (mode 0700, switchd-plugin-* under TMPDIR), which the host removes when
// the process exits, however it exits; a killed daemon's are removed by the
// next daemon (package tmpdir). They do not inherit the daemon's
// environment: they see only SWITCHD_PLUGIN_LOG_LEVEL, GOGC=200 and
// GOMAXPROCS (Options, by default a quarter of the CPUs; see Performance),
// go-plugin's handshake variables and PLUGIN_UNIX_SOCKET_DIR, and
// SWITCHD_PLUGIN_CPUPROFILE when Options.CPUProfileDir asks for CPU
// profiles.
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
// # Plugin state kept by the host
//
// A plugin whose GetInfo lists the host_state capability (sdk.CapHostState)
// keeps its durable state in the host: Options.State, a StateStore. The
// daemon's is NewStoreState over its store, so the records live in
// switchd.db, bucket plugin_state, one sub-bucket per plugin and instance,
// and /v1/admin/backup covers them; `switchd validate` and `switchd
// plugins` use NewMemState, as they use a throw-away data directory. A host
// without State refuses to configure such a plugin (ErrNoState): it never
// runs one without durability.
//
//   - Before an instance's first Configure in each process (at launch and
//     after every restart), the host hands the process the instance's
//     committed records, in key order (LoadState). When the store holds no
//     record of the instance yet, it first asks the plugin for what its
//     older version kept in its own files (ExportState) and commits all of
//     it in one transaction; a host that stopped before that commit asks
//     again next time. These carry the instance's whole state, which grows
//     with its history, so they are bounded by Options.StateLoadTimeout
//     (default 10 minutes), not by CallTimeout or the caller's deadline;
//     the Configure after them gets its own CallTimeout. Each load is
//     logged ("plugin state loaded", with its records and seconds), so an
//     operator sees it grow.
//   - The state_writes of Configure, AuthenticateSeller, Debit, Credit,
//     Reverse and GetOperationStatus answers are checked (key 1 to
//     store.MaxStateKey bytes, value at most store.MaxStateValue, at most
//     MaxStateWrites records) and committed before the answer is returned,
//     without them. Each commit is one store Update, group-committed with
//     the payments' own. A Configure whose writes do not commit has failed
//     and is not remembered. The call runs under the caller's deadline but
//     not its cancellation, and its commit is not cut short by the
//     deadline, so a payer hanging up loses no answer the plugin applied.
//   - A restart never loads a snapshot that misses a write the plugin
//     already answered with: calls hold the read side of a per-plugin
//     RWMutex from after they acquire the process until their writes are
//     committed, and the restart holds the write side around LoadState and
//     the Configure replay.
//   - When the plugin's memory may be ahead of the store (its writes did
//     not commit, its answer carried invalid writes, or the answer was lost
//     to the deadline or a broken connection while the process lives),
//     the host kills the process, its watcher restarts it and LoadState
//     resets it; the caller gets a retryable error (CodeUnavailable
//     wrapping ErrStateCommit, ErrInvalidStateWrites or ErrAnswerLost). An
//     error the plugin answered itself changes nothing and costs no
//     restart. An InProcess plugin is reset by loading its state again
//     over the same connection.
//   - A plugin without the capability that answers with state writes gets
//     its answer refused (CodeInternal wrapping ErrUnexpectedStateWrites):
//     dropping the writes would lose durability it counted on.
//
// Builds with -tags failpoints can crash the daemon at
// pluginhost.commit.before and pluginhost.commit.after (detail: the RPC),
// between a plugin's answer and the commit of its writes and right after
// that commit (package reliability/failpoint).
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
// One ResolveInstrument round trip to the sample plugin, and one Debit to
// the real card plugin (digest check, bbolt ledger, group-committed fsync),
// measured with
//
//	go test -run '^$' -bench 'RoundTrip|CardDebit' -benchtime 3s ./switchd/internal/pluginhost/
//
// one call at a time (BenchmarkRoundTrip) and from 64 goroutines at once
// (BenchmarkRoundTripParallel, BenchmarkCardDebitParallel, as under the
// payment load), on the shared 2-core AMD EPYC build VM (load average 2-3
// from other builds; wall times are noisy, CPU times steadier but still
// ±7% between identical runs), 2026-11-26, mean of 3 runs alternating with
// the same tree without the settings below, CPU per call:
//
//	                               before                 after            x in-process
//	                         host plugin  total    host plugin  total    before  after
//	serial   in process        32      -     32      32      -     32
//	serial   sample           103    105    207      96     93    189      6.4    5.9
//	parallel in process        27      -     27      20      -     20
//	parallel sample            16     18     34      15     12     28      1.46   1.19
//	parallel card Debit        29     62     91      27     46     73
//
// The in-process code did not change: its parallel runs (20-30µs) are the
// noise; the parallel ratios are to their mean, 23.6µs.
// (card Debit wall time per call with 64 callers: 59µs before, 49µs after.)
// CPU comes from getrusage(RUSAGE_SELF) for the host and /proc/<pid>/stat
// for the plugin. The settings, each measured on its own:
//   - fixed 1 MiB flow-control windows on both sides (the host's dial
//     options here, the plugin's in sdk.Serve) turn off gRPC's BDP
//     estimator and its PING per call: serial syscalls per round trip
//     25.3 -> 19.7 and CPU -30% in a first sitting, 26.2 -> 24.5 and -10%
//     in a later one (one side alone does nothing: the other still pings);
//   - 64 reused stream workers in sdk.Serve instead of a goroutine (and its
//     stack growth, a quarter of the plugin's profile) per call: -10%
//     parallel, -4% serial, card Debit plugin CPU -9%;
//   - GOGC=200 in the plugin's environment: plugin CPU -13% (sample),
//     -12% (card), for about 4 MiB more peak RSS per plugin.
//
// GOMAXPROCS=1 for plugins (-15% serial, -28% parallel on the sample
// plugin) was first dropped, since the card plugin alone lost 30-45% of
// its Debit throughput (a goroutine in fsync holds the only P); with the
// daemon and four plugins sharing two CPUs in `switchd bench` it cut the
// plugins' CPU per payment by 8-10%, so plugins now get a quarter of the
// CPUs (DefaultPluginProcs), 1 on small machines. Tried and dropped:
// NumStreamWorkers(4)
// (with one P most calls found every worker busy); SharedWriteBuffer,
// 8 KiB read/write buffers, WithDisableRetry, fixed windows in process: no
// measurable effect. No keepalive is configured on either side, so nothing
// pings. The connection negotiates TLS 1.3 with AES-128-GCM
// (TestTransportTLS13), one record per direction per call; crypto/tls is
// about 1% of the profile. The server adapter's digest check costs 0.4µs
// (order.BenchmarkDigest) and the recovery interceptor a deferred call.
//
// What is left out of process is mostly the kernel (syscalls and wake-ups
// are half of each side's CPU) and the Go scheduler handing each call
// between the caller, the connection's reader and its writer goroutine:
// serial calls pay it in full, concurrent ones share it. The supervision
// layer (deadline, current-process lookup, exit check) adds about 4µs and
// 9 allocations over go-plugin alone, most of it the deadline timer of a
// call whose context has none (the flow engine always sets one).
package pluginhost
