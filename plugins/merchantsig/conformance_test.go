package main

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"testing"
	"time"

	"github.com/switchd/switchd/internal/testbin"
	"github.com/switchd/switchd/plugins/merchantsig/merchantsigplugin"
	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
	"github.com/switchd/switchd/plugins/sdk"
	"github.com/switchd/switchd/plugins/sdk/order"
	"github.com/switchd/switchd/plugins/sdk/plugintest"
)

// TestConformance runs the SDK's conformance kit, which acts as the host
// of a host_state plugin (ExportState, LoadState, commits, restarts),
// against the binary and the in-process implementation.
func TestConformance(t *testing.T) {
	seller := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{0x21}, 32))
	cfg := func(m map[string]any) []byte {
		base := map[string]any{
			"attestation_key":    hex.EncodeToString(bytes.Repeat([]byte{0x22}, 32)),
			"attestation_key_id": "conf",
			"merchant": []any{map[string]any{"id": "plugintest-shop", "key": []any{
				map[string]any{"id": "k1", "public_key": base64.StdEncoding.EncodeToString(seller.Public().(ed25519.PublicKey))}}}},
		}
		for k, v := range m {
			base[k] = v
		}
		b, _ := json.Marshal(base)
		return b
	}
	bin := testbin.MustBuild(t, "./plugins/merchantsig")
	for name, target := range map[string]plugintest.Target{
		"binary":     plugintest.Binary(bin),
		"in-process": plugintest.InProcessFunc(func() sdk.Plugin { return merchantsigplugin.New() }),
	} {
		t.Run(name, func(t *testing.T) {
			plugintest.Run(t, plugintest.Suite{
				Target: target,
				Config: cfg(nil),
				BadConfigs: map[string][]byte{
					"no attestation key":   cfg(map[string]any{"attestation_key": ""}),
					"short public key":     cfg(map[string]any{"merchant": []any{map[string]any{"id": "m", "key": []any{map[string]any{"id": "k", "public_key": "AAAA"}}}}}),
					"negative window":      cfg(map[string]any{"replay_window_seconds": -1}),
					"unknown attribute":    cfg(map[string]any{"replay_windows": 1}),
					"attestation key size": cfg(map[string]any{"attestation_key": "00ff"}),
				},
				SellerSignature: func(o *pb.Order) (string, []byte, int64) {
					ms := time.Now().UnixMilli()
					return "k1", ed25519.Sign(seller, order.SellerMessage(order.TermsDigest(o), ms)), ms
				},
			})
		})
	}
}
