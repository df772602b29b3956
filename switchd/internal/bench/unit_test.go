package bench

import (
	"os"
	"runtime"
	"testing"
	"time"
)

func TestPercentiles(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		out := make([]time.Duration, len(v))
		for i, x := range v {
			out[i] = time.Duration(x) * time.Millisecond
		}
		return out
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = 100 - i // 100..1, unsorted on purpose
	}
	for _, tc := range []struct {
		name string
		in   []time.Duration
		want Percentiles
	}{
		{"empty", nil, Percentiles{}},
		{"one", ms(7), Percentiles{N: 1, P50: 7, P95: 7, P99: 7, Max: 7, Mean: 7}},
		{"nearest rank of 1..100", ms(hundred...), Percentiles{N: 100, P50: 50, P95: 95, P99: 99, Max: 100, Mean: 50.5}},
		{"outlier only in max and p99 of few", ms(1, 1, 1, 1000), Percentiles{N: 4, P50: 1, P95: 1000, P99: 1000, Max: 1000, Mean: 250.75}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := percentiles(tc.in); got != tc.want {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestLuhn(t *testing.T) {
	for _, tc := range []struct{ digits, want string }{
		{"411111111111111", "4111111111111111"}, // the classic test Visa
		{"7992739871", "79927398713"},           // Luhn's own example
		{"110010000", "1100100005"},             // a bench account number
	} {
		t.Run(tc.digits, func(t *testing.T) {
			if got := luhn(tc.digits); got != tc.want {
				t.Fatalf("luhn(%s) = %s, want %s", tc.digits, got, tc.want)
			}
		})
	}
}

func TestProcReaders(t *testing.T) {
	for _, tc := range []struct {
		name string
		pid  int
		ok   bool
	}{
		{"init", 1, true}, // pid 1 always exists and is readable
		{"no such process", 1 << 30, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, errCPU := procCPU(tc.pid)
			if (errCPU == nil) != tc.ok {
				t.Fatalf("procCPU(%d): %v", tc.pid, errCPU)
			}
		})
	}
	rss, err := peakRSS(os.Getpid())
	if err != nil || rss < 1<<20 {
		t.Fatalf("peak RSS of this process: %d, %v", rss, err)
	}
	// A heap allocation this test touches shows in the anonymous RSS.
	before, err := anonRSS(os.Getpid())
	if err != nil || before <= 0 || before > rss {
		t.Fatalf("anon RSS of this process: %d, %v (peak %d)", before, err, rss)
	}
	ballast := make([]byte, 64<<20)
	for i := range ballast {
		ballast[i] = 1
	}
	after, err := anonRSS(os.Getpid())
	if err != nil || after < before+32<<20 {
		t.Errorf("anon RSS %d after touching 64 MiB, %d before (%v)", after, before, err)
	}
	if _, err := anonRSS(1 << 30); err == nil {
		t.Error("anonRSS of a process that does not exist succeeded")
	}
	runtime.KeepAlive(ballast)
}
