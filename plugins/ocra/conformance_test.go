package main

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"sync"
	"testing"

	"github.com/switchd/switchd/internal/testbin"
	"github.com/switchd/switchd/plugins/ocra/ocraplugin"
	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
	"github.com/switchd/switchd/plugins/sdk/order"
	"github.com/switchd/switchd/plugins/sdk/plugintest"
	"github.com/switchd/switchd/switchd/wallet"
)

// conformancePayer plays the payer's wallet for the kit: PayerHello makes
// a client challenge per payment, PayerAnswer checks the issuer's proof and
// binding with wallet.OCRA and answers.
type conformancePayer struct {
	key  []byte
	mu   sync.Mutex
	last string
	byID map[string]string
}

func (c *conformancePayer) hello(o *pb.Order) []byte {
	w := &wallet.OCRA{Key: c.key}
	q := w.Begin()
	c.mu.Lock()
	c.byID[o.GetPaymentId()], c.last = q, q
	c.mu.Unlock()
	return w.BeginPayerData()
}

func (c *conformancePayer) answer(b *pb.BeginMutualAuthResponse, o *pb.Order) ([]byte, error) {
	c.mu.Lock()
	q, ok := c.byID[o.GetPaymentId()]
	if !ok {
		q = c.last // the kit asks about a changed order; the wallet must refuse it
	}
	c.mu.Unlock()
	d := order.Digest(o)
	return (&wallet.OCRA{Key: c.key, ClientChallenge: q}).Answer(b.GetChallengeData(), d[:])
}

// TestConformance runs the SDK's conformance kit against the binary and
// the in-process implementation.
func TestConformance(t *testing.T) {
	key := bytes.Repeat([]byte{0x77}, 32)
	cfg := func(m map[string]any) []byte {
		base := map[string]any{
			"attestation_key":    hex.EncodeToString(bytes.Repeat([]byte{0x78}, 32)),
			"attestation_key_id": "conf",
			// The kit sends seven answers for changed orders, each a
			// failed attempt; the default of 5 would lock the payer.
			"max_failures": 100,
			"payer":        []any{map[string]any{"id": "plugintest-payer", "key": hex.EncodeToString(key)}},
		}
		for k, v := range m {
			base[k] = v
		}
		b, _ := json.Marshal(base)
		return b
	}
	bin := testbin.MustBuild(t, "./plugins/ocra")
	for name, target := range map[string]plugintest.Target{
		"binary":     plugintest.Binary(bin),
		"in-process": plugintest.InProcess(ocraplugin.New()),
	} {
		t.Run(name, func(t *testing.T) {
			payer := &conformancePayer{key: key, byID: map[string]string{}}
			plugintest.Run(t, plugintest.Suite{
				Target: target,
				Config: cfg(nil),
				BadConfigs: map[string][]byte{
					"no attestation key": cfg(map[string]any{"attestation_key": ""}),
					"counter suite":      cfg(map[string]any{"payer": []any{map[string]any{"id": "p", "key": hex.EncodeToString(key), "suite": "OCRA-1:HOTP-SHA256-8:C-QA08"}}}),
					"short key":          cfg(map[string]any{"payer": []any{map[string]any{"id": "p", "key": "0011"}}}),
					"zero max failures":  cfg(map[string]any{"max_failures": 0}),
					"unknown attribute":  cfg(map[string]any{"max_failure": 3}),
				},
				PayerRef:            "plugintest-payer",
				PayerHello:          payer.hello,
				PayerAnswer:         payer.answer,
				PayerVerifiesIssuer: true,
			})
		})
	}
}
