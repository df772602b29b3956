// Package servetest is test support for starting switchd daemons and
// learning their bound addresses. A daemon started with --api-addr and
// --admin-addr on port 0 listens on ports the kernel picks at bind time;
// its "switchd serving" line (logged by daemon.Start once both listeners
// are bound) is how a test learns them. ServingAddrs reads that line in
// either log format, and WaitServing and WaitReady wait for it.
//
// It is imported only by tests.
package servetest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Msg is the message of the line `switchd serve` logs once it listens,
// with the bound addresses as attributes api and admin.
const Msg = "switchd serving"

// poll is how often WaitServing and WaitReady look again.
const poll = 50 * time.Millisecond

// ServingAddrs returns the api and admin addresses of the first complete
// (newline-terminated) "switchd serving" line in log. Each line is in
// either of the daemon's log formats: text (log/slog's TextHandler:
// key=value, a value quoted when it needs to be) or JSON (one object a
// line). A line that only carries the message in another attribute (a
// plugin's output, say) does not count, nor does one without both
// addresses.
func ServingAddrs(log string) (api, admin string, ok bool) {
	lines := strings.Split(log, "\n")
	for _, line := range lines[:len(lines)-1] { // the last is incomplete, or empty
		var v struct {
			Msg   string `json:"msg"`
			API   string `json:"api"`
			Admin string `json:"admin"`
		}
		if strings.HasPrefix(line, "{") {
			if json.Unmarshal([]byte(line), &v) != nil {
				continue
			}
		} else {
			f := logfmt(line)
			v.Msg, v.API, v.Admin = f["msg"], f["api"], f["admin"]
		}
		if v.Msg == Msg && v.API != "" && v.Admin != "" {
			return v.API, v.Admin, true
		}
	}
	return "", "", false
}

// logfmt parses one text log line into its attributes. It stops at the
// first token that is not key=value.
func logfmt(line string) map[string]string {
	out := map[string]string{}
	for {
		line = strings.TrimLeft(line, " ")
		key, rest, ok := strings.Cut(line, "=")
		if !ok || key == "" || strings.Contains(key, " ") {
			return out
		}
		var val string
		if strings.HasPrefix(rest, `"`) {
			q, err := strconv.QuotedPrefix(rest)
			if err != nil {
				return out
			}
			val, _ = strconv.Unquote(q)
			rest = rest[len(q):]
		} else {
			val, rest, _ = strings.Cut(rest, " ")
		}
		out[key] = val
		line = rest
	}
}

// WaitServing waits until log (the daemon's output so far, from this
// start on) holds a complete "switchd serving" line and returns its
// addresses. It returns ErrExited once exited is closed (the daemon
// ended), and an error if timeout passes first.
func WaitServing(log func() string, exited <-chan struct{}, timeout time.Duration) (api, admin string, err error) {
	return waitServing(log, exited, time.Now().Add(timeout), timeout)
}

func waitServing(log func() string, exited <-chan struct{}, deadline time.Time, timeout time.Duration) (api, admin string, err error) {
	for {
		select {
		case <-exited:
			return "", "", ErrExited
		default:
		}
		if api, admin, ok := ServingAddrs(log()); ok {
			return api, admin, nil
		}
		if time.Now().After(deadline) {
			return "", "", fmt.Errorf("daemon logged no %q line within %s", Msg, timeout)
		}
		time.Sleep(poll)
	}
}

// WaitReady is WaitServing, and then waits until the admin address's
// /readyz answers 200, all within timeout. It returns ErrExited once
// exited is closed before that.
func WaitReady(log func() string, exited <-chan struct{}, timeout time.Duration) (api, admin string, err error) {
	deadline := time.Now().Add(timeout)
	api, admin, err = waitServing(log, exited, deadline, timeout)
	if err != nil {
		return "", "", err
	}
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	for {
		select {
		case <-exited:
			return "", "", ErrExited
		default:
		}
		last := readyz(ctx, admin)
		if last == nil {
			return api, admin, nil
		}
		if time.Now().After(deadline) {
			return "", "", fmt.Errorf("daemon did not become ready within %s: %w", timeout, last)
		}
		time.Sleep(poll)
	}
}

// readyz asks the admin API at addr whether the daemon is ready: nil if
// it answers 200.
func readyz(ctx context.Context, addr string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/readyz", nil)
	if err != nil {
		return err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("/readyz: %s", res.Status)
	}
	return nil
}
