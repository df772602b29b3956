// Package checkout is the quickstart demo: a store and two payers driving a
// running switchd through its public HTTP API, exactly as a real store
// backend and a payer's phone would. `switchd demo` runs it against the
// quickstart network (examples/quickstart), and its test runs it against a
// real `switchd serve` subprocess.
//
// For each payment Run
//
//   - signs the order terms with the store's Ed25519 key
//     (order.SellerMessage over order.TermsDigest) and creates the payment
//     with the merchant API key (POST /v1/payments);
//   - plays the payer through the payer JSON API with only the pay_token:
//     A chooses the method (card or bank transfer), which routes the payment
//     to the issuer, and B, the acquirer checking the store's signature,
//     runs inside that request;
//   - recomputes the order digest from the order it was shown
//     (order.Digest), as the payment page does, and refuses to go on if
//     switchd's digest differs;
//   - C authenticates payer and issuer to each other over that digest, the
//     payer leading: with an OCRA key through switchd/wallet, or with a
//     software passkey (plugins/passkey/passkeytest) that it enrols on first
//     use, with the activation code the issuer gave the payer
//     (Payer.EnrollmentCode), and keeps in a file, so its sign counter keeps
//     moving forward;
//   - D happens inside switchd (the issuer debits, the acquirer credits);
//   - E receives the signed webhook on its own HTTP listener (the merchant's
//     webhook_url) and verifies its Standard Webhooks signature
//     (VerifyWebhook).
//
// It then prints each step with its duration, taken from the payment's
// timeline (GET /v1/payments/{id}/events) so every step is timed on the
// daemon's clock; E is the time from the approval on the daemon's clock to
// the verified webhook on the demo's (one machine in the quickstart).
package checkout
