package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/spf13/cobra"

	"github.com/switchd/switchd/config"
	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
	"github.com/switchd/switchd/switchd/internal/pluginhost"
)

// errInvalidConfig is returned by validate when the configuration has
// errors; main turns it into exit status 1.
var errInvalidConfig = errors.New("the configuration is not valid")

// validateResult is the --json output of validate.
type validateResult struct {
	Valid          bool                    `json:"valid"`
	ErrorCount     int                     `json:"error_count"`
	WarningCount   int                     `json:"warning_count"`
	PluginsChecked bool                    `json:"plugins_checked"`
	Diagnostics    []config.JSONDiagnostic `json:"diagnostics"`
}

func newValidateCmd() *cobra.Command {
	var (
		asJSON    bool
		noColor   bool
		pluginDir string
		lockFile  string
		timeout   time.Duration
	)
	cmd := &cobra.Command{
		Use:   "validate [path]",
		Short: "Check a network configuration (HCL file or directory) and print every problem",
		Long: `validate parses the network configuration and checks every block and every
cross reference, printing each problem with its file, line and a caret under it.
Exit status 0 means valid (warnings allowed), 1 means errors.

Plugin-specific blocks (authenticator and method settings) can only be checked
against the schemas the plugins report. With --plugin-dir, validate launches the
plugins (their digests pinned in the configuration or the lock file, exactly as
serve does), fetches their schemas and checks those blocks too, then sends each
plugin its settings (into a throwaway data directory) and reports the plugin's
own diagnostics at the values they concern. Without it, validate says which
blocks it did not check.`,
		Args:          cobra.MaximumNArgs(1),
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			path := "examples/quickstart"
			if len(args) == 1 {
				path = args[0]
			}
			out := cmd.OutOrStdout()
			files, diags := config.Parse(path)
			checked := false
			if !diags.HasErrors() {
				var infos map[string]*pb.GetInfoResponse
				var host *pluginhost.Host
				if pluginDir != "" {
					ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
					var startDiags hcl.Diagnostics
					host, infos, startDiags = startPlugins(ctx, files.Plugins(), pluginDir, lockFile)
					cancel()
					if host != nil {
						defer host.Close()
					}
					diags = append(diags, startDiags...)
					checked = true
				}
				network, ddiags := files.Decode(infos)
				diags = append(diags, dropNoSchema(ddiags, diags)...)
				if network != nil && host != nil {
					ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
					diags = append(diags, configurePlugins(ctx, host, network)...)
					cancel()
				}
			}
			res := validateResult{
				Valid:          !diags.HasErrors(),
				ErrorCount:     len(config.Errors(diags)),
				WarningCount:   len(config.Warnings(diags)),
				PluginsChecked: checked,
				Diagnostics:    config.JSONDiagnostics(diags),
			}
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				if err := enc.Encode(res); err != nil {
					return err
				}
			} else {
				color := !noColor && isTerminal(out) && os.Getenv("NO_COLOR") == ""
				if err := config.WriteDiagnostics(out, files.Sources(), diags, color); err != nil {
					return err
				}
				switch {
				case !res.Valid:
					fmt.Fprintf(out, "%d error(s), %d warning(s): the configuration is not valid.\n", res.ErrorCount, res.WarningCount)
				case res.WarningCount > 0:
					fmt.Fprintf(out, "The configuration is valid, with %d warning(s).\n", res.WarningCount)
				default:
					fmt.Fprintln(out, "Success! The configuration is valid.")
				}
			}
			if !res.Valid {
				return fmt.Errorf("%s: %w (%d errors)", path, errInvalidConfig, res.ErrorCount)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVar(&asJSON, "json", false, "print the result as JSON")
	f.BoolVar(&noColor, "no-color", false, "never color the output (NO_COLOR in the environment does the same)")
	f.StringVar(&pluginDir, "plugin-dir", "", "launch the plugins (relative paths resolve here) to check their blocks against their schemas")
	f.StringVar(&lockFile, "lock-file", filepath.Join("data", pluginhost.LockFileName), "lock file pinning plugin digests that the configuration does not pin")
	f.DurationVar(&timeout, "timeout", 30*time.Second, "time limit for launching the plugins")
	return cmd
}

// startPlugins launches every plugin of the configuration, one by one so
// that a failure is reported at that plugin's block, and returns the
// schemas of those that started.
func startPlugins(ctx context.Context, plugins []*config.Plugin, pluginDir, lockFile string) (*pluginhost.Host, map[string]*pb.GetInfoResponse, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	lock := map[string]pluginhost.LockEntry{}
	if l, err := pluginhost.ReadLock(lockFile); err == nil {
		lock = l
	} else if !errors.Is(err, fs.ErrNotExist) {
		diags = diags.Append(&hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Cannot read the lock file", Detail: err.Error() + "."})
		return nil, nil, diags
	}
	// Plugins that keep their state in the host (host_state) get a
	// throw-away store in memory, as the throw-away data directory.
	host := pluginhost.New(pluginhost.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), LogLevel: "error", State: pluginhost.NewMemState()})
	for _, p := range plugins {
		path := p.Path
		if !filepath.IsAbs(path) {
			path = filepath.Join(pluginDir, path)
		}
		fail := func(summary string, err error) {
			diags = diags.Append(&hcl.Diagnostic{
				Severity: hcl.DiagError, Summary: summary,
				Detail:  fmt.Sprintf("Plugin %q (%s): %v.", p.Name, path, err),
				Subject: p.Range.Ptr(),
			})
		}
		sum, err := pluginhost.PinnedSHA256(p.Name, p.SHA256, lock)
		if err != nil {
			fail("Plugin not pinned", fmt.Errorf("%w; set sha256 in the plugin block or run `switchd plugins lock` (lock file %s)", err, lockFile))
			continue
		}
		if err := host.Start(ctx, []pluginhost.Spec{{Name: p.Name, Path: path, SHA256: sum}}); err != nil {
			fail("Plugin did not start", err)
		}
	}
	return host, host.Infos(), diags
}

