package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sync"
	"testing"

	"github.com/switchd/switchd/internal/testbin"
	"github.com/switchd/switchd/plugins/passkey/passkeyplugin"
	"github.com/switchd/switchd/plugins/passkey/passkeytest"
	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
	"github.com/switchd/switchd/plugins/sdk/order"
	"github.com/switchd/switchd/plugins/sdk/plugintest"
)

const (
	confInstance = "plugintest-bank" // the kit's default institution
	confPayer    = "plugintest-payer"
	confOrigin   = "https://pay.example.com"
	confCode     = "conformance-activation-code"
)

func confConfig(t *testing.T, m map[string]any) []byte {
	t.Helper()
	base := map[string]any{
		"rp_id":              "pay.example.com",
		"rp_display_name":    "Plugintest Bank",
		"rp_origins":         []string{confOrigin},
		"attestation_key":    hex.EncodeToString([]byte("0123456789abcdef0123456789abcdef")),
		"attestation_key_id": "conf",
		// The kit answers seven changed orders, each a failed attempt; the
		// default of 5 would lock the payer.
		"max_failures": 100,
		"payer":        []any{map[string]any{"id": confPayer, "enrollment_code_sha256": fmt.Sprintf("%x", sha256.Sum256([]byte(confCode)))}},
	}
	for k, v := range m {
		base[k] = v
	}
	b, err := json.Marshal(base)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// confPayerPhone plays the payer's phone for the kit. The kit configures
// the instance itself, in a data dir of its own, so the passkey has to be
// enrolled in the plugin the kit talks to: for the in-process target,
// PayerHello enrols it directly on the first call.
type confPayerPhone struct {
	t      *testing.T
	plugin *passkeyplugin.Plugin
	once   sync.Once
	a      *passkeytest.Authenticator
}

func (c *confPayerPhone) hello(*pb.Order) []byte {
	c.once.Do(func() {
		a, err := passkeytest.New(confOrigin)
		if err != nil {
			c.t.Fatal(err)
		}
		ctx := context.Background()
		b, err := c.plugin.BeginEnrollment(ctx, &pb.BeginEnrollmentRequest{InstanceId: confInstance, PayerRef: confPayer,
			PayerData: []byte(`{"enrollment_code": "` + confCode + `"}`)})
		if err != nil {
			c.t.Fatalf("BeginEnrollment: %v", err)
		}
		cred, err := a.Create(b.GetChallengeData())
		if err != nil {
			c.t.Fatal(err)
		}
		if _, err := c.plugin.FinishEnrollment(ctx, &pb.FinishEnrollmentRequest{InstanceId: confInstance, PayerRef: confPayer, PayerData: cred}); err != nil {
			c.t.Fatalf("FinishEnrollment: %v", err)
		}
		c.a = a
	})
	return []byte("{}") // what the payment page sends to auth/begin
}

// answer checks, as the payment page does, that the challenge is bound to
// o, and signs the assertion.
func (c *confPayerPhone) answer(b *pb.BeginMutualAuthResponse, o *pb.Order) ([]byte, error) {
	d := order.Digest(o)
	return c.a.Get(b.GetChallengeData(), d[:])
}

// TestConformance runs the SDK's conformance kit against the binary and
// the in-process implementation. Step C runs in process only: the kit
// offers no hook to enrol a passkey in a binary it launched itself
// (TestSubprocess covers step C over the binary).
func TestConformance(t *testing.T) {
	bin := testbin.MustBuild(t, "./plugins/passkey")
	bad := func() map[string][]byte {
		return map[string][]byte{
			"no attestation key":   confConfig(t, map[string]any{"attestation_key": ""}),
			"no rp_id":             confConfig(t, map[string]any{"rp_id": ""}),
			"origin outside rp_id": confConfig(t, map[string]any{"rp_origins": []string{"https://pay.example.net"}}),
			"bad uv":               confConfig(t, map[string]any{"user_verification": "sometimes"}),
			"unknown attribute":    confConfig(t, map[string]any{"rp_name": "x"}),
		}
	}
	t.Run("binary", func(t *testing.T) {
		plugintest.Run(t, plugintest.Suite{
			Target:     plugintest.Binary(bin),
			Config:     confConfig(t, nil),
			BadConfigs: bad(),
			PayerRef:   confPayer,
		})
	})
	t.Run("in-process", func(t *testing.T) {
		p := passkeyplugin.New()
		t.Cleanup(func() { _ = p.Close() })
		phone := &confPayerPhone{t: t, plugin: p}
		plugintest.Run(t, plugintest.Suite{
			Target:              plugintest.InProcess(p),
			Config:              confConfig(t, nil),
			BadConfigs:          bad(),
			PayerRef:            confPayer,
			PayerHello:          phone.hello,
			PayerAnswer:         phone.answer,
			PayerVerifiesIssuer: true,
		})
	})
}
