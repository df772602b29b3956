package pluginhost

import (
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"

	"github.com/hashicorp/go-hclog"
)

// slogAdapter is an hclog.Logger that writes slog records. go-plugin parses
// each hclog JSON line a plugin writes to stderr and re-logs it through the
// client's Logger, so this adapter turns plugin log lines (and go-plugin's
// own messages about the process) into structured slog records carrying
// plugin=<name>.
type slogAdapter struct {
	l     *slog.Logger
	name  string
	level hclog.Level
	args  []any
}

var _ hclog.Logger = (*slogAdapter)(nil)

func newSlogAdapter(l *slog.Logger, plugin string) *slogAdapter {
	l = l.With("plugin", plugin)
	// go-plugin drops lines below GetLevel before parsing them further, so
	// report the lowest level the handler takes.
	level := hclog.Off
	for _, lv := range []hclog.Level{hclog.Trace, hclog.Debug, hclog.Info, hclog.Warn, hclog.Error} {
		if l.Enabled(context.Background(), toSlogLevel(lv)) {
			level = lv
			break
		}
	}
	return &slogAdapter{l: l, level: level}
}

func toSlogLevel(l hclog.Level) slog.Level {
	switch l {
	case hclog.Trace:
		return slog.LevelDebug - 4
	case hclog.Debug:
		return slog.LevelDebug
	case hclog.Warn:
		return slog.LevelWarn
	case hclog.Error:
		return slog.LevelError
	}
	return slog.LevelInfo
}

func (a *slogAdapter) Log(level hclog.Level, msg string, args ...any) {
	lv := toSlogLevel(level)
	if !a.l.Enabled(context.Background(), lv) {
		return
	}
	attrs := make([]any, 0, len(a.args)+len(args))
	attrs = append(attrs, a.args...)
	for i := 0; i+1 < len(args); i += 2 {
		// go-plugin adds the plugin's own timestamp as a string; the record
		// has its own time.
		k, _ := args[i].(string)
		switch k {
		case "timestamp":
			continue
		case "plugin":
			// go-plugin's own messages put the binary's path there.
			k = "plugin_path"
		}
		if k == "" {
			k = fmt.Sprint(args[i])
		}
		attrs = append(attrs, k, args[i+1])
	}
	if len(args)%2 == 1 {
		attrs = append(attrs, "extra", args[len(args)-1])
	}
	a.l.Log(context.Background(), lv, msg, attrs...)
}

func (a *slogAdapter) Trace(msg string, args ...any) { a.Log(hclog.Trace, msg, args...) }
func (a *slogAdapter) Debug(msg string, args ...any) { a.Log(hclog.Debug, msg, args...) }
func (a *slogAdapter) Info(msg string, args ...any)  { a.Log(hclog.Info, msg, args...) }
func (a *slogAdapter) Warn(msg string, args ...any)  { a.Log(hclog.Warn, msg, args...) }
func (a *slogAdapter) Error(msg string, args ...any) { a.Log(hclog.Error, msg, args...) }

func (a *slogAdapter) IsTrace() bool { return a.level <= hclog.Trace }
func (a *slogAdapter) IsDebug() bool { return a.level <= hclog.Debug }
func (a *slogAdapter) IsInfo() bool  { return a.level <= hclog.Info }
func (a *slogAdapter) IsWarn() bool  { return a.level <= hclog.Warn }
func (a *slogAdapter) IsError() bool { return a.level <= hclog.Error }

func (a *slogAdapter) ImpliedArgs() []any { return a.args }

func (a *slogAdapter) With(args ...any) hclog.Logger {
	c := *a
	c.args = append(append([]any(nil), a.args...), args...)
	return &c
}

func (a *slogAdapter) Name() string { return a.name }

// Named keeps the plugin attribute; go-plugin names its sub-logger after the
// binary, which adds nothing to plugin=<name>.
func (a *slogAdapter) Named(name string) hclog.Logger {
	c := *a
	if c.name != "" {
		name = c.name + "." + name
	}
	c.name = name
	return &c
}

func (a *slogAdapter) ResetNamed(name string) hclog.Logger {
	c := *a
	c.name = name
	return &c
}

func (a *slogAdapter) SetLevel(level hclog.Level) { a.level = level }
func (a *slogAdapter) GetLevel() hclog.Level      { return a.level }

func (a *slogAdapter) StandardLogger(opts *hclog.StandardLoggerOptions) *log.Logger {
	return slog.NewLogLogger(a.l.Handler(), slog.LevelInfo)
}

func (a *slogAdapter) StandardWriter(opts *hclog.StandardLoggerOptions) io.Writer {
	return a.StandardLogger(opts).Writer()
}
