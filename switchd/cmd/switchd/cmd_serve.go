package main

import (
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/switchd/switchd/config"
	"github.com/switchd/switchd/switchd/internal/daemon"
)

func newServeCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the payment switch daemon",
		Long: `serve runs switchd: it launches the plugins named in the network configuration
(each binary's sha256 pinned in the configuration or the lock file), configures
every institution, opens the store in the data dir, delivers pending outbox
messages, recovers interrupted payments, and serves the public API and payment
page on --api-addr and the admin API and metrics on --admin-addr. Once it
listens it logs the line "switchd serving" with the bound addresses (api=,
admin=): give port 0 (--api-addr 127.0.0.1:0) to have the kernel pick a free
port and read it there.

SIGHUP (or POST /v1/admin/reload) reloads the network configuration: a valid one
replaces the current one without dropping requests; a broken one is rejected
with its diagnostics logged and the current one keeps serving. SIGINT or SIGTERM
stops gracefully.

The Go garbage collector runs at GOGC=200 (fewer collections for a few MiB more
memory) unless the GOGC environment variable is set, which wins.`,
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			set, err := config.LoadSettings(cmd.Flags())
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			hup := make(chan os.Signal, 1)
			signal.Notify(hup, syscall.SIGHUP)
			defer signal.Stop(hup)
			return daemon.Serve(ctx, set, cmd.ErrOrStderr(), hup)
		},
	}
	config.BindSettings(cmd.Flags())
	return cmd
}
