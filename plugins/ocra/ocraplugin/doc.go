// Package ocraplugin implements the ocra authenticator: step C of the
// switchd flow, on the issuer's side, as RFC 6287 OCRA mutual
// challenge-response bound to the order digest (see package rfc6287 for the
// profile). The payer leads:
//
//  1. BeginMutualAuth takes payer_data {"client_challenge": Q_C}. The issuer
//     picks a one-time nonce, derives Q_S from the order digest and the
//     nonce, and returns challenge_data {"suite", "server_response": R_S,
//     "server_challenge": Q_S, "nonce"} with R_S = OCRA(K, Q_C || Q_S).
//  2. FinishMutualAuth takes payer_data {"client_response": R_C} and checks
//     R_C = OCRA(K, Q_S || Q_C) against the same digest. On approval the
//     issuer attests the digest at step "C".
//
// Each challenge serves one Finish, right or wrong. After max_failures wrong
// answers in a row the payer's credential is locked; Begin and Finish then
// decline with "locked". Every wrong answer declines with "auth_failed",
// whichever part was wrong. Failure counts and locks live in a bbolt file
// (ocra.db) in the instance's data dir; open challenges live in memory
// (openSet), so a restart forgets them and an approved payment writes
// nothing; keys live only in memory.
//
// The package is importable so that benchmarks can run the plugin
// in-process; the binary in plugins/ocra serves it with sdk.Serve.
package ocraplugin
