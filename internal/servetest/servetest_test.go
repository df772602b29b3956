package servetest

import (
	"bytes"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/switchd/switchd/internal/testbin"
)

// logLine is one line as the daemon's logger writes it in format
// ("text" or "json"): log/slog's TextHandler or JSONHandler.
func logLine(format, msg string, args ...any) string {
	var b bytes.Buffer
	h := slog.Handler(slog.NewTextHandler(&b, nil))
	if format == "json" {
		h = slog.NewJSONHandler(&b, nil)
	}
	slog.New(h).Info(msg, args...)
	return b.String()
}

// TestServingAddrs: the bound addresses are found in the line log/slog
// writes in either of the daemon's formats, once it is complete, and in
// nothing else.
func TestServingAddrs(t *testing.T) {
	for _, format := range []string{"text", "json"} {
		line := func(msg string, args ...any) string { return logLine(format, msg, args...) }
		serving := line(Msg, "api", "127.0.0.1:40001", "admin", "127.0.0.1:40002", "generation", 1)
		for _, tc := range []struct {
			name           string
			log            string
			ok             bool
			wantAPI, wantA string
		}{
			{name: "after other lines", log: line("recovered interrupted payments", "count", 0) + serving,
				ok: true, wantAPI: "127.0.0.1:40001", wantA: "127.0.0.1:40002"},
			{name: "IPv6", log: line(Msg, "api", "[::1]:40001", "admin", "[::1]:40002"),
				ok: true, wantAPI: "[::1]:40001", wantA: "[::1]:40002"},
			{name: "quoted values", log: line(Msg, "api", "a b:1", "admin", `c"d:2`),
				ok: true, wantAPI: "a b:1", wantA: `c"d:2`},
			{name: "first of two starts", log: serving + line(Msg, "api", "127.0.0.1:5", "admin", "127.0.0.1:6"),
				ok: true, wantAPI: "127.0.0.1:40001", wantA: "127.0.0.1:40002"},
			{name: "warning", log: strings.Replace(serving, "INFO", "WARN", 1),
				ok: true, wantAPI: "127.0.0.1:40001", wantA: "127.0.0.1:40002"},
			{name: "not yet complete", log: serving[:len(serving)-1]},
			{name: "message only in an attribute", log: line("plugin output", "text", Msg+" api=1.2.3.4:1 admin=1.2.3.4:2")},
			{name: "message as another key", log: line("plugin output", "message", Msg, "api", "1.2.3.4:1", "admin", "1.2.3.4:2")},
			{name: "no admin", log: line(Msg, "api", "127.0.0.1:40001")},
			{name: "empty admin", log: line(Msg, "api", "127.0.0.1:40001", "admin", "")},
			{name: "empty", log: ""},
			{name: "not logfmt", log: "panic: switchd serving api=x admin=y\n"},
			{name: "not JSON", log: `{"msg":"switchd serving","api":"x","admin":"y"` + "\n"},
		} {
			t.Run(format+"/"+tc.name, func(t *testing.T) {
				api, admin, ok := ServingAddrs(tc.log)
				if ok != tc.ok || api != tc.wantAPI || admin != tc.wantA {
					t.Errorf("ServingAddrs(%q) = %q, %q, %v; want %q, %q, %v", tc.log, api, admin, ok, tc.wantAPI, tc.wantA, tc.ok)
				}
			})
		}
	}
}

// FuzzServingAddrs: whatever the addresses, ServingAddrs reads back what
// either log format wrote.
func FuzzServingAddrs(f *testing.F) {
	f.Add("127.0.0.1:40001", "127.0.0.1:40002")
	f.Add("[::1]:1", "a b:2")
	f.Add(`c"d:2`, "x=y\nz")
	f.Fuzz(func(t *testing.T, api, admin string) {
		if api == "" || admin == "" || !utf8.ValidString(api) || !utf8.ValidString(admin) {
			t.Skip("the daemon logs non-empty UTF-8 addresses")
		}
		for _, format := range []string{"text", "json"} {
			log := logLine(format, "plugin output", "text", Msg) + logLine(format, Msg, "api", api, "admin", admin)
			if a, b, ok := ServingAddrs(log); !ok || a != api || b != admin {
				t.Errorf("%s: ServingAddrs(%q) = %q, %q, %v", format, log, a, b, ok)
			}
		}
	})
}

// readyServer is an admin API whose /readyz answers 503 until ready is
// set.
func readyServer(t *testing.T, ready *atomic.Bool) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/readyz" || !ready.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// TestWait: WaitServing returns once the serving line is complete and
// WaitReady once /readyz answers 200 at its admin address; either fails
// with ErrExited when the daemon ends first, and with another error when
// the time is up.
func TestWait(t *testing.T) {
	const timeout = 2 * time.Second
	for _, tc := range []struct {
		name      string
		ready     bool // /readyz answers 200 (after the line)
		line      bool // the serving line is logged
		exit      bool // the daemon exits after its first lines
		wantErr   error
		serveOnly bool // only the serving line is awaited (WaitServing)
	}{
		{name: "ready", line: true, ready: true},
		{name: "serving", line: true, serveOnly: true},
		{name: "exited before the line", exit: true, wantErr: ErrExited},
		{name: "exited after the line, before ready", line: true, exit: true, wantErr: ErrExited},
		{name: "no line", wantErr: errAny},
		{name: "never ready", line: true, wantErr: errAny},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var ready atomic.Bool
			admin := readyServer(t, &ready)
			var log testbin.SyncBuffer
			exited := make(chan struct{})
			// The daemon starts: other lines, then (a little later) the
			// serving line in two writes, then it becomes ready or exits.
			go func() {
				log.Write([]byte(logLine("text", "recovered interrupted payments", "count", 0)))
				time.Sleep(100 * time.Millisecond)
				if tc.line {
					serving := logLine("text", Msg, "api", "127.0.0.1:1", "admin", admin)
					log.Write([]byte(serving[:10]))
					time.Sleep(100 * time.Millisecond)
					log.Write([]byte(serving[10:]))
				}
				time.Sleep(100 * time.Millisecond)
				if tc.exit {
					close(exited)
				}
				ready.Store(tc.ready)
			}()
			wait := WaitReady
			if tc.serveOnly {
				wait = WaitServing
			}
			api, gotAdmin, err := wait(log.String, exited, timeout)
			switch {
			case tc.wantErr == nil && err != nil:
				t.Fatalf("err = %v", err)
			case tc.wantErr == nil && (api != "127.0.0.1:1" || gotAdmin != admin):
				t.Fatalf("addresses %q, %q; want 127.0.0.1:1, %q", api, gotAdmin, admin)
			case tc.wantErr == errAny && (err == nil || errors.Is(err, ErrExited)):
				t.Fatalf("err = %v, want a timeout", err)
			case tc.wantErr != nil && tc.wantErr != errAny && !errors.Is(err, tc.wantErr):
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			case tc.wantErr != nil && (api != "" || gotAdmin != ""):
				t.Fatalf("addresses %q, %q with error %v", api, gotAdmin, err)
			}
		})
	}
}

// errAny in TestWait's table stands for an error other than ErrExited.
var errAny = errors.New("any error but ErrExited")
