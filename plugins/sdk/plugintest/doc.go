// Package plugintest is the conformance kit for switchd plugins. A plugin
// author runs it from an ordinary go test, against the built binary (as the
// daemon launches it: a go-plugin subprocess with AutoMTLS and a SHA-256
// pin) or against the implementation in memory:
//
//	func TestConformance(t *testing.T) {
//		bin := testbin.MustBuild(t, "./plugins/myauth") // or any go build output
//		for name, target := range map[string]plugintest.Target{
//			"binary":     plugintest.Binary(bin),
//			"in-process": plugintest.InProcess(myauth.New()),
//		} {
//			t.Run(name, func(t *testing.T) {
//				plugintest.Run(t, plugintest.Suite{
//					Target:      target,
//					Config:      []byte(`{"signing_seed": "…", "payer": [{"id": "alice", "secret": "…"}]}`),
//					BadConfigs:  map[string][]byte{"no seed": []byte(`{}`)},
//					PayerRef:    "alice",
//					PayerHello:  myauth.TestPayerHello,
//					PayerAnswer: myauth.TestPayerAnswer(aliceSecret),
//				})
//			})
//		}
//	}
//
// Run starts the plugin, reads GetInfo and runs as subtests every check
// that applies to the kinds it lists and the Suite fields that are set:
//
//   - info, schema: name, semantic version, kinds, protocol version 1,
//     methods; schema names unique and well-formed, every attribute typed.
//
//   - unconfigured: each served kind answers FailedPrecondition for an
//     instance never configured (and is not Unimplemented).
//
//   - configure: Suite.Config is accepted and the plugin and instance are
//     then healthy; each Suite.BadConfigs entry gives an error diagnostic
//     or InvalidArgument that does not repeat the value of any sensitive
//     attribute, and leaves the instance serving its previous settings (the
//     later checks run on it).
//
//   - info_stable: GetInfo does not change with configuration.
//
//   - payment_method: the instrument resolves to a token that does not
//     reveal the card number; Debit and Credit repeated, and concurrent,
//     with one payment id move money once and give the same result, which
//     GetOperationStatus reports; Reverse twice puts back once; a bad digest
//     is refused and moves nothing; unknown payments are NOT_FOUND. With
//     Suite.Balance the kit also checks the balances.
//
//   - authenticator: step B approves the seller's signature with a valid
//     attestation and declines it for changed terms; step C approves the
//     payer's answer with a valid attestation and declines it for an order
//     that differs in any field; with Suite.PayerVerifiesIssuer the issuer's
//     proof must not verify for another order; enrolment is served exactly
//     when the "enrollment" capability is listed.
//
//   - deadline: a call with an expired deadline fails promptly and moves
//     nothing; a Debit cut short by its deadline can be retried and moves
//     money once; with Suite.SlowConfig a slow call returns at its deadline,
//     and for an InProcess target the plugin's handler must return too (a
//     binary's handlers are not observable).
//
//   - state_writes: no answer carried writes without the host_state
//     capability; every write is well-formed (key 1 to 512 bytes, value at
//     most 64 KiB); a refused Configure (error diagnostics) carries none
//     (rule 3); no record holds the value of a sensitive attribute of
//     Suite.Config or the card number of Suite.Instrument (rule 5). The
//     kit, as the host would, commits no write of an error answer and no
//     answer with a malformed write.
//
//   - host_state, when GetInfo lists sdk.CapHostState (see below).
//
// # Plugins that keep their state in the host
//
// When GetInfo lists sdk.CapHostState the kit acts as the host does: it
// keeps a committed state per instance (an in-memory map standing in for
// the switch's database), calls ExportState (while it holds no record of
// the instance) and then LoadState before the instance's first Configure
// in each process, and commits the state_writes of every answer
// (ConfigureResponse, MoneyResult, AuthenticateSellerResponse) before it
// uses the answer. Every check above then runs on the plugin in that mode,
// and these as well (the rules are numbered as in package sdk):
//
//   - host_state/not_loaded: Configure of an instance before any LoadState
//     is refused, carries no writes, and leaves the instance not serving
//     (rule 4). Catches a plugin that would serve from an empty state.
//
//   - host_state/export: ExportState of an empty data dir streams nothing.
//     With Suite.OldState (the files an earlier, file-keeping version
//     left), it streams well-formed records, the same ones when asked
//     again before the host committed any (rule 4), and the instance
//     configured on them serves with every exported record kept.
//
//   - host_state/repeat: an approved Debit, Reverse and (with
//     Suite.PayeeAccount) Credit carry writes; a retried Debit or Credit, a
//     repeated Reverse and GetOperationStatus repeat every record of the
//     answer before them with the same value (rule 1).
//
//   - host_state/lost_answer: a Debit whose answer the host did not commit,
//     then GetOperationStatus (committed), then a restart: the Debit is
//     there and moved money once. Catches a plugin whose status query does
//     not repeat the records, so a lost answer never becomes durable.
//
//   - host_state/restart: a committed Debit and a committed reversed Debit,
//     then a restart: GetOperationStatus, a retried Debit and a repeated
//     Reverse answer exactly as before, balances are unchanged, and the
//     retries change no committed record (they may only repeat them).
//
//   - host_state/uncommitted: a Debit whose answer the host does not commit
//     (its crash between answer and commit), then a restart: the Debit is
//     NOT_FOUND, balances and records are as before it, and it can be paid
//     afresh. Catches a plugin that keeps state the host does not hold (a
//     file of its own, a global).
//
//   - host_state/commute: two payments' Debits, committed in the other
//     order than answered, then a restart: same results and balances; and
//     no key is written by both with different values (rule 2). Catches
//     running totals.
//
//   - host_state/seller_restart (step B, with Suite.SellerSignature): an
//     approval's record survives a restart: the same signature is then
//     declined as a replay for another payment, and approved again for its
//     own with its record repeated. Skipped when the plugin approves one
//     signature for two payments (it keeps no replay records).
//
//   - host_state/seller_uncommitted: an approval the host did not commit is
//     gone after a restart: the signature is approved for another payment.
//
// A restart stops the plugin and starts a fresh one, which the kit loads
// and configures with Suite.Config as the host does: a new process for a
// Binary target, a new implementation for an InProcessFunc target. An
// InProcess target cannot be restarted, and the checks that need a restart
// are skipped with that reason. Suite.Balance, where set, must read the
// plugin started last (see InProcessFunc); without it the kit still checks
// statuses and the committed records.
//
// A host_state plugin's conformance test, in process:
//
//	var cur atomic.Pointer[myledger.Plugin]
//	target := plugintest.InProcessFunc(func() sdk.Plugin {
//		p := myledger.New()
//		cur.Store(p)
//		return p
//	})
//	plugintest.Run(t, plugintest.Suite{
//		Target: target,
//		// ...
//		Balance: func(_ string, op pb.Operation) (int64, error) {
//			return cur.Load().Balance("plugintest-bank", accountOf(op))
//		},
//	})
//
// Every call the kit makes has a deadline; wall-clock time is only checked
// against a generous bound of seconds.
package plugintest
