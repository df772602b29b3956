package passkeyplugin

import (
	"context"
	"slices"
	"strings"
	"testing"

	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
	"github.com/switchd/switchd/plugins/sdk"
)

func TestConfigure(t *testing.T) {
	tests := []struct {
		name     string
		override map[string]any
		wantPath []string // path of the error diagnostic; nil means valid
		wantText string
	}{
		{"valid", nil, nil, ""},
		{"origin on a subdomain of rp_id", map[string]any{"rp_origins": []string{"https://pay.example.com", "https://example.com:8443"}}, nil, ""},
		{"localhost for development", map[string]any{"rp_id": "localhost", "rp_origins": []string{"http://localhost:8080"}}, nil, ""},
		{"missing rp_id", map[string]any{"rp_id": nil}, []string{"rp_id"}, "host name of the switch's public URL"},
		{"rp_id with scheme", map[string]any{"rp_id": "https://example.com"}, []string{"rp_id"}, "bare host name"},
		{"rp_id is an IP", map[string]any{"rp_id": "10.0.0.1", "rp_origins": []string{"https://10.0.0.1"}}, []string{"rp_id"}, "bare host name"},
		{"missing origins", map[string]any{"rp_origins": nil}, []string{"rp_origins"}, "https://pay.example.com"},
		{"origin outside rp_id", map[string]any{"rp_origins": []string{"https://pay.example.net"}}, []string{"rp_origins", "0"}, "neither"},
		{"origin look-alike suffix", map[string]any{"rp_origins": []string{"https://notexample.com"}}, []string{"rp_origins", "0"}, "neither"},
		{"plain http origin", map[string]any{"rp_origins": []string{"http://pay.example.com"}}, []string{"rp_origins", "0"}, "https"},
		{"origin with path", map[string]any{"rp_origins": []string{testOrigin, "https://pay.example.com/pay"}}, []string{"rp_origins", "1"}, "no path"},
		{"missing display name", map[string]any{"rp_display_name": nil}, []string{"rp_display_name"}, "issuer's name"},
		{"missing attestation key", map[string]any{"attestation_key": nil}, []string{"attestation_key"}, "env() or file()"},
		{"short attestation key", map[string]any{"attestation_key": "00ff"}, []string{"attestation_key"}, "32-byte"},
		{"missing key id", map[string]any{"attestation_key_id": nil}, []string{"attestation_key_id"}, "name"},
		{"bad user_verification", map[string]any{"user_verification": "always"}, []string{"user_verification"}, `"required"`},
		{"zero max_failures", map[string]any{"max_failures": 0}, []string{"max_failures"}, "1 to 100"},
		{"fractional ttl", map[string]any{"challenge_ttl_seconds": 30.5}, []string{"challenge_ttl_seconds"}, "whole number"},
		{"duplicate payer", map[string]any{"payer": []any{map[string]any{"id": "a"}, map[string]any{"id": "a"}}}, []string{"payer", "a"}, "twice"},
		{"code hash not hex", map[string]any{"payer": []any{map[string]any{"id": "a", "enrollment_code_sha256": "5a5a5a5a-not-hex"}}}, []string{"payer", "a", "enrollment_code_sha256"}, "64 hex digits"},
		{"code hash too short", map[string]any{"payer": []any{map[string]any{"id": "a", "enrollment_code_sha256": "5a5a5a5a"}}}, []string{"payer", "a", "enrollment_code_sha256"}, "SHA-256"},
		{"unknown attribute", map[string]any{"rp_name": "x"}, nil, "unknown field"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := New()
			t.Cleanup(func() { _ = p.Close() })
			res, err := p.Configure(context.Background(), &pb.ConfigureRequest{InstanceId: "iss", ConfigJson: testConfig(t, tt.override), DataDir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			diags := res.GetDiagnostics()
			if tt.wantText == "" {
				if sdk.HasErrors(diags) || len(res.GetAttestationKeys()) != 1 {
					t.Fatalf("valid config refused: %v", diags)
				}
				return
			}
			if !sdk.HasErrors(diags) || len(res.GetAttestationKeys()) != 0 {
				t.Fatalf("accepted: %v", res)
			}
			found := false
			for _, d := range diags {
				text := d.GetSummary() + " " + d.GetDetail()
				found = found || (slices.Equal(d.GetPath(), tt.wantPath) && strings.Contains(text, tt.wantText))
				if strings.Contains(text, "5a5a5a5a") {
					t.Errorf("diagnostic reveals the key: %s", text)
				}
			}
			if !found {
				t.Errorf("no diagnostic at %v mentioning %q in %v", tt.wantPath, tt.wantText, diags)
			}
			if h, _ := p.Health(context.Background(), &pb.HealthRequest{InstanceId: "iss"}); h.GetServing() {
				t.Errorf("an instance with a refused config is serving")
			}
		})
	}
}

// TestReconfigureKeepsPrevious: a refused config leaves the previous one
// serving.
func TestReconfigureKeepsPrevious(t *testing.T) {
	f := MustFixture(t, nil)
	a := f.enrol("alice")
	res, err := f.p.Configure(f.ctx, &pb.ConfigureRequest{InstanceId: "iss", ConfigJson: testConfig(t, map[string]any{"rp_origins": []string{"https://evil.example.net"}}), DataDir: f.dir})
	if err != nil || !sdk.HasErrors(res.GetDiagnostics()) {
		t.Fatalf("bad config accepted: %v %v", res, err)
	}
	f.wantApproved(f.pay("alice", a))
}
