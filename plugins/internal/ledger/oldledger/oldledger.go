// Package oldledger holds, for the tests of its export, a ledger file
// written by the bbolt ledger of release 1.0.0 (ledger.db) and what that
// ledger answered when it wrote it (expected.json). Only tests import it.
package oldledger

import (
	_ "embed"
	"fmt"
	"os"
	"path/filepath"
)

// File is the old ledger file's name in an instance's data dir, as
// ledger.OldFile.
const File = "ledger.db"

//go:embed ledger.db
var db []byte

// Expected is expected.json: the balances and operation results that the
// ledger of release 1.0.0 answered when it wrote ledger.db.
//
//go:embed expected.json
var Expected []byte

// Write puts the ledger.db of release 1.0.0 in dataDir, as an instance of
// that release left it. Its signature is plugintest.Suite.OldState's.
func Write(dataDir string) error {
	if err := os.WriteFile(filepath.Join(dataDir, File), db, 0o600); err != nil {
		return fmt.Errorf("oldledger: %w", err)
	}
	return nil
}
