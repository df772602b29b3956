package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

// newFlags returns a flag set with every setting bound, parsed from args.
func newFlags(t *testing.T, args ...string) *pflag.FlagSet {
	t.Helper()
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	BindSettings(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return fs
}

func writeSettings(t *testing.T, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSettingsDefaults(t *testing.T) {
	s, err := LoadSettings(newFlags(t))
	if err != nil {
		t.Fatal(err)
	}
	want := Settings{
		APIAddr: "127.0.0.1:8080", AdminAddr: "127.0.0.1:8081", PublicURL: "http://127.0.0.1:8080",
		DataDir: "data", ConfigPath: "examples/quickstart", PluginDir: "bin/plugins",
		LockFile: filepath.Join("data", "plugins.lock.hcl"), LogLevel: "info", LogFormat: "text",
		DefaultExpiry: 15 * time.Minute, WebhookMaxAttempts: 12, WebhookInitialBackoff: time.Second,
		WebhookMaxBackoff: 10 * time.Minute, PluginCallTimeout: 10 * time.Second,
		MerchantRate: 100, MerchantBurst: 200, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
	}
	if *s != want {
		t.Fatalf("defaults\n got %+v\nwant %+v", *s, want)
	}
}

func TestSettingsPrecedence(t *testing.T) {
	file := writeSettings(t, "switchd.yaml", `
api-addr: 127.0.0.1:9000
data-dir: /var/lib/switchd-file
log-level: debug
default-expiry: 5m
webhook-max-attempts: 3
`)
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want func(s *Settings) bool
	}{
		{
			name: "file over default",
			args: []string{"--settings", file},
			want: func(s *Settings) bool {
				return s.APIAddr == "127.0.0.1:9000" && s.DataDir == "/var/lib/switchd-file" && s.LogLevel == "debug" &&
					s.DefaultExpiry == 5*time.Minute && s.WebhookMaxAttempts == 3 && s.AdminAddr == "127.0.0.1:8081" &&
					s.LockFile == "/var/lib/switchd-file/plugins.lock.hcl"
			},
		},
		{
			name: "env over file",
			env:  map[string]string{"SWITCHD_API_ADDR": "127.0.0.1:9100", "SWITCHD_DEFAULT_EXPIRY": "7m", "SWITCHD_WEBHOOK_MAX_ATTEMPTS": "4"},
			args: []string{"--settings", file},
			want: func(s *Settings) bool {
				return s.APIAddr == "127.0.0.1:9100" && s.DefaultExpiry == 7*time.Minute && s.WebhookMaxAttempts == 4 && s.LogLevel == "debug"
			},
		},
		{
			name: "flag over env over file",
			env:  map[string]string{"SWITCHD_API_ADDR": "127.0.0.1:9100", "SWITCHD_LOG_LEVEL": "warn"},
			args: []string{"--settings", file, "--api-addr", "127.0.0.1:9200", "--default-expiry", "2m", "--webhook-max-attempts", "5"},
			want: func(s *Settings) bool {
				return s.APIAddr == "127.0.0.1:9200" && s.DefaultExpiry == 2*time.Minute && s.WebhookMaxAttempts == 5 && s.LogLevel == "warn"
			},
		},
		{
			name: "settings file named by env",
			env:  map[string]string{"SWITCHD_SETTINGS": file},
			want: func(s *Settings) bool { return s.APIAddr == "127.0.0.1:9000" },
		},
		{
			name: "explicit lock file",
			args: []string{"--lock-file", "/etc/switchd/lock.hcl"},
			want: func(s *Settings) bool { return s.LockFile == "/etc/switchd/lock.hcl" },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			s, err := LoadSettings(newFlags(t, tt.args...))
			if err != nil {
				t.Fatal(err)
			}
			if !tt.want(s) {
				t.Fatalf("unexpected settings %+v", *s)
			}
		})
	}
}

func TestSettingsFileFormats(t *testing.T) {
	for name, body := range map[string]string{
		"s.toml": "admin-addr = \"127.0.0.1:9301\"\nwebhook-max-backoff = \"1h\"\n",
		"s.json": `{"admin-addr": "127.0.0.1:9301", "webhook-max-backoff": "1h"}`,
		"s.yml":  "admin-addr: 127.0.0.1:9301\nwebhook-max-backoff: 1h\n",
	} {
		t.Run(name, func(t *testing.T) {
			s, err := LoadSettings(newFlags(t, "--settings", writeSettings(t, name, body)))
			if err != nil {
				t.Fatal(err)
			}
			if s.AdminAddr != "127.0.0.1:9301" || s.WebhookMaxBackoff != time.Hour {
				t.Fatalf("got %+v", *s)
			}
		})
	}
}

