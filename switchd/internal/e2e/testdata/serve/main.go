// Command serve runs the switchd daemon exactly as `switchd serve` does
// (same settings flags, same daemon.Serve), for the crash test, which
// needs the daemon as a subprocess it can kill.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/pflag"

	"github.com/switchd/switchd/config"
	"github.com/switchd/switchd/switchd/internal/daemon"
)

func main() {
	fs := pflag.NewFlagSet("serve", pflag.ExitOnError)
	config.BindSettings(fs)
	_ = fs.Parse(os.Args[1:])
	set, err := config.LoadSettings(fs)
	if err != nil {
		fmt.Fprintln(os.Stderr, "serve:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	if err := daemon.Serve(ctx, set, os.Stderr, hup); err != nil {
		fmt.Fprintln(os.Stderr, "serve:", err)
		os.Exit(1)
	}
}
