package config

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
)

// sensitiveInline marks (in hcl.Diagnostic.Extra) a diagnostic whose source
// line holds a secret: WriteDiagnostics does not print that line.
type sensitiveInline struct{}

// pluginBody decodes a plugin-specific block body against the plugin's
// schema into the JSON object that ConfigureRequest.config_json documents:
// attributes as values, nested blocks as arrays of objects under the block
// type name, with labels as string fields. Unknown attributes and blocks
// are errors; sensitive attributes must come from env() or file().
func pluginBody(body hcl.Body, schema *pb.Schema, ctx *hcl.EvalContext, where string) (map[string]any, hcl.Diagnostics) {
	hs, err := hclSchema(schema)
	if err != nil {
		return nil, hcl.Diagnostics{errorAt(body.MissingItemRange(), "Invalid plugin schema",
			fmt.Sprintf("The schema that %s reports is unusable: %v. This is a bug in the plugin.", where, err))}
	}
	content, diags := body.Content(hs)
	out := map[string]any{}
	for _, as := range schema.GetAttributes() {
		a, ok := content.Attributes[as.GetName()]
		if !ok {
			continue
		}
		if as.GetSensitive() && !usesSecretFunc(a.Expr) {
			diags = diags.Append(&hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Sensitive value written inline",
				Detail: fmt.Sprintf("%s is sensitive (%s) and must not be written in the configuration. "+
					"Put it in an environment variable or in a file only switchd can read, and write "+
					"%s = env(\"VARIABLE\") or %s = file(\"path/to/secret\") (relative to this file).",
					as.GetName(), where, as.GetName(), as.GetName()),
				Subject: a.Expr.Range().Ptr(),
				Context: a.Range.Ptr(),
				Extra:   sensitiveInline{},
			})
			continue
		}
		v, d := attrJSON(a, as, ctx)
		diags = append(diags, d...)
		if v != nil {
			out[as.GetName()] = v
		}
	}
	for _, bt := range schema.GetBlocks() {
		var blocks []*hcl.Block
		for _, b := range content.Blocks {
			if b.Type == bt.GetName() {
				blocks = append(blocks, b)
			}
		}
		if n := uint32(len(blocks)); n < bt.GetMinItems() {
			diags = diags.Append(errorAt(body.MissingItemRange(), "Missing "+bt.GetName()+" block",
				fmt.Sprintf("%s needs at least %d %q block(s) here, found %d.", where, bt.GetMinItems(), bt.GetName(), n)))
		}
		if max := bt.GetMaxItems(); max > 0 && uint32(len(blocks)) > max {
			diags = diags.Append(errorAt(blocks[max].DefRange, "Too many "+bt.GetName()+" blocks",
				fmt.Sprintf("%s allows at most %d %q block(s) here.", where, max, bt.GetName())))
		}
		if len(blocks) == 0 {
			continue
		}
		list := make([]any, 0, len(blocks))
		for _, b := range blocks {
			obj, d := pluginBody(b.Body, bt.GetBody(), ctx, where)
			diags = append(diags, d...)
			if obj == nil {
				continue
			}
			for i, l := range bt.GetLabels() {
				obj[l] = b.Labels[i]
			}
			list = append(list, obj)
		}
		out[bt.GetName()] = list
	}
	return out, diags
}

// hclSchema turns a plugin's schema into an hcl.BodySchema.
func hclSchema(s *pb.Schema) (*hcl.BodySchema, error) {
	hs := &hcl.BodySchema{}
	seen := map[string]bool{}
	for _, a := range s.GetAttributes() {
		if a.GetName() == "" || seen[a.GetName()] {
			return nil, fmt.Errorf("attribute name %q is empty or repeated", a.GetName())
		}
		if _, ok := ctyType(a.GetType()); !ok {
			return nil, fmt.Errorf("attribute %q has no valid type", a.GetName())
		}
		seen[a.GetName()] = true
		hs.Attributes = append(hs.Attributes, hcl.AttributeSchema{Name: a.GetName(), Required: a.GetRequired()})
	}
	for _, b := range s.GetBlocks() {
		if b.GetName() == "" || seen[b.GetName()] {
			return nil, fmt.Errorf("block type %q is empty or repeated", b.GetName())
		}
		if b.GetMaxItems() > 0 && b.GetMinItems() > b.GetMaxItems() {
			return nil, fmt.Errorf("block type %q has min_items > max_items", b.GetName())
		}
		if _, err := hclSchema(b.GetBody()); err != nil {
			return nil, fmt.Errorf("block type %q: %w", b.GetName(), err)
		}
		seen[b.GetName()] = true
		hs.Blocks = append(hs.Blocks, hcl.BlockHeaderSchema{Type: b.GetName(), LabelNames: b.GetLabels()})
	}
	return hs, nil
}

