package config

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// stringAttr evaluates an optional string attribute; a missing or null one
// is "".
func stringAttr(a *hcl.Attribute, ctx *hcl.EvalContext) (string, hcl.Diagnostics) {
	if a == nil {
		return "", nil
	}
	v, diags := a.Expr.Value(ctx)
	if diags.HasErrors() {
		return "", diags
	}
	if v.IsNull() {
		return "", diags
	}
	s, err := convert.Convert(v, cty.String)
	if err != nil {
		return "", diags.Append(attrError(a, "Invalid value",
			fmt.Sprintf("%s must be a string, not %s.", a.Name, v.Type().FriendlyName())))
	}
	if !s.IsKnown() || s.IsNull() {
		return "", diags
	}
	return s.AsString(), diags
}

// stringListAttr evaluates an optional list-of-strings attribute, and
// returns each element's own source range when the list is written as a
// literal (the attribute's range otherwise).
func stringListAttr(a *hcl.Attribute, ctx *hcl.EvalContext) ([]string, []hcl.Range, hcl.Diagnostics) {
	if a == nil {
		return nil, nil, nil
	}
	if exprs, d := hcl.ExprList(a.Expr); !d.HasErrors() {
		var (
			out    []string
			ranges []hcl.Range
			diags  hcl.Diagnostics
		)
		for _, e := range exprs {
			v, vd := e.Value(ctx)
			diags = append(diags, vd...)
			if vd.HasErrors() {
				continue
			}
			s, err := convert.Convert(v, cty.String)
			if err != nil || s.IsNull() {
				diags = diags.Append(&hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Invalid value",
					Detail:   fmt.Sprintf("Every element of %s must be a string.", a.Name),
					Subject:  e.Range().Ptr(),
				})
				continue
			}
			out = append(out, s.AsString())
			ranges = append(ranges, e.Range())
		}
		return out, ranges, diags
	}
	v, diags := a.Expr.Value(ctx)
	if diags.HasErrors() || v.IsNull() {
		return nil, nil, diags
	}
	l, err := convert.Convert(v, cty.List(cty.String))
	if err != nil {
		return nil, nil, diags.Append(attrError(a, "Invalid value",
			fmt.Sprintf("%s must be a list of strings, not %s.", a.Name, v.Type().FriendlyName())))
	}
	var out []string
	var ranges []hcl.Range
	for _, e := range l.AsValueSlice() {
		if e.IsNull() {
			return nil, nil, diags.Append(attrError(a, "Invalid value", fmt.Sprintf("%s must not contain null.", a.Name)))
		}
		out = append(out, e.AsString())
		ranges = append(ranges, a.Expr.Range())
	}
	return out, ranges, diags
}

// attrError is an error about an attribute's value.
func attrError(a *hcl.Attribute, summary, detail string) *hcl.Diagnostic {
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  summary,
		Detail:   detail,
		Subject:  a.Expr.Range().Ptr(),
		Context:  a.Range.Ptr(),
	}
}

// errorAt is an error at a range.
func errorAt(r hcl.Range, summary, detail string) *hcl.Diagnostic {
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: detail, Subject: r.Ptr()}
}

// warningAt is a warning at a range.
func warningAt(r hcl.Range, summary, detail string) *hcl.Diagnostic {
	return &hcl.Diagnostic{Severity: hcl.DiagWarning, Summary: summary, Detail: detail, Subject: r.Ptr()}
}

// duplicate reports a second block with an id already used.
func duplicate(kind, id string, at, first hcl.Range) *hcl.Diagnostic {
	return errorAt(at, "Duplicate "+kind,
		fmt.Sprintf("A %s %q is already defined at %s. Ids must be unique across all files.", kind, id, rangeString(first)))
}

// rangeString renders a range's start as file:line:col.
func rangeString(r hcl.Range) string {
	return fmt.Sprintf("%s:%d:%d", r.Filename, r.Start.Line, r.Start.Column)
}
