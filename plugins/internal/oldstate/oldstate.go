// Package oldstate hands a built-in plugin's own state file over to the
// switch, for ExportState (sdk.StateHolder), the same way for every
// plugin whose state moved into the host (card and banktransfer's
// ledger.db, merchantsig's merchantsig.db): the file is read and then
// renamed with ImportedSuffix, so that no later release takes it for live
// state, and the renamed file is read again for as long as the host asks,
// since the host may stop before it commits the records.
package oldstate

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
)

// ImportedSuffix is added to a state file's name once it has been exported.
const ImportedSuffix = ".imported"

// ErrBothFiles is returned by Export when the state file and its renamed
// copy both exist (an earlier release ran again after the import): which
// one holds the state is for an operator to say.
var ErrBothFiles = errors.New("oldstate: the state file and its imported copy both exist")

// Export returns the records read finds in the state file at path and then
// renames the file to path+ImportedSuffix. When only the renamed file
// exists it returns what read finds there and renames nothing. With
// neither file it returns nil, without calling read. With both it returns
// an error wrapping ErrBothFiles. An error of read is returned as it is,
// and nothing is renamed.
func Export(path string, read func(path string) ([]*pb.StateWrite, error)) ([]*pb.StateWrite, error) {
	imported := path + ImportedSuffix
	curOK, err := exists(path)
	if err != nil {
		return nil, err
	}
	impOK, err := exists(imported)
	if err != nil {
		return nil, err
	}
	switch {
	case curOK && impOK:
		return nil, fmt.Errorf("%w: %s and %s; move away the one that does not hold the state to import", ErrBothFiles, path, imported)
	case impOK:
		return read(imported)
	case !curOK:
		return nil, nil
	}
	recs, err := read(path)
	if err != nil {
		return nil, err
	}
	if err := os.Rename(path, imported); err != nil {
		return nil, fmt.Errorf("oldstate: %w", err)
	}
	return recs, nil
}

func exists(path string) (bool, error) {
	_, err := os.Stat(path)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	}
	return false, fmt.Errorf("oldstate: %w", err)
}
