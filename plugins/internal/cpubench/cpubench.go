// Package cpubench reports the CPU time a benchmark's process spends per
// operation (user plus system, from getrusage), as the metric "cpu-µs/op".
// Wall time per op says little for the plugins' parallel benchmarks, whose
// goroutines mostly wait for a shared fsync; their CPU per op is what a
// plugin process costs per call under load.
package cpubench

import (
	"syscall"
	"testing"
	"time"
)

// Start resets b's timer and returns a function that, called when the
// timed loop ends, reports the process's CPU time per b.N as cpu-µs/op.
// The CPU of every goroutine counts, the group committer's and the
// kernel's fsync work included.
func Start(b *testing.B) func() {
	b.Helper()
	start := cpuNow(b)
	b.ResetTimer()
	return func() {
		b.StopTimer()
		used := cpuNow(b) - start
		b.ReportMetric(float64(used.Microseconds())/float64(b.N), "cpu-µs/op")
	}
}

func cpuNow(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatalf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
