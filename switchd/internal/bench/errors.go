package bench

import "errors"

var (
	// ErrOptions is returned when Run's options are unusable (no bound,
	// no payers, a missing plugin binary); nothing was started.
	ErrOptions = errors.New("bench: invalid options")
	// ErrServer is returned when a bench server (the daemon or the
	// in-process ceiling) did not start or stop.
	ErrServer = errors.New("bench: server")
	// ErrProc is returned when a process's /proc entry cannot be parsed.
	ErrProc = errors.New("bench: unreadable /proc entry")
	// ErrNoPayments is returned when a load phase completed no payment at
	// all, so no figure can be computed.
	ErrNoPayments = errors.New("bench: no payment completed")
)