func ctyType(t pb.AttributeType) (cty.Type, bool) {
	switch t {
	case pb.AttributeType_ATTRIBUTE_TYPE_STRING:
		return cty.String, true
	case pb.AttributeType_ATTRIBUTE_TYPE_NUMBER:
		return cty.Number, true
	case pb.AttributeType_ATTRIBUTE_TYPE_BOOL:
		return cty.Bool, true
	case pb.AttributeType_ATTRIBUTE_TYPE_LIST_STRING:
		return cty.List(cty.String), true
	case pb.AttributeType_ATTRIBUTE_TYPE_MAP_STRING:
		return cty.Map(cty.String), true
	}
	return cty.NilType, false
}

// attrJSON evaluates a plugin attribute and converts it to its JSON value.
// A null value counts as unset. Values never appear in diagnostics.
func attrJSON(a *hcl.Attribute, as *pb.Attribute, ctx *hcl.EvalContext) (any, hcl.Diagnostics) {
	v, diags := a.Expr.Value(ctx)
	if diags.HasErrors() {
		return nil, diags
	}
	if v.IsNull() {
		if as.GetRequired() {
			diags = diags.Append(attrError(a, "Missing required value", fmt.Sprintf("%s is required and must not be null.", a.Name)))
		}
		return nil, diags
	}
	t, _ := ctyType(as.GetType())
	c, err := convert.Convert(v, t)
	if err != nil {
		return nil, diags.Append(attrError(a, "Invalid value",
			fmt.Sprintf("%s must be %s, not %s.", a.Name, t.FriendlyName(), v.Type().FriendlyName())))
	}
	if !c.IsWhollyKnown() {
		return nil, diags.Append(attrError(a, "Invalid value", fmt.Sprintf("%s has no known value.", a.Name)))
	}
	switch {
	case t == cty.String:
		return c.AsString(), diags
	case t == cty.Bool:
		return c.True(), diags
	case t == cty.Number:
		bf := c.AsBigFloat()
		if bf.IsInf() {
			return nil, diags.Append(attrError(a, "Invalid value", fmt.Sprintf("%s must be a finite number.", a.Name)))
		}
		return json.Number(bf.Text('f', -1)), diags
	case t.IsListType():
		out := []string{}
		for _, e := range c.AsValueSlice() {
			if e.IsNull() {
				return nil, diags.Append(attrError(a, "Invalid value", fmt.Sprintf("%s must not contain null.", a.Name)))
			}
			out = append(out, e.AsString())
		}
		return out, diags
	default: // map of string
		out := map[string]string{}
		for k, e := range c.AsValueMap() {
			if e.IsNull() {
				return nil, diags.Append(attrError(a, "Invalid value", fmt.Sprintf("%s must not contain null.", a.Name)))
			}
			out[k] = e.AsString()
		}
		return out, diags
	}
}

// usesSecretFunc reports whether an expression takes its value from env()
// or file(), as a sensitive attribute must.
func usesSecretFunc(expr hcl.Expression) bool {
	node, ok := expr.(hclsyntax.Node)
	if !ok {
		return false
	}
	found := false
	hclsyntax.VisitAll(node, func(n hclsyntax.Node) hcl.Diagnostics {
		if c, ok := n.(*hclsyntax.FunctionCallExpr); ok && (c.Name == "env" || c.Name == "file") {
			found = true
		}
		return nil
	})
	return found
}

// describeUse names a plugin use for messages, e.g.
// `authenticator "ocra" of institution "bank_a"`.
func describeUse(kind, label, institution string) string {
	return fmt.Sprintf("%s %q of institution %q", kind, label, institution)
}

// joinQuoted renders names as "a", "b".
func joinQuoted(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(q, ", ")
}
