package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/switchd/switchd/switchd/internal/bench"
)

func newBenchCmd() *cobra.Command {
	var (
		pluginDir, jsonPath, workDir, cpuProfile string
		o                                        bench.Options
		quiet                                    bool
	)
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Load-benchmark complete payments against a real daemon",
		Long: `bench measures switchd under load, on loopback, and stops by itself.

It generates a network (two banks, shops, one seeded payer per concurrent payer
with a card, an account and an OCRA key), then:
  1. measures each plugin's cold start, one plugin round trip out of and in
     process, and one fsynced bbolt write;
  2. starts the real daemon with the plugin binaries of --plugin-dir as
     subprocesses, fsync on, on a fresh data dir, and runs complete A-E
     payments through the HTTP API (the shop signs each order; the payer
     chooses card or bank transfer, alternating, and authenticates with the
     OCRA wallet, which verifies the issuer's proof): --payers concurrent
     payers for --duration or --count, then --unloaded payments one at a time;
  3. does the same with the plugins linked into the daemon (the ceiling).
It prints throughput, latency per step, CPU per payment of the daemon and of
each plugin, peak RSS, and the out-of-process / in-process ratios.

Payers pay at --merchants shops (payer i at shop i mod merchants). The bench
servers run with merchant-rate and merchant-burst raised to 1000000, so one
shop can take the whole load.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if bench.IsChild() { // re-executed by Run as a bench server
				os.Exit(bench.ChildMain())
			}
			o.Plugins = map[string]string{}
			for _, name := range []string{"card", "banktransfer", "merchantsig", "ocra"} {
				o.Plugins[name] = filepath.Join(pluginDir, name)
			}
			o.WorkDir, o.CPUProfile, o.Args = workDir, cpuProfile, []string{"bench"}
			if !quiet {
				o.Progress = cmd.ErrOrStderr()
			}
			o.Log = cmd.ErrOrStderr()
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			rep, err := bench.Run(ctx, o)
			if err != nil {
				return err
			}
			if err := rep.WriteTable(cmd.OutOrStdout()); err != nil {
				return err
			}
			if jsonPath != "" {
				b, err := json.MarshalIndent(rep, "", "  ")
				if err != nil {
					return err
				}
				if err := os.WriteFile(jsonPath, append(b, '\n'), 0o644); err != nil {
					return fmt.Errorf("bench: %w", err)
				}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&pluginDir, "plugin-dir", "bin/plugins", "directory holding the card, banktransfer, merchantsig and ocra binaries")
	f.IntVar(&o.Payers, "payers", 64, "concurrent payers")
	f.IntVar(&o.Merchants, "merchants", 16, "shops the payers pay at")
	f.DurationVar(&o.Duration, "duration", 20*time.Second, "length of each load phase (0: bounded by --count only)")
	f.IntVar(&o.Count, "count", 0, "payments per load phase (0: bounded by --duration only)")
	f.IntVar(&o.Unloaded, "unloaded", 100, "payments made one at a time after each load phase, when the server is idle")
	f.StringVar(&jsonPath, "json", "", "also write the report as JSON to this file")
	f.StringVar(&cpuProfile, "cpuprofile", "", "write the daemon's CPU profile during the out-of-process load phase to this file (the in-process server's to <file>.inprocess, each plugin process's to <file>.plugins/<plugin>.<n>.pprof)")
	f.StringVar(&workDir, "work-dir", "", "keep the network and data dirs here (default: a temporary directory, removed)")
	f.BoolVar(&quiet, "quiet", false, "no progress bar")
	return cmd
}
