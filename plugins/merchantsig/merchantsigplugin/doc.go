// Package merchantsigplugin implements the merchantsig authenticator: step B
// of the switchd flow, on the acquirer's side.
//
// A store signs its order terms with Ed25519: the message is
// order.SellerMessage(order.TermsDigest(o), signedAtMS). AuthenticateSeller
// checks, in this order, that the merchant is registered, that the key id is
// one of its keys, that the signature is valid, that signed_at is within
// the replay window of now (either way), and that the signature has not
// been used for another payment. A retry of the same signature for the same
// payment id (the host retrying after a crash) is approved again. On
// approval the acquirer attests the full order digest at step "B" with its
// own Ed25519 key.
//
// # Replay records in the host
//
// The plugin keeps its durable state in the switch's database
// (sdk.CapHostState, sdk.StateHolder): it opens no file. Per instance it
// holds in memory the signatures it approved that may still pass the
// window check, one record each (replay.go):
//
//	key:   signed_at ms (8 bytes, big endian) || sha256(signature)
//	value: uvarint(len(payment id)) || payment id || merchant id
//
// An approval applies its record to memory and returns it in the answer's
// state_writes, which the host commits before it acts on the answer; a
// retry of the same payment returns the same record again, so an answer
// the host lost becomes durable when the host asks again. Declines and
// errors write nothing. Two approvals' records have different keys, so
// they commute. The host calls LoadState with the committed records before
// an instance's first Configure in each process; Configure before that is
// refused (FailedPrecondition).
//
// # Purging expired records
//
// A record whose signature is older than the window can no longer change a
// decision: the window check refuses the signature first. The host stores
// only what answers carry, so deleting a record in the host takes an
// answer too. The choice made here: each approval carries, besides its own
// record, deletes (empty values) of up to PurgePerAnswer expired records,
// oldest first. The work per answer is bounded (at most PurgePerAnswer
// heap pops and writes, whatever the backlog), the deletes go to the
// oldest keys of the instance's bucket (the first leaf pages), and at one
// approval per record expiring a backlog shrinks by PurgePerAnswer-1 per
// approval, so the host holds about one window of records once traffic
// has run for a while. Declines purge nothing: they write nothing.
// Configure, which would be the other candidate, would have to delete a
// whole backlog in one answer (unbounded, and beyond a gRPC message after
// a long stop) and runs only at start and reload.
//
// LoadState and Configure drop expired records from memory at once:
// LoadState, which runs before Configure and so before the window is
// known, those signed more than MaxReplayWindow (the widest window a
// configuration may set) ago; Configure those older than its window. Their
// keys wait in a queue that the next approvals' deletes drain first. A
// delete in an answer the host lost stays in the host until the next
// LoadState finds the record expired and queues it again.
//
// # Importing the state file of 1.1.0 and earlier
//
// Versions up to 1.1.0 kept the records in a bbolt file, StateFile, in the
// instance's data dir: bucket "approved" (the records above) and, from
// versions before 1.1.0, buckets "sigs" and "expiry" (export.go).
// ExportState, which the host calls while it holds no record of the
// instance, reads that file read-only, exports the records signed within
// MaxReplayWindow (1.0.0 records converted: their key holds the time their
// window ended in signed_at's place) and renames the file to
// StateFile+ImportedSuffix; while only the renamed file exists it exports
// the same records from it.
//
// The package is importable so that benchmarks can run the plugin
// in-process; the binary in plugins/merchantsig serves it with sdk.Serve.
package merchantsigplugin
