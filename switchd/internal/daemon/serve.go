package daemon

import (
	"context"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/switchd/switchd/config"
)

// Serve runs a daemon with settings set until ctx ends, then shuts it down
// gracefully. Every value received from hup reloads the configuration
// (see Reload). Logs go to logOut in the settings' format and level.
func Serve(ctx context.Context, set *config.Settings, logOut io.Writer, hup <-chan os.Signal) error {
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
