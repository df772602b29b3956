// Package ledger is the double-entry ledger behind the built-in card and
// bank-transfer plugins: one bbolt file per institution.
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
// Every money-moving operation is keyed by (payment id, operation) and its
// result is stored in the same bbolt transaction as its postings, with
// bbolt's fsync on commit. A repeated call, even after a crash and restart,
// returns the stored result and moves nothing.
//
// The plugins talk to the Core interface, not to bbolt, so a bank can put
// calls to its own core system in place of this ledger.
package ledger
