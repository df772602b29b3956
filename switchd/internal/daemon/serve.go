package daemon

import (
	"context"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"github.com/switchd/switchd/config"
)

// GCPercent is the garbage collector target (GOGC) Serve runs with unless
// the GOGC environment variable is set: the operator's choice wins. A
// switch holds a small live heap (20-40 MiB) and allocates a few hundred
// KiB per payment, so at the runtime's default of 100 GC took a tenth of
// the daemon's CPU under load. 200 halves the number of collections
// (flow.BenchmarkPayment: 174 -> 80 per 3000 payments, CPU per payment
// -7%) for about 10 MiB more peak RSS.
const GCPercent = 200

// TuneGC sets the garbage collector target to GCPercent unless GOGC is set
// (non-empty) in the environment, and returns the target now in effect.
// Serve calls it first; a program running the daemon some other way (the
// bench child) calls it to run as `switchd serve` does.
func TuneGC() int {
	if os.Getenv("GOGC") != "" {
		old := debug.SetGCPercent(100)
		debug.SetGCPercent(old)
		return old
	}
	debug.SetGCPercent(GCPercent)
	return GCPercent
}

// Serve runs a daemon with settings set until ctx ends, then shuts it down
// gracefully. Every value received from hup reloads the configuration
// (see Reload). Logs go to logOut in the settings' format and level. The
// garbage collector runs at GCPercent unless GOGC is set (TuneGC).
func Serve(ctx context.Context, set *config.Settings, logOut io.Writer, hup <-chan os.Signal) error {
	TuneGC()
	logger := NewLogger(set, logOut)
	d := New(set, logger)
	if err := d.Start(ctx); err != nil {
		return err
	}
	for {
		select {
		case <-ctx.Done():
			logger.Info("shutting down")
			sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			return d.Shutdown(sctx)
		case <-hup:
			if diags, err := d.Reload(ctx); err != nil {
				logger.Error("reload failed", "err", err, "diagnostics", diags)
			}
		}
	}
}

// NewLogger returns the daemon's logger: text or JSON (set.LogFormat) at
// set.LogLevel, written to w.
func NewLogger(set *config.Settings, w io.Writer) *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(strings.ToUpper(set.LogLevel))); err != nil {
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	if set.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
