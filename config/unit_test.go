package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"

	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
)

func TestDecodeWithoutSchemasWarnsAndNamesBlocks(t *testing.T) {
	setTestEnv(t)
	f, diags := Parse("testdata/valid_network")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	n, diags := f.Decode(nil)
	if diags.HasErrors() {
		t.Fatalf("Decode(nil): %s", diags.Error())
	}
	ws := Warnings(diags)
	if len(ws) != 1 || ws[0].Summary != "Plugin settings not checked" {
		t.Fatalf("want one 'not checked' warning, got %v", diagLines(diags))
	}
	for _, want := range []string{`authenticator "ocra" of institution "bank_a"`, `method "card" of institution "bank_b"`, "institutions.hcl:7:3"} {
		if !strings.Contains(ws[0].Detail, want) {
			t.Errorf("warning detail does not name %s: %s", want, ws[0].Detail)
		}
	}
	if got := n.Institutions["bank_a"].Authenticators[0].ConfigJSON; got != nil {
		t.Errorf("unchecked block has ConfigJSON %s", got)
	}
}

func TestDecodeMissingInfoIsError(t *testing.T) {
	setTestEnv(t)
	f, _ := Parse("testdata/valid_network")
	infos := testInfos()
	delete(infos, "passkey")
	_, diags := f.Decode(infos)
	lines := diagLines(Errors(diags))
	if len(lines) != 1 || !strings.HasSuffix(lines[0], "plugins.hcl:6:1: error: No schema for plugin") {
		t.Fatalf("got %v", lines)
	}
}

func TestParseIsRepeatable(t *testing.T) {
	// A reload decodes the same Files again, or new Files, without side
	// effects: both decodes give equal networks.
	setTestEnv(t)
	f, _ := Parse("testdata/valid_network")
	a, d1 := f.Decode(testInfos())
	b, d2 := f.Decode(testInfos())
	if d1.HasErrors() || d2.HasErrors() {
		t.Fatal(d1, d2)
	}
	ja, _ := json.Marshal(golden(a))
	jb, _ := json.Marshal(golden(b))
	if !bytes.Equal(ja, jb) {
		t.Fatal("two decodes of the same files differ")
	}
	if a.Institutions["bank_a"] == b.Institutions["bank_a"] {
		t.Fatal("decodes share institution values")
	}
}

func TestWriteDiagnostics(t *testing.T) {
	src := []byte("a = 1\n\tkey = \"wrong\"\nz = 2\n")
	r := hcl.Range{Filename: "x.hcl", Start: hcl.Pos{Line: 2, Column: 8, Byte: 13}, End: hcl.Pos{Line: 2, Column: 15, Byte: 20}}
	tests := []struct {
		name  string
		diag  *hcl.Diagnostic
		want  []string
		avoid []string
	}{
		{
			name: "caret under the range",
			diag: &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Bad key", Detail: "Fix it.", Subject: &r},
			want: []string{"Error: Bad key\n", "on x.hcl line 2, column 8:", "     2: \tkey = \"wrong\"\n        \t      ^^^^^^^\n", "\nFix it.\n"},
		},
		{
			name:  "secret line hidden",
			diag:  &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Inline", Subject: &r, Extra: sensitiveInline{}},
			want:  []string{"line not shown"},
			avoid: []string{"wrong"},
		},
		{
			name: "warning without range",
			diag: &hcl.Diagnostic{Severity: hcl.DiagWarning, Summary: "Careful", Detail: "Details."},
			want: []string{"Warning: Careful\n\nDetails.\n"},
		},
		{
			name: "range outside the source prints no snippet",
			diag: &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Odd", Subject: &hcl.Range{Filename: "x.hcl", Start: hcl.Pos{Line: 9, Byte: 999}, End: hcl.Pos{Line: 9, Byte: 999}}},
			want: []string{"on x.hcl line 9"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := WriteDiagnostics(&buf, map[string][]byte{"x.hcl": src}, hcl.Diagnostics{tt.diag}, false); err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.want {
				if !strings.Contains(buf.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, buf.String())
				}
			}
			for _, a := range tt.avoid {
				if strings.Contains(buf.String(), a) {
					t.Errorf("output contains %q:\n%s", a, buf.String())
				}
			}
		})
	}
}

func TestBINRanges(t *testing.T) {
	tests := []struct {
		in      string
		wantErr string
	}{
		{"411111-411199", ""},
		{"4-4", ""},
		{"41x111-411199", "digits only"},
		{"4111-41119", "unequal lengths"},
		{"411199-411111", "start is after end"},
		{"411111", "no '-'"},
		{"-", "digits only"},
		{"12345678901234567890-12345678901234567890", "longer than a card number"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			_, err := ParseBINRange(tt.in)
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("ParseBINRange(%q) = %v, want error containing %q", tt.in, err, tt.wantErr)
			}
		})
	}
	overlaps := []struct {
		a, b string
		want bool
	}{
		{"411111-411199", "411199-411200", true},
		{"411111-411199", "411200-411299", false},
		{"4111-4111", "411150-411160", true},
		{"50-50", "500000-500099", true},
		{"51-55", "500000-509999", false},
		{"4-4", "5-5", false},
	}
	for _, o := range overlaps {
		t.Run(o.a+"~"+o.b, func(t *testing.T) {
			a, _ := ParseBINRange(o.a)
			b, _ := ParseBINRange(o.b)
			if a.overlaps(b) != o.want || b.overlaps(a) != o.want {
				t.Fatalf("overlaps = %v, want %v", a.overlaps(b), o.want)
			}
		})
	}
}

