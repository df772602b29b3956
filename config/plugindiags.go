package config

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
)

// Diagnostics converts the diagnostics a plugin returned from Configure
// for this use into hcl.Diagnostics, each located at the value its path
// names (e.g. ["payer", "alice", "secret"]: the secret attribute of the
// payer "alice" block), or at the deepest block of the path that exists,
// or at the authenticator or method block itself.
func (u *PluginUse) Diagnostics(diags []*pb.Diagnostic) hcl.Diagnostics {
	out := make(hcl.Diagnostics, 0, len(diags))
	for _, d := range diags {
		sev := hcl.DiagError
		if d.GetSeverity() == pb.Severity_SEVERITY_WARNING {
			sev = hcl.DiagWarning
		}
		r := u.locate(d.GetPath())
		detail := d.GetDetail()
		if detail != "" {
			detail += " "
		}
		detail += fmt.Sprintf("(reported by plugin %q)", u.Plugin)
		out = append(out, &hcl.Diagnostic{Severity: sev, Summary: d.GetSummary(), Detail: detail, Subject: r.Ptr()})
	}
	return out
}

// locate finds the range of path inside the use's body.
func (u *PluginUse) locate(path []string) hcl.Range {
	best := u.Range
	body, ok := u.body.(*hclsyntax.Body)
	for ok && len(path) > 0 {
		if a, found := body.Attributes[path[0]]; found {
			if len(path) == 1 {
				return a.Expr.Range()
			}
			return a.SrcRange
		}
		var next *hclsyntax.Block
		for _, b := range body.Blocks {
			n := len(b.Labels)
			if b.Type != path[0] || len(path) < 1+n {
				continue
			}
			match := true
			for i, l := range b.Labels {
				if path[1+i] != l {
					match = false
					break
				}
			}
			if match {
				next = b
				break
			}
		}
		if next == nil {
			break
		}
		best = next.DefRange()
		path = path[1+len(next.Labels):]
		body = next.Body
	}
	return best
}
