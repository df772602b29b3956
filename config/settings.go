package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"github.com/spf13/viper"
)

// Settings are the daemon's own settings. Each comes from, in rising
// precedence: its default, the --settings file (YAML, TOML or JSON), the
// SWITCHD_<NAME> environment variable (upper case, '-' as '_'), and the
// command-line flag.
type Settings struct {
	APIAddr               string        // "api-addr": listen address of the public API and payment page
	AdminAddr             string        // "admin-addr": listen address of the admin API and metrics
	PublicURL             string        // "public-url": base URL of payment page links
	DataDir               string        // "data-dir": database and plugin state
	ConfigPath            string        // "config": network HCL file or directory
	PluginDir             string        // "plugin-dir": where relative plugin paths resolve
	LockFile              string        // "lock-file": plugin digests; default <data-dir>/plugins.lock.hcl
	LogLevel              string        // "log-level": debug, info, warn or error
	LogFormat             string        // "log-format": json or text
	DefaultExpiry         time.Duration // "default-expiry": payment lifetime when the merchant gives none
	WebhookMaxAttempts    int           // "webhook-max-attempts": deliveries tried before a webhook is dead
	WebhookInitialBackoff time.Duration // "webhook-initial-backoff": wait before the first retry
	WebhookMaxBackoff     time.Duration // "webhook-max-backoff": cap of the doubling wait
	PluginCallTimeout     time.Duration // "plugin-call-timeout": cap of a plugin call without a deadline
	MerchantRate          int           // "merchant-rate": API requests per second allowed to one merchant
	MerchantBurst         int           // "merchant-burst": requests one merchant may make at once above its rate
	ReadHeaderTimeout     time.Duration // "read-header-timeout": time a client has to send a request's headers
	ReadTimeout           time.Duration // "read-timeout": time a client has to send a whole request
	PluginGOMAXPROCS      int           // "plugin-gomaxprocs": GOMAXPROCS of each plugin process; 0: a quarter of the CPUs, at least 1
}

// SettingsFlag is the flag (and SWITCHD_SETTINGS variable) naming the
// settings file.
const SettingsFlag = "settings"

// setting describes one setting: its name, default and help.
type setting struct {
	name, help string
	def        any // string, int or time.Duration
}

// settings lists every setting in the order `--help` shows them.
var settings = []setting{
	{"api-addr", "listen address of the public API and payment page", "127.0.0.1:8080"},
	{"admin-addr", "listen address of the admin API and metrics", "127.0.0.1:8081"},
	{"public-url", "base URL that payers and merchants reach the API and payment page at", "http://127.0.0.1:8080"},
	{"data-dir", "directory for the database and the plugins' state", "data"},
	{"config", "network configuration: an .hcl file or a directory of them", "examples/quickstart"},
	{"plugin-dir", "directory that relative plugin paths are resolved against", "bin/plugins"},
	{"lock-file", "plugin digest lock file (default <data-dir>/plugins.lock.hcl)", ""},
	{"log-level", "log level: debug, info, warn or error", "info"},
	{"log-format", "log format: text or json", "text"},
	{"default-expiry", "lifetime of a payment whose merchant gives no expiry", 15 * time.Minute},
	{"webhook-max-attempts", "webhook deliveries tried before giving up", 12},
	{"webhook-initial-backoff", "wait before the first webhook retry; doubles each time", time.Second},
	{"webhook-max-backoff", "longest wait between webhook retries", 10 * time.Minute},
	{"plugin-call-timeout", "time limit of a plugin call that has no deadline of its own", 10 * time.Second},
	{"merchant-rate", "API requests per second one merchant may make (a payment takes one, plus its reads)", 100},
	{"merchant-burst", "API requests one merchant may make at once above merchant-rate", 200},
	{"read-header-timeout", "time a client has to send a request's headers before its connection is closed", 10 * time.Second},
	{"read-timeout", "time a client has to send a whole request, body included", 30 * time.Second},
	{"plugin-gomaxprocs", "CPUs each plugin process may run Go code on at once (GOMAXPROCS); 0: a quarter of the machine's, at least 1", 0},
}

