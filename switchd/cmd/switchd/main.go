// Command switchd is the switchd payment switch daemon and its CLI:
// serve, validate, plugins, wallet and friends.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "switchd",
		Short:         "switchd is a self-hosted payment switch daemon",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version,
	}
	// Every subcommand is listed here, in one place.
	root.AddCommand(
		newServeCmd(),
		newValidateCmd(),
		newPluginsCmd(),
		newWalletCmd(),
		newDemoCmd(),
		newBenchCmd(),
		newVersionCmd(),
	)
	return root
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the switchd version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintln(cmd.OutOrStdout(), "switchd", version)
			return err
		},
	}
}

func main() {
	if err := newRootCmd().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "switchd:", err)
		os.Exit(1)
	}
}
