package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchd/switchd/internal/testbin"
	"github.com/switchd/switchd/switchd/internal/bench"
)

// TestMain lets `switchd bench` re-execute this test binary as its bench
// server children.
func TestMain(m *testing.M) {
	if bench.IsChild() {
		os.Exit(bench.ChildMain())
	}
	os.Exit(m.Run())
}

// TestBenchCommand runs `switchd bench` with a tiny count over the real
// plugin binaries and checks the table and the JSON report.
func TestBenchCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("starts daemons and plugin subprocesses")
	}
	dir := t.TempDir()
	for _, name := range []string{"card", "banktransfer", "merchantsig", "ocra"} {
		b, err := os.ReadFile(testbin.MustBuild(t, "./plugins/"+name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	jsonPath := filepath.Join(t.TempDir(), "bench.json")
	cmd := newBenchCmd()
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetArgs([]string{"--plugin-dir", dir, "--payers", "4", "--merchants", "2", "--count", "20", "--duration", "0",
		"--unloaded", "2", "--json", jsonPath, "--cpuprofile", filepath.Join(t.TempDir(), "cpu.pprof")})
	if err := cmd.Execute(); err != nil {
		t.Fatalf("%v\n%s", err, errOut.String())
	}
	for _, want := range []string{"approved payments", "payments/s", "plugin cold start", "out-of-process"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if !strings.Contains(errOut.String(), "100%") {
		t.Errorf("no finished progress bar on stderr:\n%s", errOut.String())
	}
	b, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	var rep bench.Report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.OutOfProcess == nil || rep.OutOfProcess.Approved != 20 || rep.InProcess == nil || rep.InProcess.Approved != 20 {
		t.Fatalf("report: %s", b)
	}
	if rep.Payers != 4 || rep.Machine.CPUs < 1 || rep.Machine.GoVersion == "" {
		t.Errorf("report header: %+v %+v", rep.Payers, rep.Machine)
	}
	if p := rep.OutOfProcess.CPUProfile; p == "" {
		t.Error("no CPU profile recorded")
	} else if st, err := os.Stat(p); err != nil || st.Size() == 0 {
		t.Errorf("CPU profile %s: %v", p, err)
	}
	// One profile per plugin process, each written as the daemon stopped it.
	if got := len(rep.OutOfProcess.PluginProfiles); got != 4 {
		t.Errorf("%d plugin CPU profiles, want 4 (one per plugin): %v", got, rep.OutOfProcess.PluginProfiles)
	}
	for _, p := range rep.OutOfProcess.PluginProfiles {
		if st, err := os.Stat(p); err != nil || st.Size() == 0 {
			t.Errorf("plugin CPU profile %s: %v", p, err)
		}
	}
	if rep.InProcess.PluginProfiles != nil {
		t.Errorf("in-process phase lists plugin profiles: %v", rep.InProcess.PluginProfiles)
	}
}

func TestBenchCommandBadFlags(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no bound", []string{"--duration", "0", "--count", "0"}, "duration or count"},
		{"no plugins", []string{"--plugin-dir", "/nonexistent", "--count", "1"}, "plugin card: /nonexistent/card is not a file"},
		{"zero payers", []string{"--payers", "0", "--count", "1"}, "payers must be 1 to 10000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := newBenchCmd()
			cmd.SetOut(&bytes.Buffer{})
			cmd.SetErr(&bytes.Buffer{})
			cmd.SetArgs(tc.args)
			err := cmd.Execute()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}
