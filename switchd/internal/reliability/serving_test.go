package reliability

import (
	"bytes"
	"log/slog"
	"testing"
)

// TestServingAddrs: the harness finds the bound addresses in the line
// log/slog's TextHandler writes (the daemon's text format), and in
// nothing else.
func TestServingAddrs(t *testing.T) {
	line := func(msg string, args ...any) string {
		var b bytes.Buffer
		slog.New(slog.NewTextHandler(&b, nil)).Info(msg, args...)
		return b.String()
	}
	serving := line(servingMsg, "api", "127.0.0.1:40001", "admin", "127.0.0.1:40002", "generation", 1)
	for _, tc := range []struct {
		name           string
		log            string
		ok             bool
		wantAPI, wantA string
	}{
		{name: "after other lines", log: line("recovered interrupted payments", "count", 0) + serving,
			ok: true, wantAPI: "127.0.0.1:40001", wantA: "127.0.0.1:40002"},
		{name: "IPv6", log: line(servingMsg, "api", "[::1]:40001", "admin", "[::1]:40002"),
			ok: true, wantAPI: "[::1]:40001", wantA: "[::1]:40002"},
		{name: "quoted values", log: line(servingMsg, "api", "a b:1", "admin", `c"d:2`),
			ok: true, wantAPI: "a b:1", wantA: `c"d:2`},
		{name: "first of two starts", log: serving + line(servingMsg, "api", "127.0.0.1:5", "admin", "127.0.0.1:6"),
			ok: true, wantAPI: "127.0.0.1:40001", wantA: "127.0.0.1:40002"},
		{name: "not yet complete", log: serving[:len(serving)-1]},
		{name: "message only in an attribute", log: line("plugin output", "text", servingMsg+" api=1.2.3.4:1 admin=1.2.3.4:2")},
		{name: "no admin", log: line(servingMsg, "api", "127.0.0.1:40001")},
		{name: "empty", log: ""},
		{name: "not logfmt", log: "panic: switchd serving api=x admin=y\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			api, admin, ok := servingAddrs([]byte(tc.log))
			if ok != tc.ok || api != tc.wantAPI || admin != tc.wantA {
				t.Errorf("servingAddrs(%q) = %q, %q, %v; want %q, %q, %v", tc.log, api, admin, ok, tc.wantAPI, tc.wantA, tc.ok)
			}
		})
	}
}
