package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/switchd/switchd/switchd/internal/pluginhost"
)

// errPluginsUnhealthy is returned by `plugins list` when a pinned plugin
// did not start or is not serving; main turns it into exit status 1.
var errPluginsUnhealthy = errors.New("some plugins are not healthy")

// pluginsFlags are the flags shared by the plugins subcommands.
type pluginsFlags struct {
	pluginDir, dataDir, lockFile string
}

func (f *pluginsFlags) lockPath() string {
	if f.lockFile != "" {
		return f.lockFile
	}
	return filepath.Join(f.dataDir, pluginhost.LockFileName)
}

func newPluginsCmd() *cobra.Command {
	var f pluginsFlags
	cmd := &cobra.Command{
		Use:   "plugins",
		Short: "Pin plugin binaries by sha256 and inspect them",
		Long: `plugins manages the lock file that pins every plugin binary by its sha256.
switchd refuses to start a plugin whose binary is not pinned or does not match
its pin, before the binary is executed.`,
		Args: cobra.NoArgs,
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&f.pluginDir, "plugin-dir", "bin/plugins", "directory holding the plugin binaries")
	pf.StringVar(&f.dataDir, "data-dir", "data", "data directory; the lock file defaults to <data-dir>/"+pluginhost.LockFileName)
	pf.StringVar(&f.lockFile, "lock-file", "", "lock file (default <data-dir>/"+pluginhost.LockFileName+")")
	cmd.AddCommand(newPluginsLockCmd(&f), newPluginsListCmd(&f))
	return cmd
}

func newPluginsLockCmd(f *pluginsFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "lock",
		Short: "Write the sha256 of every plugin executable in --plugin-dir to the lock file",
		Long: `lock hashes every executable file directly in --plugin-dir and writes the lock
file, one block per plugin named after its file:

  plugin "card" {
    path   = "/abs/bin/plugins/card"
    sha256 = "<hex>"
  }

A plugin block's own sha256 in the network configuration wins over the lock
file; if the two disagree, switchd refuses to start and says so.`,
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			entries, err := scanPluginDir(f.pluginDir)
			if err != nil {
				return err
			}
			path := f.lockPath()
			if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
				return fmt.Errorf("plugins lock: %w", err)
			}
			if err := pluginhost.WriteLock(path, entries); err != nil {
				return fmt.Errorf("plugins lock: %w", err)
			}
			out := cmd.OutOrStdout()
			for _, e := range entries {
				fmt.Fprintf(out, "%s\t%s\n", e.Name, e.SHA256)
			}
			_, err = fmt.Fprintf(out, "locked %d plugins in %s\n", len(entries), path)
			return err
		},
	}
}

// scanPluginDir returns a lock entry for every executable regular file
// directly in dir (hidden files skipped), with absolute paths.
func scanPluginDir(dir string) ([]pluginhost.LockEntry, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("plugins lock: %w", err)
	}
	des, err := os.ReadDir(abs)
	if err != nil {
		return nil, fmt.Errorf("plugins lock: plugin dir: %w", err)
	}
	var entries []pluginhost.LockEntry
	for _, de := range des {
		if strings.HasPrefix(de.Name(), ".") {
			continue
		}
		path := filepath.Join(abs, de.Name())
		st, err := os.Stat(path) // follows symlinks
		if err != nil || !st.Mode().IsRegular() || st.Mode().Perm()&0o111 == 0 {
			continue
		}
		sum, err := pluginhost.FileSHA256(path)
		if err != nil {
			return nil, fmt.Errorf("plugins lock: %w", err)
		}
		entries = append(entries, pluginhost.LockEntry{Name: de.Name(), Path: path, SHA256: sum})
	}
	if len(entries) == 0 {
		return nil, fmt.Errorf("plugins lock: no plugin executables in %s", abs)
	}
	return entries, nil
}

func newPluginsListCmd(f *pluginsFlags) *cobra.Command {
	var (
		asJSON  bool
		timeout time.Duration
	)
	cmd := &cobra.Command{
		Use:   "list",
		Short: "Launch the pinned plugins and show name, version, kinds, digest and health",
		Long: `list launches every plugin pinned in the lock file, exactly as serve would
(digest checked before the binary runs), asks each for its info and health,
and prints a table (or JSON with --json). Exit status 1 if any plugin did not
start or is not healthy.`,
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			lock, err := pluginhost.ReadLock(f.lockPath())
			if err != nil {
				if errors.Is(err, os.ErrNotExist) {
					return fmt.Errorf("plugins list: no lock file at %s; run `switchd plugins lock` first", f.lockPath())
				}
				return fmt.Errorf("plugins list: %w", err)
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			rows := listPlugins(ctx, lock)
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				if err := enc.Encode(rows); err != nil {
					return err
				}
			} else if err := printPluginTable(cmd.OutOrStdout(), rows); err != nil {
				return err
			}
			for _, r := range rows {
				if !r.Healthy {
					return errPluginsUnhealthy
				}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON instead of a table")
	cmd.Flags().DurationVar(&timeout, "timeout", 30*time.Second, "how long to wait for the plugins to start")
	return cmd
}

// listPlugins starts each locked plugin on its own, so that one that is
// refused or broken is reported in its row and does not hide the others.
func listPlugins(ctx context.Context, lock map[string]pluginhost.LockEntry) []pluginhost.Status {
	// Plugins that keep their state in the host (host_state) get a
	// throw-away store in memory, as the throw-away data directory.
	host := pluginhost.New(pluginhost.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), LogLevel: "error", State: pluginhost.NewMemState()})
	defer host.Close()
	names := make([]string, 0, len(lock))
	for name := range lock {
		names = append(names, name)
	}
	sort.Strings(names)
	failed := map[string]string{}
	for _, name := range names {
		e := lock[name]
		if err := host.Start(ctx, []pluginhost.Spec{{Name: name, Path: e.Path, SHA256: e.SHA256}}); err != nil {
			failed[name] = "not started: " + err.Error()
		}
	}
	status := map[string]pluginhost.Status{}
	for _, st := range host.Status(ctx) {
		status[st.Name] = st
	}
	// One row per locked plugin, as the admin status shows a plugin, with
	// the path and digest of the lock file and no PID: the processes
	// started for the listing are gone when it is printed.
	rows := make([]pluginhost.Status, 0, len(names))
	for _, name := range names {
		e := lock[name]
		r := pluginhost.Status{Name: name, Path: e.Path, SHA256: e.SHA256}
		if msg, ok := failed[name]; ok {
			r.Message = msg
		} else {
			st := status[name]
			r.Version, r.Kinds, r.Healthy, r.Message, r.Restarts = st.Version, st.Kinds, st.Healthy, st.Message, st.Restarts
		}
		rows = append(rows, r)
	}
	return rows
}

func printPluginTable(w io.Writer, rows []pluginhost.Status) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tVERSION\tKINDS\tSHA256\tHEALTH")
	for _, r := range rows {
		health := "ok"
		if !r.Healthy {
			health = "FAIL"
		}
		if r.Message != "" {
			health += ": " + r.Message
		}
		names := make([]string, 0, len(r.Kinds))
		for _, k := range r.Kinds {
			names = append(names, pluginhost.KindName(k))
		}
		version, kinds := r.Version, strings.Join(names, ",")
		if version == "" {
			version = "-"
		}
		if kinds == "" {
			kinds = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Name, version, kinds, r.SHA256, health)
	}
	return tw.Flush()
}