// BindSettings registers every setting as a flag on fs, with its default
// and help, plus --settings for the settings file.
func BindSettings(fs *pflag.FlagSet) {
	fs.String(SettingsFlag, "", "settings file (.yaml, .toml or .json); every flag below can be set there, or as SWITCHD_<FLAG> in the environment")
	for _, s := range settings {
		help := s.help + " (env SWITCHD_" + envName(s.name) + ")"
		switch d := s.def.(type) {
		case string:
			fs.String(s.name, d, help)
		case int:
			fs.Int(s.name, d, help)
		case time.Duration:
			fs.Duration(s.name, d, help)
		}
	}
}

func envName(name string) string {
	return strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// LoadSettings reads the settings: defaults, then the --settings file,
// then SWITCHD_* environment variables, then the flags set on fs (which
// must have been registered with BindSettings; nil means no flags). Every
// bad value is reported, joined, each wrapping ErrInvalidSetting.
func LoadSettings(fs *pflag.FlagSet) (*Settings, error) {
	if fs == nil {
		fs = pflag.NewFlagSet("settings", pflag.ContinueOnError)
	}
	if fs.Lookup(SettingsFlag) == nil {
		BindSettings(fs)
	}
	v := viper.New()
	v.SetEnvPrefix("SWITCHD")
	v.SetEnvKeyReplacer(strings.NewReplacer("-", "_"))
	v.AutomaticEnv()
	for _, s := range settings {
		v.SetDefault(s.name, s.def)
	}
	for _, name := range append([]string{SettingsFlag}, settingNames()...) {
		if f := fs.Lookup(name); f != nil {
			if err := v.BindPFlag(name, f); err != nil {
				return nil, fmt.Errorf("config: binding flag --%s: %w", name, err)
			}
		}
	}
	if path := v.GetString(SettingsFlag); path != "" {
		m, err := readSettingsFile(path)
		if err != nil {
			return nil, err
		}
		if err := v.MergeConfigMap(m); err != nil {
			return nil, fmt.Errorf("config: %w %s: %w", ErrSettingsFile, path, err)
		}
	}

	var errs []error
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("config: %w %s: %s", ErrInvalidSetting, name, fmt.Sprintf(format, args...)))
	}
	dur := func(name string, min time.Duration) time.Duration {
		d, err := toDuration(v.Get(name))
		if err != nil {
			bad(name, "%v", err)
			return 0
		}
		if d < min {
			bad(name, "%s is too short; give at least %s", d, min)
		}
		return d
	}
	s := &Settings{
		APIAddr:               v.GetString("api-addr"),
		AdminAddr:             v.GetString("admin-addr"),
		PublicURL:             v.GetString("public-url"),
		DataDir:               v.GetString("data-dir"),
		ConfigPath:            v.GetString("config"),
		PluginDir:             v.GetString("plugin-dir"),
		LockFile:              v.GetString("lock-file"),
		LogLevel:              strings.ToLower(v.GetString("log-level")),
		LogFormat:             strings.ToLower(v.GetString("log-format")),
		DefaultExpiry:         dur("default-expiry", time.Minute),
		WebhookInitialBackoff: dur("webhook-initial-backoff", 10*time.Millisecond),
		WebhookMaxBackoff:     dur("webhook-max-backoff", 10*time.Millisecond),
		PluginCallTimeout:     dur("plugin-call-timeout", 100*time.Millisecond),
		ReadHeaderTimeout:     dur("read-header-timeout", 100*time.Millisecond),
		ReadTimeout:           dur("read-timeout", 100*time.Millisecond),
	}
	intIn := func(name string, lo, hi int) int {
		n, err := toInt(v.Get(name))
		if err != nil {
			bad(name, "%v", err)
			return 0
		}
		if n < lo || n > hi {
			bad(name, "%d is out of range; give %d to %d", n, lo, hi)
			return 0
		}
		return n
	}
	s.WebhookMaxAttempts = intIn("webhook-max-attempts", 1, 1000)
	s.MerchantRate = intIn("merchant-rate", 1, 1_000_000)
	s.MerchantBurst = intIn("merchant-burst", 1, 1_000_000)
	s.PluginGOMAXPROCS = intIn("plugin-gomaxprocs", 0, 1024)
	if s.ReadTimeout > 0 && s.ReadTimeout < s.ReadHeaderTimeout {
		bad("read-timeout", "%s is shorter than read-header-timeout (%s)", s.ReadTimeout, s.ReadHeaderTimeout)
	}
	if s.DefaultExpiry > 24*time.Hour {
		bad("default-expiry", "%s is too long; give at most 24h", s.DefaultExpiry)
	}
	if s.WebhookMaxBackoff > 0 && s.WebhookMaxBackoff < s.WebhookInitialBackoff {
		bad("webhook-max-backoff", "%s is shorter than webhook-initial-backoff (%s)", s.WebhookMaxBackoff, s.WebhookInitialBackoff)
	}
	for _, a := range []struct{ name, val string }{{"api-addr", s.APIAddr}, {"admin-addr", s.AdminAddr}} {
		if err := checkListenAddr(a.val); err != nil {
			bad(a.name, "%q %v", a.val, err)
		}
	}
	if s.APIAddr == s.AdminAddr && !strings.HasSuffix(s.APIAddr, ":0") {
		bad("admin-addr", "%q is the same as api-addr; give each its own port", s.AdminAddr)
	}
	if err := checkPublicURL(s.PublicURL); err != nil {
		bad("public-url", "%q %v", s.PublicURL, err)
	}
	for _, p := range []struct{ name, val string }{{"data-dir", s.DataDir}, {"config", s.ConfigPath}, {"plugin-dir", s.PluginDir}} {
		if strings.TrimSpace(p.val) == "" {
			bad(p.name, "must not be empty")
		}
	}
	if s.LockFile == "" && s.DataDir != "" {
		s.LockFile = filepath.Join(s.DataDir, "plugins.lock.hcl")
	}
	if !slices.Contains([]string{"debug", "info", "warn", "error"}, s.LogLevel) {
		bad("log-level", "%q is not one of debug, info, warn, error", s.LogLevel)
	}
	if s.LogFormat != "text" && s.LogFormat != "json" {
		bad("log-format", "%q is not text or json", s.LogFormat)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return s, nil
}

