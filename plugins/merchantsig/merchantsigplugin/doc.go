// Package merchantsigplugin implements the merchantsig authenticator: step B
// of the switchd flow, on the acquirer's side.
//
// A store signs its order terms with Ed25519: the message is
// order.SellerMessage(order.TermsDigest(o), signedAtMS). AuthenticateSeller
// checks, in this order, that the merchant is registered, that the key id is
// one of its keys, that the signature is valid, that signed_at is within
// the replay window of now (either way), and that the signature has not
// been used for another payment. A retry of the same signature for the same
// payment id (the host retrying after a crash) is approved again.
//
// Accepted signatures are remembered in a bbolt file (merchantsig.db) in
// the instance's data dir until their window has passed, so a restart does
// not reopen the window. A record's key is signed_at (Unix ms, 8 bytes big
// endian) followed by the SHA-256 of the signature, so that the approvals
// of one group commit rewrite the newest page or two of the tree and the
// expired records are the first keys (see state.go). Records left by
// version 1.0.0 (keyed by the signature's hash alone) are read until none
// can matter any more, then their buckets are dropped. On approval the
// acquirer attests the full order digest at step "B" with its own Ed25519
// key.
//
// The package is importable so that benchmarks can run the plugin
// in-process; the binary in plugins/merchantsig serves it with sdk.Serve.
package merchantsigplugin
