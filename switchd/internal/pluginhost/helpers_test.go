package pluginhost_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/switchd/switchd/internal/testbin"
	"github.com/switchd/switchd/switchd/internal/pluginhost"
)

// mustCopyBinary builds the test plugin pkg and copies it into a fresh
// temporary directory, so per-binary marker files belong to one test.
func mustCopyBinary(tb testing.TB, pkg string) string {
	tb.Helper()
	src := testbin.MustBuild(tb, pkg)
	dst := filepath.Join(tb.TempDir(), filepath.Base(pkg))
	in, err := os.Open(src)
	if err != nil {
		tb.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o755)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		tb.Fatal(err)
	}
	if err := out.Close(); err != nil {
		tb.Fatal(err)
	}
	return dst
}

func mustSHA(tb testing.TB, path string) string {
	tb.Helper()
	sum, err := pluginhost.FileSHA256(path)
	if err != nil {
		tb.Fatal(err)
	}
	return sum
}

// mustStartSample starts a host with the sample plugin and closes it when
// the test ends.
func mustStartSample(tb testing.TB, opts pluginhost.Options) (*pluginhost.Host, string) {
	tb.Helper()
	path := mustCopyBinary(tb, "./switchd/internal/pluginhost/testdata/sample")
	h := pluginhost.New(opts)
	tb.Cleanup(func() { _ = h.Close() })
	if err := h.Start(context.Background(), []pluginhost.Spec{{Name: "sample", Path: path, SHA256: mustSHA(tb, path)}}); err != nil {
		tb.Fatal(err)
	}
	return h, path
}

// record is one captured slog record, attributes flattened.
type record struct {
	Level slog.Level
	Msg   string
	Attrs map[string]any
}

// captureHandler is a slog.Handler that keeps every record.
type captureHandler struct {
	mu      *sync.Mutex
	records *[]record
	attrs   []slog.Attr
}

func newCapture() *captureHandler {
	return &captureHandler{mu: &sync.Mutex{}, records: &[]record{}}
}

func (h *captureHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *captureHandler) Handle(_ context.Context, r slog.Record) error {
	rec := record{Level: r.Level, Msg: r.Message, Attrs: map[string]any{}}
	for _, a := range h.attrs {
		rec.Attrs[a.Key] = a.Value.Any()
	}
	r.Attrs(func(a slog.Attr) bool {
		rec.Attrs[a.Key] = a.Value.Any()
		return true
	})
	h.mu.Lock()
	*h.records = append(*h.records, rec)
	h.mu.Unlock()
	return nil
}

func (h *captureHandler) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append(append([]slog.Attr(nil), h.attrs...), as...)
	return &c
}

func (h *captureHandler) WithGroup(string) slog.Handler { return h }

func (h *captureHandler) all() []record {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]record(nil), *h.records...)
}
