// Package ledger is the double-entry ledger behind the built-in card and
// bank-transfer plugins: one per institution, in memory, its durable state
// kept by the switch.
//
// Every movement of money is a transfer between two accounts that is posted
// as a debit and a credit of the same amount, so the balances of one ledger
// always sum to zero per currency. Three kinds of account exist:
//
//   - customer accounts (a card, a bank account, a merchant's settlement
//     account), each with a floor: its balance may not go below -Limit;
//   - the clearing account of a currency ("clearing:EUR"), which holds what
//     the institution owes to or is owed by the scheme: an issuer's Debit
//     moves payer → clearing, an acquirer's Credit moves clearing → merchant,
//     so across the issuer's and the acquirer's ledgers money is conserved;
//   - the seed account of a currency ("seed:EUR"), the equity account from
//     which configured opening balances are posted.
//
// # Where the ledger lives
//
// The plugins list the host_state capability: the ledger opens no file.
// Every call that changes it (Seed at Configure, Transfer, Reverse) applies
// the change in memory under the ledger's lock and returns, with its
// answer, the records that make the answer true (package
// plugins/ledgerstate: accounts, each operation's result, journal entries
// keyed by payment and operation; never a balance). The switch commits them
// in its own database, switchd.db (bucket plugin_state, one sub-bucket per
// plugin and instance), before it acts on the answer, so its backup covers
// the ledgers consistently with the payments. At start it hands them back
// (Load, from LoadState) before the instance's Configure, and the balances
// are summed again from the journal. Any answer about an operation, a
// retry or a Status included, repeats that operation's records, so an
// answer the switch lost becomes durable the next time it asks; an error
// returns none and changes nothing.
//
// Every money-moving operation is keyed by (payment id, operation); its
// result is kept with its postings. A repeated call, even after a restart
// from the committed records, returns the stored result and moves nothing.
//
// # The file of release 1.0.0
//
// Up to release 1.0.0 each institution's ledger was a bbolt file,
// <data_dir>/ledger.db, each call a group-committed fsynced transaction.
// Export (ExportState) reads that file read-only, checks it, returns its
// state as records and renames it to ledger.db.imported; it answers the
// same records from the renamed file until the switch holds some.
// Package oldledger holds a file written by that release, and what it
// answered, for the tests.
//
// # A bank's own core
//
// The plugins talk to the Core interface, so a bank can put calls to its own
// core system in place of this ledger. Such a core keeps its own
// durability (it commits before it answers) and returns no records; a
// plugin built on it does not list host_state.
package ledger
