package main

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/switchd/switchd/examples/checkout"
	"github.com/switchd/switchd/internal/testbin"
	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
	"github.com/switchd/switchd/plugins/sdk/order"
	"github.com/switchd/switchd/switchd/internal/webhook"
)

// TestDemoVerifiesSwitchdWebhooks checks the demo store's Standard Webhooks
// verification against the signer switchd delivers with.
func TestDemoVerifiesSwitchdWebhooks(t *testing.T) {
	secret, err := webhook.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	other, _ := webhook.NewSecret()
	now := time.Now()
	body := []byte(`{"type":"payment.approved","data":{"id":"pay_1"}}`)
	signed := func(secret string, ts time.Time) http.Header {
		h, err := webhook.Sign(secret, "wh_pay_1_approved", ts, body)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	tests := []struct {
		name   string
		secret string
		header http.Header
		body   []byte
		ok     bool
	}{
		{"switchd's signature", secret, signed(secret, now), body, true},
		{"rotated: two signatures, the second valid", secret, func() http.Header {
			h := signed(secret, now)
			h.Set("webhook-signature", signed(other, now).Get("webhook-signature")+" "+h.Get("webhook-signature"))
			return h
		}(), body, true},
		{"body changed", secret, signed(secret, now), []byte(`{"type":"payment.approved","data":{"id":"pay_2"}}`), false},
		{"another secret", other, signed(secret, now), body, false},
		{"ten minutes old", secret, signed(secret, now.Add(-10*time.Minute)), body, false},
		{"no signature", secret, func() http.Header { h := signed(secret, now); h.Del("webhook-signature"); return h }(), body, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkout.VerifyWebhook(tt.secret, tt.header, tt.body, 5*time.Minute, now)
			if (err == nil) != tt.ok {
				t.Fatalf("VerifyWebhook = %v, want ok=%v", err, tt.ok)
			}
			if err != nil && strings.Contains(err.Error(), strings.TrimPrefix(tt.secret, "whsec_")) {
				t.Fatal("the error holds the secret")
			}
		})
	}
}

// TestDemoCmdErrors runs the command where it cannot work and checks that
// it says why.
func TestDemoCmdErrors(t *testing.T) {
	root, err := testbin.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	qs := filepath.Join(root, "examples", "quickstart")
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	closedURL := "http://" + closed.Addr().String()
	closed.Close()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no quickstart folder", []string{"--quickstart", t.TempDir()}, "tea_shop_ed25519.seed"},
		{"webhook port taken", []string{"--quickstart", qs, "--webhook-addr", busy.Addr().String()}, "webhook_url must point here"},
		{"switchd not running", []string{"--quickstart", qs, "--webhook-addr", "127.0.0.1:0", "--api-url", closedURL, "--phone-file", filepath.Join(t.TempDir(), "p.json")}, "connection refused"},
		{"no activation code for Bob", []string{"--quickstart", withoutFile(t, qs, "secrets/bob_enrollment_code")}, "bob_enrollment_code"},
		{"extra argument", []string{"now"}, "unknown command"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := newDemoCmd()
			var out bytes.Buffer
			cmd.SetOut(&out)
			cmd.SetErr(&out)
			cmd.SetArgs(tt.args)
			err := cmd.Execute()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// TestDemoOrder checks the body `switchd demo order` prints: the Tea
// Shop's public key (from the quickstart's merchantsig block) verifies its
// signature over the terms it carries.
func TestDemoOrder(t *testing.T) {
	root, err := testbin.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	qs := filepath.Join(root, "examples", "quickstart")
	pub, _ := base64.StdEncoding.DecodeString("MUGBH/joHNPziALaaWfowb5zMIynCkl97VXAQgTHlxU=") // alpha.hcl, merchant "tea_shop" key "k1"
	run := func(args ...string) (string, error) {
		cmd := newDemoCmd()
		var out bytes.Buffer
		cmd.SetOut(&out)
		cmd.SetErr(io.Discard)
		cmd.SetArgs(append([]string{"order", "--quickstart", qs}, args...))
		err := cmd.Execute()
		return out.String(), err
	}
	out, err := run("--amount-minor", "1250", "--order-ref", "tea-42", "--currency", "EUR")
	if err != nil {
		t.Fatal(err)
	}
	var body struct {
		AmountMinor int64     `json:"amount_minor"`
		Currency    string    `json:"currency"`
		OrderRef    string    `json:"order_ref"`
		ExpiresAt   time.Time `json:"expires_at"`
		Signature   []byte    `json:"seller_signature"`
		KeyID       string    `json:"seller_key_id"`
		SignedAt    int64     `json:"signed_at_unix_ms"`
	}
	if err := json.Unmarshal([]byte(out), &body); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	terms := order.TermsDigest(&pb.Order{MerchantId: "tea_shop", AcquirerId: "alpha", AmountMinor: 1250, Currency: "EUR", OrderRef: "tea-42", ExpiresAtUnix: body.ExpiresAt.Unix()})
	if body.AmountMinor != 1250 || body.OrderRef != "tea-42" || body.KeyID != "k1" || time.Until(body.ExpiresAt) < 14*time.Minute ||
		!ed25519.Verify(pub, order.SellerMessage(terms, body.SignedAt), body.Signature) {
		t.Fatalf("body does not carry a valid signature of its terms: %s", out)
	}
	for _, bad := range [][]string{{"--amount-minor", "0"}, {"--amount-minor", "-5"}} {
		if _, err := run(bad...); err == nil || !strings.Contains(err.Error(), "--amount-minor") {
			t.Errorf("%v: err = %v", bad, err)
		}
	}
}

// withoutFile copies the folder dir without the file rel and returns the
// copy.
func withoutFile(t *testing.T, dir, rel string) string {
	t.Helper()
	out := t.TempDir()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		r, _ := filepath.Rel(dir, p)
		switch {
		case d.IsDir():
			return os.MkdirAll(filepath.Join(out, r), 0o700)
		case r == filepath.FromSlash(rel):
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(out, r), b, 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
