package boltgroup

import "errors"

// ErrClosed is returned by Update when the Committer has been closed; the
// fn does not run.
var ErrClosed = errors.New("boltgroup: closed")