// configurePlugins sends every plugin use its settings, as serve would but
// with a throwaway data directory, so that the checks only the plugin can
// make (key encodings, card numbers inside the BIN ranges, ...) are
// reported at the values they concern.
func configurePlugins(ctx context.Context, host *pluginhost.Host, n *config.Network) hcl.Diagnostics {
	var diags hcl.Diagnostics
	dataDir, err := os.MkdirTemp("", "switchd-validate-")
	if err != nil {
		return diags.Append(&hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Cannot check plugin settings", Detail: err.Error() + "."})
	}
	defer os.RemoveAll(dataDir)
	ids := make([]string, 0, len(n.Institutions))
	for id := range n.Institutions {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		in := n.Institutions[id]
		info := &pb.InstitutionInfo{Id: in.ID, DisplayName: in.DisplayName, BankCode: in.BankCode, Roles: in.Roles}
		for _, r := range in.BINRanges {
			info.BinRanges = append(info.BinRanges, r.String())
		}
		configure := func(u *config.PluginUse, kind pb.Kind, method pb.Method) {
			dir := filepath.Join(dataDir, "plugins", u.Plugin, in.ID)
			if err := os.MkdirAll(dir, 0o700); err != nil {
				diags = diags.Append(&hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Cannot check plugin settings", Detail: err.Error() + ".", Subject: u.Range.Ptr()})
				return
			}
			res, err := host.Configure(ctx, u.Plugin, &pb.ConfigureRequest{
				InstanceId: in.ID, Kind: kind, Method: method, ConfigJson: u.ConfigJSON, DataDir: dir, Institution: info,
			})
			if err != nil {
				diags = diags.Append(&hcl.Diagnostic{
					Severity: hcl.DiagError, Summary: "Plugin refused the settings",
					Detail: fmt.Sprintf("Configure of plugin %q for institution %q failed: %v.", u.Plugin, in.ID, err), Subject: u.Range.Ptr(),
				})
				return
			}
			diags = append(diags, u.Diagnostics(res.GetDiagnostics())...)
		}
		for _, u := range in.Authenticators {
			configure(u, pb.Kind_KIND_AUTHENTICATOR, pb.Method_METHOD_UNSPECIFIED)
		}
		methods := make([]pb.Method, 0, len(in.Methods))
		for m := range in.Methods {
			methods = append(methods, m)
		}
		sort.Slice(methods, func(i, j int) bool { return methods[i] < methods[j] })
		for _, m := range methods {
			configure(in.Methods[m], pb.Kind_KIND_PAYMENT_METHOD, m)
		}
	}
	return diags
}

// dropNoSchema removes Decode's "No schema for plugin" errors for plugins
// whose start failure is already reported at the same block.
func dropNoSchema(decodeDiags, reported hcl.Diagnostics) hcl.Diagnostics {
	var out hcl.Diagnostics
	for _, d := range decodeDiags {
		dup := false
		if d.Summary == "No schema for plugin" && d.Subject != nil {
			for _, r := range reported {
				if r.Subject != nil && *r.Subject == *d.Subject {
					dup = true
					break
				}
			}
		}
		if !dup {
			out = append(out, d)
		}
	}
	return out
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
