// Package failpoint crashes a test build of the daemon at a named point, to
// check what survives a crash just before or just after a durable commit,
// a webhook delivery or a plugin call.
//
// Only binaries built with -tags failpoints call it: packages store,
// outbox, flow and pluginhost each have a failpoint.go (build tag failpoints) whose hook calls
// Hit, and a failpoint_off.go (!failpoints) whose hook is empty, so release
// builds carry no failpoint code at all.
//
// The point to arm comes from the environment variable SWITCHD_FAILPOINT,
// read once:
//
//	SWITCHD_FAILPOINT=<point>[:<detail>]@<n>
//
// arms the point (and, when given, only hits with that detail) and, on its
// n-th hit, writes "failpoint <point>:<detail> fired" to stderr and kills
// the process with SIGKILL: no deferred function, no shutdown code, no
// buffered write runs, as in a power cut of the process. Points:
//
//	store.commit      before | after     around each bbolt transaction commit
//	outbox.deliver    before | after     around each delivery attempt (the HTTP POST)
//	flow.call.before  <rpc>              before each plugin call (Debit, Credit, ...)
//	flow.call.after   <rpc>              after it returned, before its result is stored
//	pluginhost.commit.before <rpc>       a host_state plugin answered; its state writes are not committed yet
//	pluginhost.commit.after  <rpc>       its state writes are committed; the answer has not reached the flow
package failpoint

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
)

// Env is the environment variable arming a failpoint.
const Env = "SWITCHD_FAILPOINT"

type spec struct {
	point, detail string
	n             int64
}

var (
	once  sync.Once
	armed *spec
	hits  atomic.Int64
)

// Parse reads a SWITCHD_FAILPOINT value. It returns an error for anything
// but "<point>[:<detail>]@<n>" with n >= 1.
func Parse(v string) (point, detail string, n int64, err error) {
	name, count, ok := strings.Cut(v, "@")
	if !ok || name == "" {
		return "", "", 0, fmt.Errorf("failpoint: %q: want <point>[:<detail>]@<n>", v)
	}
	n, err = strconv.ParseInt(count, 10, 64)
	if err != nil || n < 1 {
		return "", "", 0, fmt.Errorf("failpoint: %q: hit count must be a positive integer", v)
	}
	point, detail, _ = strings.Cut(name, ":")
	return point, detail, n, nil
}

func load() {
	v := os.Getenv(Env)
	if v == "" {
		return
	}
	point, detail, n, err := Parse(v)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	armed = &spec{point: point, detail: detail, n: n}
}

// Hit counts a hit of point with detail, and kills the process on the
// armed hit.
func Hit(point, detail string) {
	once.Do(load)
	a := armed
	if a == nil || a.point != point || (a.detail != "" && a.detail != detail) {
		return
	}
	if hits.Add(1) != a.n {
		return
	}
	fmt.Fprintf(os.Stderr, "failpoint %s:%s fired\n", point, detail)
	syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {} // the signal is on its way
}
