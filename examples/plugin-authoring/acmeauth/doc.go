// Package acmeauth is Acme Bank's step-C authenticator for switchd,
// written from scratch against the public SDK (github.com/switchd/switchd/
// plugins/sdk) as any bank's engineer would: the worked example of
// examples/plugin-authoring/README.md.
//
// The mechanism, "acme-hmac", is a mutual challenge-response over a key K
// shared by the bank and the payer's app, bound to the order digest D:
//
//  1. Begin: the payer sends {"payer_nonce": hex(16 random bytes)} (Np).
//     The bank picks Ns (16 random bytes) and proves it holds K for this
//     very order: issuer_proof = HMAC-SHA256(K, "acme-issuer-v1" || D ||
//     Np || Ns). challenge_data is {"server_nonce": hex(Ns),
//     "issuer_proof": hex}.
//  2. The payer's app recomputes issuer_proof from the digest it computed
//     itself and refuses to go on if it differs (the bank is genuine and
//     the order is the one shown).
//  3. Finish: {"payer_proof": hex(HMAC-SHA256(K, "acme-payer-v1" || D || Ns
//     || Np))}. The bank spends the open challenge, recomputes the proof
//     with the digest of the Finish request and compares in constant time;
//     on approval it attests D with its Ed25519 key (order.AttestationMessage
//     "C").
//
// Wallet is the payer's side. Open challenges live in memory: a restart
// drops them and the payer simply begins again, so a replayed answer can
// never be accepted. Proofs are 256-bit HMACs, which cannot be guessed in
// any number of tries, so there is no lockout.
package acmeauth