func TestSettingsInvalid(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		args    []string
		file    string
		wantErr error
		want    []string
	}{
		{name: "bad listen address", args: []string{"--api-addr", "localhost"}, wantErr: ErrInvalidSetting, want: []string{"api-addr", "host:port"}},
		{name: "same ports", args: []string{"--admin-addr", "127.0.0.1:8080"}, wantErr: ErrInvalidSetting, want: []string{"same as api-addr"}},
		{name: "relative public url", env: map[string]string{"SWITCHD_PUBLIC_URL": "pay.example"}, wantErr: ErrInvalidSetting, want: []string{"public-url", "absolute"}},
		{name: "log level", args: []string{"--log-level", "verbose"}, wantErr: ErrInvalidSetting, want: []string{"log-level", "verbose"}},
		{name: "log format", env: map[string]string{"SWITCHD_LOG_FORMAT": "xml"}, wantErr: ErrInvalidSetting, want: []string{"log-format"}},
		{name: "duration without unit", env: map[string]string{"SWITCHD_DEFAULT_EXPIRY": "900"}, wantErr: ErrInvalidSetting, want: []string{"default-expiry", "no unit"}},
		{name: "duration garbage", env: map[string]string{"SWITCHD_PLUGIN_CALL_TIMEOUT": "soon"}, wantErr: ErrInvalidSetting, want: []string{"plugin-call-timeout", "not a duration"}},
		{name: "expiry too long", args: []string{"--default-expiry", "48h"}, wantErr: ErrInvalidSetting, want: []string{"at most 24h"}},
		{name: "backoffs inverted", args: []string{"--webhook-initial-backoff", "5m", "--webhook-max-backoff", "1m"}, wantErr: ErrInvalidSetting, want: []string{"shorter than webhook-initial-backoff"}},
		{name: "attempts", env: map[string]string{"SWITCHD_WEBHOOK_MAX_ATTEMPTS": "0"}, wantErr: ErrInvalidSetting, want: []string{"webhook-max-attempts", "out of range"}},
		{name: "merchant rate", env: map[string]string{"SWITCHD_MERCHANT_RATE": "0"}, wantErr: ErrInvalidSetting, want: []string{"merchant-rate", "0 is out of range; give 1 to 1000000"}},
		{name: "plugin gomaxprocs negative", args: []string{"--plugin-gomaxprocs", "-1"}, wantErr: ErrInvalidSetting, want: []string{"plugin-gomaxprocs", "-1 is out of range; give 0 to 1024"}},
		{name: "merchant burst", env: map[string]string{"SWITCHD_MERCHANT_BURST": "lots"}, wantErr: ErrInvalidSetting, want: []string{"merchant-burst"}},
		{name: "read timeout below header timeout", env: map[string]string{"SWITCHD_READ_HEADER_TIMEOUT": "20s", "SWITCHD_READ_TIMEOUT": "5s"}, wantErr: ErrInvalidSetting, want: []string{"read-timeout", "5s is shorter than read-header-timeout (20s)"}},
		{name: "read header timeout unitless", env: map[string]string{"SWITCHD_READ_HEADER_TIMEOUT": "10"}, wantErr: ErrInvalidSetting, want: []string{"read-header-timeout", "no unit"}},
		{name: "attempts not a number", env: map[string]string{"SWITCHD_WEBHOOK_MAX_ATTEMPTS": "many"}, wantErr: ErrInvalidSetting, want: []string{"whole number"}},
		{name: "empty data dir", args: []string{"--data-dir", ""}, wantErr: ErrInvalidSetting, want: []string{"data-dir", "empty"}},
		{name: "several at once", args: []string{"--log-level", "x", "--log-format", "y"}, wantErr: ErrInvalidSetting, want: []string{"log-level", "log-format"}},
		{name: "unknown key in file", file: "api-adr: 127.0.0.1:1\n", wantErr: ErrSettingsFile, want: []string{"unknown setting(s) api-adr"}},
		{name: "file number duration", file: "default-expiry: 15\n", wantErr: ErrInvalidSetting, want: []string{"no unit"}},
		{name: "missing file", args: []string{"--settings", "/nonexistent/switchd.yaml"}, wantErr: ErrSettingsFile},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			args := tt.args
			if tt.file != "" {
				args = append(args, "--settings", writeSettings(t, "s.yaml", tt.file))
			}
			s, err := LoadSettings(newFlags(t, args...))
			if err == nil {
				t.Fatalf("no error, settings %+v", *s)
			}
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("error %v does not wrap %v", err, tt.wantErr)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestBindSettingsHelpListsEveryFlag(t *testing.T) {
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	BindSettings(fs)
	usage := fs.FlagUsages()
	for _, name := range append([]string{SettingsFlag}, settingNames()...) {
		if !strings.Contains(usage, "--"+name) {
			t.Errorf("--help lacks --%s", name)
		}
	}
	if !strings.Contains(usage, "SWITCHD_WEBHOOK_MAX_ATTEMPTS") {
		t.Errorf("help does not name the environment variables:\n%s", usage)
	}
}
