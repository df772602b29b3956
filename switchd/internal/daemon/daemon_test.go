package daemon

import (
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchd/switchd/config"
	"github.com/switchd/switchd/switchd/internal/pluginhost"
)

func TestPluginSpecs(t *testing.T) {
	const sumA = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	const sumB = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	for _, tc := range []struct {
		name    string
		hcl     string
		lock    []pluginhost.LockEntry
		running map[string]pluginhost.Spec
		want    []pluginhost.Spec
		err     error
		errText string
	}{
		{name: "pinned in HCL, relative path", hcl: `plugin "card" {
  path = "card"
  sha256 = "` + sumA + `"
}`, want: []pluginhost.Spec{{Name: "card", Path: "PLUGINDIR/card", SHA256: sumA}}},
		{name: "pinned by the lock file", hcl: `plugin "card" { path = "/opt/card" }`,
			lock: []pluginhost.LockEntry{{Name: "card", Path: "/opt/card", SHA256: sumB}},
			want: []pluginhost.Spec{{Name: "card", Path: "/opt/card", SHA256: sumB}}},
		{name: "not pinned", hcl: `plugin "card" { path = "/opt/card" }`, err: ErrConfig, errText: "card"},
		{name: "already running, unchanged", hcl: `plugin "card" {
  path = "/opt/card"
  sha256 = "` + sumA + `"
}`, running: map[string]pluginhost.Spec{"card": {Name: "card", Path: "/opt/card", SHA256: sumA}}},
		{name: "running binary changed", hcl: `plugin "card" {
  path = "/opt/card"
  sha256 = "` + sumB + `"
}`, running: map[string]pluginhost.Spec{"card": {Name: "card", Path: "/opt/card", SHA256: sumA}},
			err: ErrPluginChanged, errText: "card"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			pluginDir := filepath.Join(dir, "plugins")
			cfg := filepath.Join(dir, "net.hcl")
			os.WriteFile(cfg, []byte(tc.hcl+"\n"), 0o600)
			set := &config.Settings{DataDir: filepath.Join(dir, "data"), PluginDir: pluginDir, ConfigPath: cfg}
			if tc.lock != nil {
				set.LockFile = filepath.Join(dir, "lock.hcl")
				if err := pluginhost.WriteLock(set.LockFile, tc.lock); err != nil {
					t.Fatal(err)
				}
			}
			d := New(set, nil)
			for k, v := range tc.running {
				d.specs[k] = v
			}
			files, diags := config.Parse(cfg)
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			got, err := d.pluginSpecs(files)
			if tc.err != nil {
				if !errors.Is(err, tc.err) || !strings.Contains(err.Error(), tc.errText) {
					t.Fatalf("err = %v, want %v mentioning %q", err, tc.err, tc.errText)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for i := range tc.want {
				tc.want[i].Path = strings.Replace(tc.want[i].Path, "PLUGINDIR", pluginDir, 1)
			}
			if len(got) != len(tc.want) || (len(got) > 0 && got[0] != tc.want[0]) {
				t.Fatalf("specs %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestMerchantByKeyHash(t *testing.T) {
	d := New(&config.Settings{}, nil)
	d.net.Store(&config.Network{Merchants: map[string]*config.Merchant{
		"shop":  {ID: "shop", APIKeySHA256: sha256.Sum256([]byte("key-shop"))},
		"other": {ID: "other", APIKeySHA256: sha256.Sum256([]byte("key-other"))},
	}})
	for key, want := range map[string]string{"key-shop": "shop", "key-other": "other", "nope": "", "": ""} {
		id, ok := d.merchantByKeyHash(sha256.Sum256([]byte(key)))
		if id != want || ok != (want != "") {
			t.Errorf("key %q: %q %v, want %q", key, id, ok, want)
		}
	}
}
