// Package flow is switchd's payment engine: it walks every payment through
// steps A to E, persists each step as a state change, and ends every
// failure in a named final state with the money that moved put back.
//
// # Steps
//
//   - A (ChooseMethod): the payer picks card or bank transfer. The issuer
//     is routed in the current configuration: by card BIN
//     (config.BINRange.Contains over issuers offering card, in institution
//     id order) or by bank code (issuers offering bank transfer). No issuer
//     → error code "unroutable", nothing charged, state unchanged. The
//     issuer's method plugin resolves the instrument (the card number
//     exists only in memory for that call); token, BIN, last four, display
//     and payer_ref are stored, and the full order digest (order.Digest:
//     payment, merchant, acquirer, issuer, amount, currency, method, order
//     reference, expiry) is fixed. A declined instrument is answered with
//     code "declined" and leaves the payment in created, so the payer can
//     try another.
//   - B (right after A): the acquirer's seller_auth plugin checks the
//     seller's Ed25519 signature over the terms and attests the full digest.
//     The engine verifies the attestation with the acquirer's key (from its
//     ConfigureResponse.attestation_keys) before storing it. A and B's
//     outcome are committed in one Update (B moves no money and the seller
//     authenticator is idempotent on the payment id, so A need not be
//     durable first); if B gives no answer, A is committed alone
//     (method_chosen) and a retry runs B only.
//   - C (BeginAuth, FinishAuth): the issuer's mutual_auth plugin and the
//     payer authenticate each other over the digest, payer first. Before C
//     the engine recomputes the digest from the stored payment and checks
//     it is still the digest fixed at A, over which B's attestation was
//     verified; after C it verifies the issuer's attestation over the
//     digest before storing it. A wrong answer, a spent challenge or a
//     payer with no credential yet ("auth_failed", "replay",
//     "unknown_payer") is answered "declined" but leaves the payment open
//     (event payer_auth_failed), so the payer can try again or enrol; the
//     MaxPayerAttempts-th wrong answer, or any other decline such as
//     "locked", ends the payment declined.
//   - D (FinishAuth, on C approval): in one Update the payment becomes
//     payer_authenticated with Pending="debit"; then Debit is called on the
//     issuer's method plugin (idempotent on the payment id) after checking
//     the stored order still has the digest C's attestation covers. A
//     step-D attestation in the answer is verified before it is stored.
//     Approved → one Update: paid, and the acquirer notice is queued in
//     the outbox, due NoticeGrace (30s) later. paid must be durable before
//     the credit: from paid on, expiry asks the acquirer before reversing
//     the debit.
//   - E (inline, same request, under the payment's lock): right after paid
//     commits, the notice is carried to the acquirer (carryNotice): the
//     digest is checked the same way and Credit is called on the
//     acquirer's method plugin with the merchant's settlement account.
//     Credit approved → one Update: approved, the seller's webhook is
//     queued and the acquirer notice is marked delivered. Credit refused →
//     Pending="reverse_debit" is recorded, the debit is reversed at the
//     issuer, and the payment ends declined (notice marked delivered in
//     that Update). The queued notice is the durable recovery path: if the
//     request did not finish E (crash, acquirer outage: the notice is then
//     made due at once), the outbox worker's handler (HandleAcquirerNotice)
//     finds the payment still paid and does the same; a payment that has
//     left paid needs nothing. No Pending mark is needed for the credit:
//     the notice stays pending until the answer is recorded, and Credit is
//     idempotent on the payment id, so a credit whose answer was lost is
//     simply asked again, never made twice. If E did not settle the
//     payment, FinishAuth waits (at most Options.ResultWait, 5s by
//     default) for the payment to leave paid.
//
// Every plugin call has a deadline of min(payment expiry, plugin call
// timeout) (reversals and status queries: the call timeout only) and is
// retried once when the error is retryable (sdk.IsRetryable: an outage or a
// plugin the host is restarting).
//
// # Attestations: verified once
//
// Each attestation (B, C, D) is verified, Ed25519 signature included, once:
// when its plugin returns it, before it is stored in the same transaction
// as the state it justifies. A forged or mismatched one is refused there
// (the payment fails with attestation_invalid, money put back). Later
// steps trust the stored copy, which comes from the switch's own
// database: they recompute the order digest from the stored fields and
// compare it with the digest fixed at step A (a hash compare, not a
// signature check), so an order changed after its proofs were made is
// still refused. VerifyStored re-verifies a stored signature for audits.
//
// # States and the transition table
//
// Non-final: created, method_chosen, seller_authenticated,
// payer_authenticated, paid. Final: approved, refused (B said no),
// declined (C or D said no; DeclineCode says why), expired, cancelled,
// failed (an unrecoverable fault such as an attestation that does not
// verify; money put back).
//
//	from                  event                 to
//	created               method_chosen         method_chosen
//	method_chosen         seller_authenticated  seller_authenticated
//	method_chosen         seller_refused        refused
//	seller_authenticated  payer_authenticated   payer_authenticated
//	seller_authenticated  payer_declined        declined
//	seller_authenticated  payer_auth_failed     seller_authenticated
//	payer_authenticated   debited               paid
//	payer_authenticated   debit_declined        declined
//	payer_authenticated   reverse_started       payer_authenticated
//	paid                  reverse_started       paid
//	paid                  credited              approved
//	paid                  credit_refused        declined
//	created, method_chosen, seller_authenticated
//	                      cancelled             cancelled
//	every non-final       expired               expired
//	every non-final       failed                failed
//
// Every change goes through one function (Engine.transition) which, in ONE
// store.Update (shared by consecutive changes only where no outside call
// between them needs the first durable: A with B's outcome; every commit
// before a plugin call that moves money stays its own, e.g.
// payer_authenticated with Pending=debit before Debit, paid before Credit,
// Pending=reverse_debit before Reverse), checks the pair against the
// table, applies the change,
// bumps Version, appends an Event and enqueues the outbox messages the new
// state causes (the acquirer notice "an_<payment>" on paid, a webhook on
// every final state, with id "wh_<payment>_<state>", which is the
// webhook-id header); a change that leaves paid marks the acquirer notice
// delivered in the same Update.
// The event's type is "payment.<state reached>" (e.g. payment.approved),
// or "payment.<event>" for a step that stays in its state
// (payment.reverse_started); From, To and a
// secret-free Detail (issuer id, decline code) complete it. A pair not in
// the table is refused and nothing is written. Within one
// process, work on one payment is serialized by a per-payment lock.
//
// Webhook bodies are {"type": "payment.<state>", "timestamp": RFC 3339,
// "data": <the payment as the API renders it>}.
//
// # Expiry
//
// The sweeper (Run / SweepLoop, every Options.SweepInterval) ends payments
// past ExpiresAt as expired and releases held money:
//
//   - created, method_chosen, seller_authenticated: expired, nothing moved.
//   - payer_authenticated: the issuer is asked (GetOperationStatus) about
//     the debit; if it happened it is reversed first.
//   - paid: the acquirer is asked about the credit; if the merchant was
//     already credited the payment completes as approved (the money
//     reached the seller); otherwise the debit is reversed and the payment
//     ends expired. The acquirer notice is marked delivered by that
//     change, so the outbox no longer carries it.
//
// A reversal that fails is retried by the next sweep (Pending stays
// "reverse_debit" until it succeeds).
//
// # Recovery on start
//
// Recover runs once before the daemon serves, over every non-final
// payment, and the sweeper applies the same rules to payments whose Pending
// operation is older than Options.StaleAfter:
//
//   - past expiry: the expiry rule above.
//   - created, seller_authenticated: nothing; the payer continues.
//   - method_chosen (B gave no answer; a crash between the B call and
//     its commit leaves created): B is run again; the seller
//     authenticator is idempotent on the payment id.
//   - payer_authenticated with Pending=debit: GetOperationStatus(debit):
//     approved → paid, and the queued acquirer notice is made due at
//     once for the outbox worker (recovery does not wait on the
//     acquirer); declined → declined; reversed →
//     failed; not found → Debit is called again (idempotent on the payment
//     id).
//   - payer_authenticated or paid with Pending=reverse_debit: the reversal
//     is retried, then the payment ends in the state recorded with it.
//   - paid (crash after paid, before E was recorded): Recover makes the
//     queued acquirer notice due at once; the outbox worker's handler calls
//     Credit again (idempotent), so a credit whose answer was lost is
//     answered again. Without a restart, an inline E that failed
//     (acquirer outage) made the notice due at once, and the worker
//     retries it with its backoff.
//
// # Reload
//
// SetConfig installs a new configuration generation. New payments are
// created and routed under the newest generation (and record it in
// ConfigGeneration). A payment already running resolves the merchant and
// the institutions it references by id: in the newest generation first,
// so changed settings of an existing institution (keys, accounts,
// authenticator settings) apply to it from the reload on; and, if its
// institution or merchant was removed by the reload, in the generation it
// started in, which the engine keeps in memory, so it can still finish
// (or be reversed) through the plugin instances the host keeps configured.
// After a restart only the loaded configuration exists: a payment whose
// institution was removed then fails at its next step with an internal
// error and is ended by expiry. The order digest names institutions by id,
// so proofs made before a reload stay valid after it.
package flow
