package sdk

import (
	"errors"
	"strings"
	"testing"

	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
)

func TestDecodeConfig(t *testing.T) {
	type cfg struct {
		Key   string `json:"key"`
		Count int    `json:"count"`
	}
	tests := []struct {
		name    string
		in      string
		want    cfg
		wantErr string
	}{
		{"empty is an empty object", "", cfg{}, ""},
		{"values", `{"key": "k", "count": 3}`, cfg{Key: "k", Count: 3}, ""},
		{"unknown field", `{"key": "k", "colour": "red"}`, cfg{}, `unknown field "colour"`},
		{"wrong type", `{"count": "three"}`, cfg{}, "cannot unmarshal"},
		{"not json", `{"key": `, cfg{}, "cannot decode"},
		{"trailing data", `{"key": "k"} {"key": "other"}`, cfg{}, "trailing data"},
		{"trailing brace", `{"key": "k"}}`, cfg{}, "trailing data"},
		{"trailing space", "{\"key\": \"k\"}\n ", cfg{Key: "k"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got cfg
			err := DecodeConfig([]byte(tt.in), &got)
			if tt.wantErr == "" {
				if err != nil || got != tt.want {
					t.Fatalf("got %+v, %v; want %+v", got, err, tt.want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want it to mention %q", err, tt.wantErr)
			}
			if !errors.Is(err, ErrInvalidArgument) {
				t.Errorf("err = %v is not invalid_argument", err)
			}
		})
	}
}

func TestDiagnostics(t *testing.T) {
	e := ErrorDiag([]string{"payer", "alice", "key"}, "Bad key", "want %d bytes", 32)
	w := WarningDiag(nil, "Old", "deprecated")
	if e.GetSeverity() != pb.Severity_SEVERITY_ERROR || e.GetDetail() != "want 32 bytes" || len(e.GetPath()) != 3 {
		t.Errorf("ErrorDiag = %v", e)
	}
	tests := []struct {
		name  string
		diags []*pb.Diagnostic
		want  bool
	}{
		{"none", nil, false},
		{"warning only", []*pb.Diagnostic{w}, false},
		{"error", []*pb.Diagnostic{w, e}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := HasErrors(tt.diags); got != tt.want {
				t.Errorf("HasErrors = %v, want %v", got, tt.want)
			}
		})
	}
	if a := SensitiveAttr("key", pb.AttributeType_ATTRIBUTE_TYPE_STRING, true, "d"); !a.GetSensitive() || !a.GetRequired() {
		t.Errorf("SensitiveAttr = %v", a)
	}
}
