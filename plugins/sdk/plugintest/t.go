package plugintest

import "testing"

// tb is the part of *testing.T the kit uses, with a Run whose callback
// takes a tb, so the kit's own tests can run it against a recorder and
// assert that a check fails.
type tb interface {
	Helper()
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
	Logf(format string, args ...any)
	Skipf(format string, args ...any)
	Failed() bool
	Cleanup(func())
	TempDir() string
	Run(name string, f func(tb)) bool
}

// stdT adapts *testing.T to tb.
type stdT struct{ *testing.T }

func (s stdT) Run(name string, f func(tb)) bool {
	return s.T.Run(name, func(t *testing.T) { f(stdT{t}) })
}
