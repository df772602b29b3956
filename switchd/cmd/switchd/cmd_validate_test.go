package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/switchd/switchd/internal/testbin"
	"github.com/switchd/switchd/switchd/internal/pluginhost"
)

// runValidate runs `switchd validate args...` and returns its output and
// error (non-nil means exit status 1).
func runValidate(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := newValidateCmd()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String(), err
}

func writeFile(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// acquirerHCL is a network with one acquirer using the real merchantsig and
// card plugins; pins is inserted into every plugin block, extra into the
// card method block.
func acquirerHCL(cardPin, sigPin, extra string) string {
	return `plugin "card" {
  path = "card"` + cardPin + `
}

plugin "merchantsig" {
  path = "merchantsig"` + sigPin + `
}

institution "acq" {
  display_name = "Acquirer"
  roles        = ["acquirer"]

  authenticator "merchantsig" {
    attestation_key    = env("SWITCHD_TEST_ATTESTATION_KEY")
    attestation_key_id = "acq-1"
    merchant "shop" {
      key "k1" { public_key = "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=" }
    }
  }

  method "card" {
    plugin    = "card"
    token_key = env("SWITCHD_TEST_TOKEN_KEY")
    merchant_account "shop-settlement" { currency = "EUR" }` + extra + `
  }
}

merchant "shop" {
  acquirer           = "acq"
  api_key_sha256     = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
  settlement_account = "shop-settlement"
  webhook_url        = "https://shop.example/hook"
  webhook_secret     = env("SWITCHD_TEST_WHSEC")
  signing_key_id     = "k1"
}
`
}

func setValidateEnv(t *testing.T) {
	t.Setenv("SWITCHD_TEST_ATTESTATION_KEY", strings.Repeat("ab", 32))
	t.Setenv("SWITCHD_TEST_TOKEN_KEY", strings.Repeat("cd", 16))
	t.Setenv("SWITCHD_TEST_WHSEC", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
}

func TestValidateWithoutPlugins(t *testing.T) {
	setValidateEnv(t)
	dir := t.TempDir()
	valid := writeFile(t, dir, "valid.hcl", acquirerHCL("", "", ""))
	broken := writeFile(t, dir, "broken.hcl", strings.Replace(acquirerHCL("", "", ""), `acquirer           = "acq"`, `acquirer           = "acqq"`, 1))

	tests := []struct {
		name    string
		args    []string
		wantErr bool
		want    []string
	}{
		{
			name: "valid, with the unchecked blocks named",
			args: []string{valid},
			want: []string{"Warning: Plugin settings not checked", `authenticator "merchantsig" of institution "acq"`,
				`method "card" of institution "acq"`, "The configuration is valid, with 1 warning(s)."},
		},
		{
			name:    "error with source line and caret",
			args:    []string{broken},
			wantErr: true,
			want: []string{"Error: Unknown acquirer", "on " + broken + " line 29, column 24:",
				"    29:   acquirer           = \"acqq\"\n                               ^^^^^^\n",
				"1 error(s), 1 warning(s): the configuration is not valid."},
		},
		{
			name:    "missing path",
			args:    []string{filepath.Join(dir, "nope")},
			wantErr: true,
			want:    []string{"Error: Configuration not found"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := runValidate(t, tt.args...)
			if tt.wantErr != (err != nil) {
				t.Fatalf("err = %v, want error %v\n%s", err, tt.wantErr, out)
			}
			if err != nil && !errors.Is(err, errInvalidConfig) {
				t.Errorf("error %v does not wrap errInvalidConfig", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			if strings.Contains(out, "\x1b[") {
				t.Errorf("colors written to a non-terminal")
			}
		})
	}
}

func TestValidateJSON(t *testing.T) {
	setValidateEnv(t)
	dir := t.TempDir()
	p := writeFile(t, dir, "net.hcl", strings.Replace(acquirerHCL("", "", ""), `"https://shop.example/hook"`, `"shop.example/hook"`, 1))
	out, err := runValidate(t, "--json", p)
	if !errors.Is(err, errInvalidConfig) {
		t.Fatalf("err = %v", err)
	}
	var res validateResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out)
	}
	if res.Valid || res.ErrorCount != 1 || res.WarningCount != 1 || res.PluginsChecked {
		t.Fatalf("unexpected result %+v", res)
	}
	var found bool
	for _, d := range res.Diagnostics {
		if d.Severity == "error" && d.Summary == "Invalid webhook URL" && d.Range != nil &&
			d.Range.Filename == p && d.Range.Start.Line == 32 && d.Range.Start.Column == 24 {
			found = true
		}
	}
	if !found {
		t.Fatalf("no webhook URL error at %s:32:24 in %s", p, out)
	}
}

// TestValidateLaunchesPlugins runs the real card and merchantsig plugins as
// subprocesses, so the plugin-specific blocks are checked against the
// schemas the plugins report.
func TestValidateLaunchesPlugins(t *testing.T) {
	if testing.Short() {
		t.Skip("builds plugin binaries")
	}
	setValidateEnv(t)
	pluginDir := t.TempDir()
	for _, name := range []string{"card", "merchantsig"} {
		b, err := os.ReadFile(testbin.MustBuild(t, "./plugins/"+name))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, pluginDir, name, string(b))
		os.Chmod(filepath.Join(pluginDir, name), 0o755)
	}
	cardSum, err := pluginhost.FileSHA256(filepath.Join(pluginDir, "card"))
	if err != nil {
		t.Fatal(err)
	}
	sigSum, _ := pluginhost.FileSHA256(filepath.Join(pluginDir, "merchantsig"))
	pin := func(s string) string { return "\n  sha256 = \"" + s + "\"" }
	dir := t.TempDir()
	lock := filepath.Join(dir, "plugins.lock.hcl")
	if err := pluginhost.WriteLock(lock, []pluginhost.LockEntry{{Name: "merchantsig", Path: filepath.Join(pluginDir, "merchantsig"), SHA256: sigSum}}); err != nil {
		t.Fatal(err)
	}
	wrong := strings.Repeat("0", 64)

	tests := []struct {
		name    string
		hcl     string
		wantErr bool
		want    []*regexp.Regexp
	}{
		{
			name: "valid: digests from HCL and lock file",
			hcl:  acquirerHCL(pin(cardSum), "", ""),
			want: []*regexp.Regexp{regexp.MustCompile(`Success! The configuration is valid.`)},
		},
		{
			name:    "plugin schema errors at file:line:col",
			hcl:     acquirerHCL(pin(cardSum), "", "\n    overdraft = true\n    card \"x\" { expiry = \"12/29\" }"),
			wantErr: true,
			want: []*regexp.Regexp{
				regexp.MustCompile(`Error: Unsupported argument\n\n  on \S+net.hcl line 26, column 5:`),
				regexp.MustCompile(`Error: Missing required argument\n\n  on \S+net.hcl line 27, column 16:`),
			},
		},
		{
			name:    "sensitive value inline is refused and not printed",
			hcl:     strings.Replace(acquirerHCL(pin(cardSum), "", ""), `env("SWITCHD_TEST_TOKEN_KEY")`, `"cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd"`, 1),
			wantErr: true,
			want:    []*regexp.Regexp{regexp.MustCompile(`Error: Sensitive value written inline\n\n  on \S+ line 24, column 17:\n +24: \(line not shown`)},
		},
		{
			name:    "plugin's own Configure diagnostics at the value",
			hcl:     strings.Replace(acquirerHCL(pin(cardSum), "", ""), `"11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="`, `"bad"`, 1),
			wantErr: true,
			want: []*regexp.Regexp{
				regexp.MustCompile(`Error: Invalid public key\n\n  on \S+net.hcl line 18, column 31:\n +18:       key "k1" \{ public_key = "bad" \}\n {38}\^{5}\n`),
				regexp.MustCompile(`\(reported by plugin "merchantsig"\)`),
			},
		},
		{
			name:    "digest mismatch",
			hcl:     acquirerHCL(pin(wrong), "", ""),
			wantErr: true,
			want:    []*regexp.Regexp{regexp.MustCompile(`Error: Plugin did not start\n\n  on \S+ line 1, column 1:`)},
		},
		{
			name:    "unpinned plugin",
			hcl:     strings.Replace(acquirerHCL("", "", ""), `plugin "merchantsig"`, `plugin "merchantsig2"`, 1),
			wantErr: true,
			want:    []*regexp.Regexp{regexp.MustCompile(`Error: Plugin not pinned\n\n  on \S+ line 1, column 1:`)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := writeFile(t, t.TempDir(), "net.hcl", tt.hcl)
			out, err := runValidate(t, "--plugin-dir", pluginDir, "--lock-file", lock, p)
			if tt.wantErr != (err != nil) {
				t.Fatalf("err = %v, want error %v\n%s", err, tt.wantErr, out)
			}
			for _, w := range tt.want {
				if !w.MatchString(out) {
					t.Errorf("output does not match %q:\n%s", w, out)
				}
			}
			if strings.Contains(out, "cdcdcdcd") {
				t.Errorf("a secret was printed:\n%s", out)
			}
		})
	}
}
