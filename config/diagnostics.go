package config

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
)

const (
	ansiReset  = "\x1b[0m"
	ansiBold   = "\x1b[1m"
	ansiRed    = "\x1b[31m"
	ansiYellow = "\x1b[33m"
)

// WriteDiagnostics prints diags like `terraform validate`: severity and
// summary, the file:line:col, the source line with a caret under the
// problem, then the detail. sources maps file names to contents (see
// Files.Sources); a diagnostic whose file is not there is printed without a
// snippet. A line that holds a secret is never printed. color adds ANSI
// colors.
func WriteDiagnostics(w io.Writer, sources map[string][]byte, diags hcl.Diagnostics, color bool) error {
	var b strings.Builder
	for _, d := range diags {
		sev, c := "Error", ansiRed
		if d.Severity == hcl.DiagWarning {
			sev, c = "Warning", ansiYellow
		}
		if color {
			fmt.Fprintf(&b, "%s%s%s:%s %s%s%s\n", ansiBold, c, sev, ansiReset, ansiBold, d.Summary, ansiReset)
		} else {
			fmt.Fprintf(&b, "%s: %s\n", sev, d.Summary)
		}
		if d.Subject != nil {
			s := d.Subject
			fmt.Fprintf(&b, "\n  on %s line %d, column %d:\n", s.Filename, s.Start.Line, s.Start.Column)
			if line, caret, ok := snippet(sources[s.Filename], *s); ok {
				if _, secret := d.Extra.(sensitiveInline); secret {
					fmt.Fprintf(&b, "  %4d: (line not shown: it holds a secret)\n", s.Start.Line)
				} else {
					if color {
						caret = c + caret + ansiReset
					}
					fmt.Fprintf(&b, "  %4d: %s\n        %s\n", s.Start.Line, line, caret)
				}
			}
		}
		if d.Detail != "" {
			fmt.Fprintf(&b, "\n%s\n", d.Detail)
		}
		b.WriteString("\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// snippet returns the source line where r starts and a caret line marking
// r on it. ok is false when the range does not fit the source.
func snippet(src []byte, r hcl.Range) (line, caret string, ok bool) {
	if src == nil || r.Start.Byte < 0 || r.Start.Byte > len(src) || r.End.Byte < r.Start.Byte {
		return "", "", false
	}
	start := bytes.LastIndexByte(src[:r.Start.Byte], '\n') + 1
	end := len(src)
	if i := bytes.IndexByte(src[r.Start.Byte:], '\n'); i >= 0 {
		end = r.Start.Byte + i
	}
	lineBytes := bytes.TrimRight(src[start:end], "\r")
	if !utf8.Valid(lineBytes) {
		return "", "", false
	}
	var pad strings.Builder
	for _, c := range string(src[start:r.Start.Byte]) {
		if c == '\t' {
			pad.WriteByte('\t')
		} else {
			pad.WriteByte(' ')
		}
	}
	stop := min(r.End.Byte, start+len(lineBytes))
	n := 1
	if stop > r.Start.Byte {
		n = max(1, utf8.RuneCount(src[r.Start.Byte:stop]))
	}
	return string(lineBytes), pad.String() + strings.Repeat("^", n), true
}

// JSONDiagnostic is the machine-readable form of a diagnostic
// (`switchd validate --json`).
type JSONDiagnostic struct {
	Severity string     `json:"severity"` // "error" or "warning"
	Summary  string     `json:"summary"`
	Detail   string     `json:"detail,omitempty"`
	Range    *JSONRange `json:"range,omitempty"`
}

// JSONRange is a source range; lines and columns count from 1.
type JSONRange struct {
	Filename string  `json:"filename"`
	Start    JSONPos `json:"start"`
	End      JSONPos `json:"end"`
}

// JSONPos is a position in a file.
type JSONPos struct {
	Line   int `json:"line"`
	Column int `json:"column"`
	Byte   int `json:"byte"`
}

// JSONDiagnostics converts diags for JSON output.
func JSONDiagnostics(diags hcl.Diagnostics) []JSONDiagnostic {
	out := make([]JSONDiagnostic, 0, len(diags))
	for _, d := range diags {
		j := JSONDiagnostic{Severity: "error", Summary: d.Summary, Detail: d.Detail}
		if d.Severity == hcl.DiagWarning {
			j.Severity = "warning"
		}
		if s := d.Subject; s != nil {
			j.Range = &JSONRange{
				Filename: s.Filename,
				Start:    JSONPos{Line: s.Start.Line, Column: s.Start.Column, Byte: s.Start.Byte},
				End:      JSONPos{Line: s.End.Line, Column: s.End.Column, Byte: s.End.Byte},
			}
		}
		out = append(out, j)
	}
	return out
}

// Errors returns the errors of diags.
func Errors(diags hcl.Diagnostics) hcl.Diagnostics { return bySeverity(diags, hcl.DiagError) }

// Warnings returns the warnings of diags.
func Warnings(diags hcl.Diagnostics) hcl.Diagnostics { return bySeverity(diags, hcl.DiagWarning) }

func bySeverity(diags hcl.Diagnostics, s hcl.DiagnosticSeverity) hcl.Diagnostics {
	var out hcl.Diagnostics
	for _, d := range diags {
		if d.Severity == s {
			out = append(out, d)
		}
	}
	return out
}
