package plugintest

import "errors"

// ErrNoTarget is returned when a Suite's Target is the zero value: use
// Binary or InProcess.
var ErrNoTarget = errors.New("plugintest: Suite.Target is not set; use Binary or InProcess")
