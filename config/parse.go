package config

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
)

// maxFileFuncSize caps what file() reads: it is meant for keys and secrets.
const maxFileFuncSize = 1 << 20

// Files is a parsed network configuration: the plugin blocks are decoded,
// the institution and merchant blocks wait for Decode, which needs the
// plugins' schemas. Files is immutable after Parse and safe to Decode more
// than once (for example on reload, with new plugin infos).
type Files struct {
	sources      map[string][]byte
	plugins      []*Plugin
	institutions []*rawBlock
	merchants    []*rawBlock
}

// rawBlock is an institution or merchant block with the evaluation context
// of the file it came from (file() resolves against that file's directory).
type rawBlock struct {
	block *hcl.Block
	ctx   *hcl.EvalContext
}

// rootSchema is the top level of every file: blocks only.
var rootSchema = &hcl.BodySchema{
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "plugin", LabelNames: []string{"name"}},
		{Type: "institution", LabelNames: []string{"id"}},
		{Type: "merchant", LabelNames: []string{"id"}},
	},
}

var pluginSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "path", Required: true},
		{Name: "sha256"},
	},
}

var (
	// pluginNameRE is the proto's rule for plugin names.
	pluginNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)
	// idRE is the rule for institution and merchant ids; they become
	// directory names and URL path segments.
	idRE     = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`)
	sha256RE = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

// Parse reads one .hcl file or every *.hcl file in a directory
// (non-recursive, in name order), decodes the plugin blocks and keeps the
// institution and merchant blocks for Decode. The functions env("NAME") and
// file("path") are available in every expression; file() paths are relative
// to the directory of the file that calls it.
//
// Parse only reads: it has no side effects, so a reload can parse a new
// configuration while the old one keeps serving.
func Parse(path string) (*Files, hcl.Diagnostics) {
	f := &Files{sources: map[string][]byte{}}
	names, diags := hclFiles(path)
	if diags.HasErrors() {
		return f, diags
	}
	parser := hclparse.NewParser()
	seenPlugins := map[string]*Plugin{}
	for _, name := range names {
		src, err := os.ReadFile(name)
		if err != nil {
			diags = diags.Append(&hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Cannot read configuration file",
				Detail:   fmt.Sprintf("Reading %s failed: %v.", name, err),
			})
			continue
		}
		f.sources[name] = src
		file, pdiags := parser.ParseHCL(src, name)
		diags = append(diags, pdiags...)
		if file == nil || pdiags.HasErrors() {
			continue
		}
		content, cdiags := file.Body.Content(rootSchema)
		diags = append(diags, cdiags...)
		ctx := evalContext(filepath.Dir(name))
		for _, b := range content.Blocks {
			switch b.Type {
			case "plugin":
				p, pd := decodePlugin(b, ctx)
				diags = append(diags, pd...)
				if p == nil {
					continue
				}
				if prev, ok := seenPlugins[p.Name]; ok {
					diags = diags.Append(duplicate("plugin", p.Name, b.LabelRanges[0], prev.Range))
					continue
				}
				seenPlugins[p.Name] = p
				f.plugins = append(f.plugins, p)
			case "institution":
				f.institutions = append(f.institutions, &rawBlock{block: b, ctx: ctx})
			case "merchant":
				f.merchants = append(f.merchants, &rawBlock{block: b, ctx: ctx})
			}
		}
	}
	return f, diags
}

// hclFiles lists the files Parse reads for path.
func hclFiles(path string) ([]string, hcl.Diagnostics) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Configuration not found",
			Detail:   fmt.Sprintf("Cannot read %s: %v. Give a .hcl file or a directory of .hcl files.", path, err),
		}}
	}
	if !st.IsDir() {
		return []string{path}, nil
	}
	entries, err := os.ReadDir(path)
	if err != nil {
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Cannot read configuration directory",
			Detail:   fmt.Sprintf("Listing %s failed: %v.", path, err),
		}}
	}
	var names []string
	for _, e := range entries {
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".hcl") {
			names = append(names, filepath.Join(path, e.Name()))
		}
	}
	sort.Strings(names)
	if len(names) == 0 {
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "No configuration files",
			Detail:   fmt.Sprintf("The directory %s holds no *.hcl file.", path),
		}}
	}
	return names, nil
}

func decodePlugin(b *hcl.Block, ctx *hcl.EvalContext) (*Plugin, hcl.Diagnostics) {
	name := b.Labels[0]
	var diags hcl.Diagnostics
	if !pluginNameRE.MatchString(name) {
		diags = diags.Append(&hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid plugin name",
			Detail:   fmt.Sprintf("Plugin name %q must be 1 to 64 characters of lower-case letters, digits, '_' and '-', starting with a letter or digit.", name),
			Subject:  b.LabelRanges[0].Ptr(),
		})
	}
	content, cdiags := b.Body.Content(pluginSchema)
	diags = append(diags, cdiags...)
	if cdiags.HasErrors() {
		return nil, diags
	}
	p := &Plugin{Name: name, Range: b.DefRange}
	var d hcl.Diagnostics
	p.Path, d = stringAttr(content.Attributes["path"], ctx)
	diags = append(diags, d...)
	if a := content.Attributes["path"]; a != nil && !d.HasErrors() && strings.TrimSpace(p.Path) == "" {
		diags = diags.Append(attrError(a, "Empty plugin path", "Set path to the plugin binary, absolute or relative to the plugin directory."))
	}
	p.SHA256, d = stringAttr(content.Attributes["sha256"], ctx)
	diags = append(diags, d...)
	if a := content.Attributes["sha256"]; a != nil && !d.HasErrors() && p.SHA256 != "" && !sha256RE.MatchString(p.SHA256) {
		diags = diags.Append(attrError(a, "Invalid plugin digest",
			"sha256 must be the SHA-256 of the plugin binary as 64 lower-case hex digits (sha256sum prints it); or leave it out and pin the digest with `switchd plugins lock`."))
	}
	if diags.HasErrors() {
		return nil, diags
	}
	return p, diags
}

// Plugins returns the decoded plugin blocks in source order. A relative
// Path is relative to the plugin directory; the caller resolves it.
func (f *Files) Plugins() []*Plugin {
	out := make([]*Plugin, len(f.plugins))
	for i, p := range f.plugins {
		c := *p
		out[i] = &c
	}
	return out
}

// Sources returns every file read, by name, for printing diagnostics.
func (f *Files) Sources() map[string][]byte {
	out := make(map[string][]byte, len(f.sources))
	for k, v := range f.sources {
		out[k] = v
	}
	return out
}

// evalContext returns the context for expressions of a file in dir: no
// variables, and the functions env and file.
func evalContext(dir string) *hcl.EvalContext {
	return &hcl.EvalContext{
		Functions: map[string]function.Function{
			"env":  envFunc,
			"file": fileFunc(dir),
		},
	}
}

// envFunc is env("NAME"): the value of an environment variable. An unset
// variable is an error; a set but empty one is the empty string.
var envFunc = function.New(&function.Spec{
	Description: "Returns the value of an environment variable.",
	Params:      []function.Parameter{{Name: "name", Type: cty.String}},
	Type:        function.StaticReturnType(cty.String),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		name := args[0].AsString()
		v, ok := os.LookupEnv(name)
		if !ok {
			return cty.NilVal, fmt.Errorf("environment variable %s is not set; export it before starting switchd", name)
		}
		return cty.StringVal(v), nil
	},
})

// fileFunc is file("path"): the content of a file, relative to dir, with
// trailing line breaks removed (so `echo key > file` works). The content is
// never put in an error message.
func fileFunc(dir string) function.Function {
	return function.New(&function.Spec{
		Description: "Returns the content of a file, relative to the configuration file's directory.",
		Params:      []function.Parameter{{Name: "path", Type: cty.String}},
		Type:        function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			p := args[0].AsString()
			if p == "" {
				return cty.NilVal, fmt.Errorf("the path is empty")
			}
			if !filepath.IsAbs(p) {
				p = filepath.Join(dir, p)
			}
			st, err := os.Stat(p)
			if err != nil {
				return cty.NilVal, fmt.Errorf("cannot read %s: %w", p, unwrapPathError(err))
			}
			if st.IsDir() {
				return cty.NilVal, fmt.Errorf("%s is a directory, not a file", p)
			}
			if st.Size() > maxFileFuncSize {
				return cty.NilVal, fmt.Errorf("%s is larger than %d bytes", p, maxFileFuncSize)
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return cty.NilVal, fmt.Errorf("cannot read %s: %w", p, unwrapPathError(err))
			}
			if !utf8.Valid(b) {
				return cty.NilVal, fmt.Errorf("%s is not UTF-8 text; store binary keys base64-encoded", p)
			}
			return cty.StringVal(strings.TrimRight(string(b), "\r\n")), nil
		},
	})
}

// unwrapPathError drops the path from an *os.PathError, since the message
// already names it.
func unwrapPathError(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}
