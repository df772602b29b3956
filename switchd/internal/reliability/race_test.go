//go:build race

package reliability

// raceEnabled: the suite's subprocess tests are skipped under -race. The
// race detector would instrument only this test process (the harness),
// not the daemon or plugin binaries it runs, so the run would cost minutes
// and check nothing of switchd's own code.
const raceEnabled = true
