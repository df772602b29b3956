package daemon

import "errors"

// ErrConfig is returned when the network configuration has errors; the
// error text carries the diagnostics.
var ErrConfig = errors.New("daemon: configuration rejected")

// ErrPluginChanged is returned by Reload when a running plugin's path or
// digest changed; replacing a plugin binary needs a restart.
var ErrPluginChanged = errors.New("daemon: a running plugin's binary changed; restart switchd to replace it")
