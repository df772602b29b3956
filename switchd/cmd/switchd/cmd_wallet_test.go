package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/switchd/switchd/plugins/ocra/ocraplugin"
	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
	"github.com/switchd/switchd/plugins/sdk"
	"github.com/switchd/switchd/plugins/sdk/order"
)

func runWallet(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := newWalletCmd()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String(), err
}

func TestWalletOCRA(t *testing.T) {
	key := bytes.Repeat([]byte{0x5A}, 32)
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "alice.key")
	if err := os.WriteFile(keyFile, []byte(hex.EncodeToString(key)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	wrongKeyFile := filepath.Join(dir, "mallory.key")
	if err := os.WriteFile(wrongKeyFile, []byte(hex.EncodeToString(bytes.Repeat([]byte{0x5B}, 32))), 0o600); err != nil {
		t.Fatal(err)
	}

	// The issuer: the real ocra plugin, in-process.
	cfg, _ := json.Marshal(map[string]any{"attestation_key": hex.EncodeToString(bytes.Repeat([]byte{9}, 32)), "attestation_key_id": "k",
		"payer": []any{map[string]any{"id": "alice", "key": hex.EncodeToString(key)}}})
	p := ocraplugin.New()
	t.Cleanup(func() { _ = p.Close() })
	ctx := context.Background()
	if res, err := p.Configure(ctx, &pb.ConfigureRequest{InstanceId: "iss", ConfigJson: cfg, DataDir: t.TempDir()}); err != nil || sdk.HasErrors(res.GetDiagnostics()) {
		t.Fatalf("Configure: %v %v", res, err)
	}
	o := &pb.Order{PaymentId: "p1", MerchantId: "m", AcquirerId: "a", IssuerId: "iss", AmountMinor: 1, Currency: "EUR",
		Method: pb.Method_METHOD_CARD, ExpiresAtUnix: time.Now().Add(time.Hour).Unix()}
	d := order.Digest(o)
	digestHex := hex.EncodeToString(d[:])

	out, err := runWallet(t, "ocra", "challenge")
	if err != nil {
		t.Fatal(err)
	}
	qc := strings.TrimSpace(out)
	if len(qc) != 8 {
		t.Fatalf("challenge = %q, want 8 characters", qc)
	}
	begin, err := p.BeginMutualAuth(ctx, &pb.BeginMutualAuthRequest{InstanceId: "iss", Order: o, OrderDigest: d[:], PayerRef: "alice",
		PayerData: []byte(`{"client_challenge":"` + qc + `"}`)})
	if err != nil {
		t.Fatal(err)
	}
	cdFile := filepath.Join(dir, "cd.json")
	if err := os.WriteFile(cdFile, begin.GetChallengeData(), 0o600); err != nil {
		t.Fatal(err)
	}
	other := proto.Clone(o).(*pb.Order)
	other.AmountMinor = 2
	od := order.Digest(other)

	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"wrong key: issuer not proven", []string{"--key-file", wrongKeyFile, "--digest", digestHex, "--client-challenge", qc, "--challenge-data", string(begin.GetChallengeData())}, "does not hold your key"},
		{"other order: not bound", []string{"--key-file", keyFile, "--digest", hex.EncodeToString(od[:]), "--client-challenge", qc, "--challenge-data", string(begin.GetChallengeData())}, "another order"},
		{"other client challenge", []string{"--key-file", keyFile, "--digest", digestHex, "--client-challenge", "ZZZZZZZZ", "--challenge-data", string(begin.GetChallengeData())}, "does not hold your key"},
		{"bad digest", []string{"--key-file", keyFile, "--digest", "abc", "--client-challenge", qc, "--challenge-data", "{}"}, "64 hex digits"},
		{"missing key file", []string{"--key-file", filepath.Join(dir, "none"), "--digest", digestHex, "--client-challenge", qc, "--challenge-data", "{}"}, "reading the key file"},
		{"key file not hex", []string{"--key-file", cdFile, "--digest", digestHex, "--client-challenge", qc, "--challenge-data", "{}"}, "does not hold a hex key"},
		{"missing flags", []string{"--key-file", keyFile}, "required flag"},
		{"right answer", []string{"--key-file", keyFile, "--digest", digestHex, "--client-challenge", qc, "--challenge-data", "@" + cdFile}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := runWallet(t, append([]string{"ocra", "answer"}, tt.args...)...)
			if strings.Contains(out, hex.EncodeToString(key)) || (err != nil && strings.Contains(err.Error(), hex.EncodeToString(key))) {
				t.Fatal("the key appears in the output")
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				if strings.Contains(out, "client_response") {
					t.Fatalf("answered anyway: %s", out)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			res, err := p.FinishMutualAuth(ctx, &pb.FinishMutualAuthRequest{InstanceId: "iss", Order: o, OrderDigest: d[:], PayerRef: "alice",
				PayerData: []byte(strings.TrimSpace(out))})
			if err != nil || res.GetVerdict() != pb.Verdict_VERDICT_APPROVED {
				t.Fatalf("issuer did not accept the CLI's answer %q: %v %v", out, res, err)
			}
		})
	}

	if _, err := runWallet(t, "ocra", "challenge", "--suite", "OCRA-1:HOTP-SHA1-6:C-QN08"); err == nil || !strings.Contains(err.Error(), "no C, P, S or T") {
		t.Fatalf("challenge with a counter suite: %v", err)
	}
}
