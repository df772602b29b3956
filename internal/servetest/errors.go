package servetest

import "errors"

// ErrExited is returned by WaitServing and WaitReady when the daemon
// exits before it is serving (or ready).
var ErrExited = errors.New("daemon exited during start")