func TestFileAndEnvFunctions(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "k.txt"), []byte("secret\r\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "bin"), []byte{0xff, 0xfe}, 0o600)
	t.Setenv("SWITCHD_TEST_SET", "from-env")
	tests := []struct {
		expr, want, wantErr string
	}{
		{`file("k.txt")`, "secret", ""},
		{`file("` + filepath.Join(dir, "k.txt") + `")`, "secret", ""},
		{`env("SWITCHD_TEST_SET")`, "from-env", ""},
		{`file("bin")`, "", "not UTF-8"},
		{`file("")`, "", "path is empty"},
		{`file(".")`, "", "is a directory"},
		{`file("nope")`, "", "nope: no such file"},
		{`env("SWITCHD_TEST_NOPE_UNSET")`, "", "SWITCHD_TEST_NOPE_UNSET is not set"},
	}
	for i, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			// The HCL file sits in dir: relative paths resolve against it.
			p := filepath.Join(dir, fmt.Sprintf("net%d.hcl", i))
			os.WriteFile(p, []byte(`plugin "p" { path = `+tt.expr+` }`), 0o600)
			f, diags := Parse(p)
			if tt.wantErr != "" {
				if !diags.HasErrors() || !strings.Contains(diags.Error(), tt.wantErr) {
					t.Fatalf("want error %q, got %v", tt.wantErr, diags)
				}
				if diags[0].Subject == nil || diags[0].Subject.Start.Column != 21 {
					t.Fatalf("error not at the call: %v", diags[0].Subject)
				}
				return
			}
			if diags.HasErrors() || f.Plugins()[0].Path != tt.want {
				t.Fatalf("got %v %+v, want %q", diags, f.Plugins(), tt.want)
			}
		})
	}
}

func writeTemp(t testing.TB, src string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "in.hcl")
	if err := os.WriteFile(p, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestParseDirectoryErrors(t *testing.T) {
	empty := t.TempDir()
	tests := []struct{ path, want string }{
		{filepath.Join(empty, "missing.hcl"), "Configuration not found"},
		{empty, "No configuration files"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			_, diags := Parse(tt.path)
			if !diags.HasErrors() || diags[0].Summary != tt.want {
				t.Fatalf("got %v", diags)
			}
		})
	}
}

// FuzzLoad feeds arbitrary bytes through Parse, Decode and
// WriteDiagnostics: they must never panic, and every error must be a
// diagnostic with a summary and a source range.
func FuzzLoad(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*.hcl")
	more, _ := filepath.Glob("testdata/valid_network/*.hcl")
	for _, s := range append(seeds, more...) {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`institution "x" { roles = ["issuer"] bin_ranges = ["1-2", "0-0"] }`))
	f.Add([]byte("merchant \"m\" {\n webhook_secret = \"whsec_\"\n}\n"))
	dir := f.TempDir()
	os.WriteFile(filepath.Join(dir, "secret.txt"), []byte("s3cret"), 0o600)
	f.Fuzz(func(t *testing.T, src []byte) {
		setTestEnv(t)
		p := filepath.Join(dir, "fuzz.hcl")
		if err := os.WriteFile(p, src, 0o600); err != nil {
			t.Fatal(err)
		}
		files, diags := Parse(p)
		if !diags.HasErrors() {
			_, d := files.Decode(testInfos())
			diags = append(diags, d...)
			_, d = files.Decode(nil)
			diags = append(diags, d...)
		}
		for _, d := range diags {
			if d.Summary == "" {
				t.Fatalf("diagnostic without summary: %#v", d)
			}
			if d.Severity == hcl.DiagError && d.Subject == nil {
				t.Fatalf("error %q has no source range", d.Summary)
			}
		}
		if err := WriteDiagnostics(&bytes.Buffer{}, files.Sources(), diags, true); err != nil {
			t.Fatal(err)
		}
	})
}

func TestPluginUseDiagnosticsLocatePaths(t *testing.T) {
	setTestEnv(t)
	n, _ := MustLoad(t, "testdata/valid_network")
	ocra := n.Institutions["bank_a"].PayerAuth
	file := "testdata/valid_network/institutions.hcl"
	tests := []struct {
		name string
		path []string
		sev  pb.Severity
		want string
	}{
		{"attribute", []string{"issuer_key"}, pb.Severity_SEVERITY_ERROR, file + ":8:20"},
		{"nested attribute", []string{"payer", "bob", "secret"}, pb.Severity_SEVERITY_ERROR, file + ":15:17"},
		{"nested block", []string{"payer", "alice"}, pb.Severity_SEVERITY_WARNING, file + ":11:5"},
		{"unknown label falls back to the block", []string{"payer", "zed", "secret"}, pb.Severity_SEVERITY_ERROR, file + ":7:3"},
		{"empty path", nil, pb.Severity_SEVERITY_ERROR, file + ":7:3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ocra.Diagnostics([]*pb.Diagnostic{{Severity: tt.sev, Summary: "Bad", Detail: "Fix.", Path: tt.path}})
			if len(got) != 1 || rangeString(*got[0].Subject) != tt.want {
				t.Fatalf("got %v, want at %s", diagLines(got), tt.want)
			}
			if (got[0].Severity == hcl.DiagWarning) != (tt.sev == pb.Severity_SEVERITY_WARNING) {
				t.Errorf("severity %v for %v", got[0].Severity, tt.sev)
			}
			if !strings.Contains(got[0].Detail, `Fix. (reported by plugin "ocra")`) {
				t.Errorf("detail %q", got[0].Detail)
			}
		})
	}
}