func settingNames() []string {
	out := make([]string, len(settings))
	for i, s := range settings {
		out[i] = s.name
	}
	return out
}

// readSettingsFile reads a settings file and refuses keys that are not
// settings, so that a typo does not silently keep a default.
func readSettingsFile(path string) (map[string]any, error) {
	fv := viper.New()
	fv.SetConfigFile(path)
	if err := fv.ReadInConfig(); err != nil {
		return nil, fmt.Errorf("config: %w %s: %w (use a .yaml, .toml or .json file)", ErrSettingsFile, path, err)
	}
	known := settingNames()
	var unknown []string
	for _, k := range fv.AllKeys() {
		if !slices.Contains(known, k) {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		return nil, fmt.Errorf("config: %w %s: unknown setting(s) %s; the settings are: %s",
			ErrSettingsFile, path, strings.Join(unknown, ", "), strings.Join(known, ", "))
	}
	return fv.AllSettings(), nil
}

// toDuration accepts a time.Duration or a string with a unit ("15m").
// A bare number is refused: its unit would be a guess.
func toDuration(x any) (time.Duration, error) {
	switch d := x.(type) {
	case time.Duration:
		return d, nil
	case string:
		if _, err := strconv.ParseFloat(strings.TrimSpace(d), 64); err == nil {
			return 0, fmt.Errorf("%q has no unit; write it like 15m, 10s or 500ms", d)
		}
		out, err := time.ParseDuration(strings.TrimSpace(d))
		if err != nil {
			return 0, fmt.Errorf("%q is not a duration; write it like 15m, 10s or 500ms", d)
		}
		return out, nil
	default:
		return 0, fmt.Errorf("%v has no unit; write it as a string like \"15m\", \"10s\" or \"500ms\"", x)
	}
}

func toInt(x any) (int, error) {
	switch n := x.(type) {
	case int:
		return n, nil
	case int64:
		return int(n), nil
	case float64:
		if n != float64(int(n)) {
			return 0, fmt.Errorf("%v is not a whole number", n)
		}
		return int(n), nil
	case string:
		i, err := strconv.Atoi(strings.TrimSpace(n))
		if err != nil {
			return 0, fmt.Errorf("%q is not a whole number", n)
		}
		return i, nil
	default:
		return 0, fmt.Errorf("%v is not a whole number", x)
	}
}

// checkListenAddr accepts host:port with a numeric port.
func checkListenAddr(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("is not host:port (e.g. 127.0.0.1:8080)")
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("has no valid port number")
	}
	return nil
}

// checkPublicURL accepts an absolute http(s) URL without query or
// fragment.
func checkPublicURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("must be an absolute http:// or https:// URL, like https://pay.example")
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("must not have a query or fragment")
	}
	return nil
}
