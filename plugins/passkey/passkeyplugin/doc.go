// Package passkeyplugin implements the passkey authenticator: step C of the
// switchd flow, on the issuer's side, with WebAuthn passkeys
// (github.com/go-webauthn/webauthn), plus enrolment of the payer's passkey.
//
// Enrolment (only payers listed in a payer block with an
// enrollment_code_sha256, only with the activation code whose SHA-256 that
// is, and only while they have no passkey yet):
//
//  1. BeginEnrollment takes payer_data {"enrollment_code": "..."}; the code
//     is hashed and compared in constant time, never logged or stored. A
//     wrong code counts toward the payer's lock like a wrong assertion. It
//     returns challenge_data = the
//     PublicKeyCredentialCreationOptions as JSON, wrapped as
//     {"publicKey": {...}}, with challenge and user.id base64url. The page
//     decodes those two (and excludeCredentials[].id) to bytes and calls
//     navigator.credentials.create.
//  2. FinishEnrollment takes the browser's credential as JSON (id, rawId,
//     type, response.clientDataJSON and response.attestationObject, all
//     base64url) and stores the credential; credential_id is its id,
//     base64url.
//
// Step C (the payer leads by asking; the issuer answers with a challenge
// bound to the order):
//
//  1. BeginMutualAuth picks a one-time 32-byte nonce and sets the WebAuthn
//     challenge to Challenge(digest, nonce) = SHA-256("switchd-passkey-v1"
//     || digest || nonce). challenge_data is {"publicKey": request options
//     with that challenge and allowCredentials, "nonce": base64url,
//     "digest": hex}. The page recomputes the challenge from the digest it
//     computed itself and the nonce before it asks the authenticator: that
//     is the issuer's proof to the payer that this exact order is signed.
//  2. FinishMutualAuth takes the assertion JSON (id, rawId, type,
//     response.clientDataJSON, authenticatorData, signature, userHandle),
//     recomputes the challenge from this request's digest and the stored
//     nonce and verifies the assertion with go-webauthn: origin, RP ID
//     hash, user presence, user verification when configured, signature,
//     and a sign counter that moves forward. On approval the issuer attests
//     the digest at step "C".
//
// Each challenge serves one Finish, right or wrong. After max_failures
// failed assertions in a row the payer is locked; Begin and Finish then
// decline with "locked". A failed assertion declines with "auth_failed",
// whatever was wrong; a payer with no passkey declines with
// "unknown_payer"; an answer to a challenge that is spent, replaced,
// expired or forgotten at a restart declines with "replay".
//
// State lives in a bbolt file (passkey.db) in the instance's data dir: the
// payers' public credentials (with their sign counters), open enrolments,
// failure counts and locks. Nothing in it is secret. Open step-C
// challenges live in memory (openSet), so a restart forgets them and Begin
// writes nothing; Finish writes only the failure count and the credential
// when the assertion changed its sign counter. The attestation key lives
// only in memory. RemovePayer, run by the operator's remove command while
// the plugin is stopped, removes a payer's passkeys and open enrolment so
// that the payer can enrol a new one (lost phone).
//
// The package is importable so that tests and benchmarks can run the
// plugin in-process; the binary in plugins/passkey serves it with
// sdk.Serve.
package passkeyplugin
