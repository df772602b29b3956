package main

import (
	"encoding/hex"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
	"github.com/switchd/switchd/plugins/sdk/order"
	"github.com/switchd/switchd/plugins/sdk/plugintest"

	"example.com/acmebank-auth/acmeauth"
)

var (
	testAttestation = hex.EncodeToString([]byte("acme-attestation-seed-32-bytes!!"))
	testPayerKey    = []byte("carol's key shared with her app!")
)

// mustBuild builds pkg, a package of the module in folder moduleDir ("."
// for this one, "../.." for switchd), into dir and returns the binary.
func mustBuild(t testing.TB, moduleDir, pkg, dir, name string) string {
	t.Helper()
	out := filepath.Join(dir, name)
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Dir = moduleDir
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, b)
	}
	return out
}

func testConfig(t testing.TB, change map[string]any) []byte {
	t.Helper()
	cfg := map[string]any{
		"attestation_key":    testAttestation,
		"attestation_key_id": "acme-test",
		"payer":              []any{map[string]any{"id": "carol", "key": hex.EncodeToString(testPayerKey)}},
	}
	for k, v := range change {
		cfg[k] = v
	}
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// payerApp plays Carol's app for the kit: one wallet per payment. The kit
// checks the issuer's proof against a changed copy of the order, payment id
// included, so an order it has not seen is answered by the latest wallet,
// whose nonce the proof was made for.
type payerApp struct {
	mu      sync.Mutex
	wallets map[string]*acmeauth.Wallet
	last    *acmeauth.Wallet
}

func (a *payerApp) hello(o *pb.Order) []byte {
	w := &acmeauth.Wallet{Key: testPayerKey}
	b, err := w.Hello()
	if err != nil {
		panic(err)
	}
	a.mu.Lock()
	a.wallets[o.GetPaymentId()] = w
	a.last = w
	a.mu.Unlock()
	return b
}

func (a *payerApp) answer(b *pb.BeginMutualAuthResponse, o *pb.Order) ([]byte, error) {
	a.mu.Lock()
	w, ok := a.wallets[o.GetPaymentId()]
	if !ok {
		w = a.last
	}
	a.mu.Unlock()
	d := order.Digest(o)
	return w.Answer(b.GetChallengeData(), d[:])
}

// TestConformance runs switchd's conformance kit against the plugin as the
// daemon runs it (a go-plugin subprocess, AutoMTLS, pinned sha256) and in
// process.
func TestConformance(t *testing.T) {
	bin := mustBuild(t, ".", ".", t.TempDir(), "acmeauth")
	bad := map[string][]byte{
		"attestation key not hex": testConfig(t, map[string]any{"attestation_key": "not-hex"}),
		"no key id":               testConfig(t, map[string]any{"attestation_key_id": ""}),
		"short payer key":         testConfig(t, map[string]any{"payer": []any{map[string]any{"id": "carol", "key": "abcd"}}}),
		"ttl out of range":        testConfig(t, map[string]any{"challenge_ttl_seconds": 5}),
		"unknown attribute":       testConfig(t, map[string]any{"lockout": 3}),
	}
	for name, target := range map[string]plugintest.Target{
		"binary":     plugintest.Binary(bin),
		"in-process": plugintest.InProcess(acmeauth.New()),
	} {
		t.Run(name, func(t *testing.T) {
			app := &payerApp{wallets: map[string]*acmeauth.Wallet{}}
			plugintest.Run(t, plugintest.Suite{
				Target:              target,
				Config:              testConfig(t, nil),
				BadConfigs:          bad,
				PayerRef:            "carol",
				PayerHello:          app.hello,
				PayerAnswer:         app.answer,
				PayerVerifiesIssuer: true,
			})
		})
	}
}
