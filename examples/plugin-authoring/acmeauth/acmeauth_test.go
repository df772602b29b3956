package acmeauth

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
	"github.com/switchd/switchd/plugins/sdk"
	"github.com/switchd/switchd/plugins/sdk/order"
)

var (
	seed     = bytes.Repeat([]byte{0x11}, 32)
	carolKey = bytes.Repeat([]byte{0x42}, 32)
)

func configJSON(t testing.TB, change map[string]any) []byte {
	t.Helper()
	cfg := map[string]any{
		"attestation_key":    hex.EncodeToString(seed),
		"attestation_key_id": "acme-1",
		"payer":              []any{map[string]any{"id": "carol", "key": hex.EncodeToString(carolKey)}},
	}
	for k, v := range change {
		if v == nil {
			delete(cfg, k)
		} else {
			cfg[k] = v
		}
	}
	b, _ := json.Marshal(cfg)
	return b
}

// MustConfigured returns a plugin with instance "acme" configured and a
// clock the test moves.
func MustConfigured(t testing.TB) (*Plugin, *time.Time) {
	t.Helper()
	now := time.Unix(1_800_000_000, 0)
	p := New()
	p.now = func() time.Time { return now }
	res, err := p.Configure(context.Background(), &pb.ConfigureRequest{InstanceId: "acme", Kind: pb.Kind_KIND_AUTHENTICATOR,
		ConfigJson: configJSON(t, nil), Institution: &pb.InstitutionInfo{Id: "acme"}})
	if err != nil || sdk.HasErrors(res.GetDiagnostics()) {
		t.Fatalf("Configure: %v %v", err, res.GetDiagnostics())
	}
	return p, &now
}

func testOrder(id string, amount int64) (*pb.Order, []byte) {
	o := &pb.Order{PaymentId: id, MerchantId: "tea_shop", AcquirerId: "alpha", IssuerId: "acme", AmountMinor: amount,
		Currency: "EUR", Method: pb.Method_METHOD_CARD, OrderRef: "r-" + id, ExpiresAtUnix: 1_800_000_900}
	d := order.Digest(o)
	return o, d[:]
}

// begin runs the payer's hello and Begin for o.
func begin(t *testing.T, p *Plugin, o *pb.Order, digest []byte) (*Wallet, *pb.BeginMutualAuthResponse) {
	t.Helper()
	w := &Wallet{Key: carolKey}
	hello, err := w.Hello()
	if err != nil {
		t.Fatal(err)
	}
	b, err := p.BeginMutualAuth(context.Background(), &pb.BeginMutualAuthRequest{InstanceId: "acme", Order: o, OrderDigest: digest, PayerRef: "carol", PayerData: hello})
	if err != nil {
		t.Fatal(err)
	}
	return w, b
}

func finish(p *Plugin, o *pb.Order, digest, answer []byte) (*pb.FinishMutualAuthResponse, error) {
	return p.FinishMutualAuth(context.Background(), &pb.FinishMutualAuthRequest{InstanceId: "acme", Order: o, OrderDigest: digest, PayerRef: "carol", PayerData: answer})
}

func TestPay(t *testing.T) {
	p, now := MustConfigured(t)
	tests := []struct {
		name string
		// run returns the Finish response for one payment.
		run  func(t *testing.T, id string) *pb.FinishMutualAuthResponse
		want string // "" approved, else the decline code
	}{
		{"approved, attested over the digest", func(t *testing.T, id string) *pb.FinishMutualAuthResponse {
			o, d := testOrder(id, 1250)
			w, b := begin(t, p, o, d)
			ans, err := w.Answer(b.GetChallengeData(), d)
			if err != nil {
				t.Fatal(err)
			}
			res, err := finish(p, o, d, ans)
			if err != nil {
				t.Fatal(err)
			}
			pub := ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey)
			if a := res.GetAttestation(); res.GetVerdict() == pb.Verdict_VERDICT_APPROVED &&
				!ed25519.Verify(pub, order.AttestationMessage("C", "acme", d), a.GetSignature()) {
				t.Error("the attestation does not verify")
			}
			return res
		}, ""},
		{"answer replayed", func(t *testing.T, id string) *pb.FinishMutualAuthResponse {
			o, d := testOrder(id, 1250)
			w, b := begin(t, p, o, d)
			ans, _ := w.Answer(b.GetChallengeData(), d)
			if res, _ := finish(p, o, d, ans); res.GetVerdict() != pb.Verdict_VERDICT_APPROVED {
				t.Fatalf("first finish: %v", res)
			}
			res, _ := finish(p, o, d, ans)
			return res
		}, sdk.DeclineReplay},
		{"answer for another amount", func(t *testing.T, id string) *pb.FinishMutualAuthResponse {
			o, d := testOrder(id, 1250)
			w, b := begin(t, p, o, d)
			ans, _ := w.Answer(b.GetChallengeData(), d)
			o2, d2 := testOrder(id, 99999)
			res, _ := finish(p, o2, d2, ans)
			return res
		}, sdk.DeclineAuthFailed},
		{"wrong key", func(t *testing.T, id string) *pb.FinishMutualAuthResponse {
			o, d := testOrder(id, 1250)
			w, b := begin(t, p, o, d)
			// A payer with another key cannot even verify the bank; compute
			// an answer anyway to see the bank decline it.
			var cd ChallengeData
			json.Unmarshal(b.GetChallengeData(), &cd)
			ns, _ := hex.DecodeString(cd.ServerNonce)
			ans, _ := json.Marshal(FinishData{PayerProof: hex.EncodeToString(PayerProof(bytes.Repeat([]byte{9}, 32), d, ns, w.Nonce))})
			res, _ := finish(p, o, d, ans)
			return res
		}, sdk.DeclineAuthFailed},
		{"challenge expired", func(t *testing.T, id string) *pb.FinishMutualAuthResponse {
			o, d := testOrder(id, 1250)
			w, b := begin(t, p, o, d)
			ans, _ := w.Answer(b.GetChallengeData(), d)
			*now = now.Add(301 * time.Second)
			res, _ := finish(p, o, d, ans)
			return res
		}, sdk.DeclineReplay},
		{"no begin", func(t *testing.T, id string) *pb.FinishMutualAuthResponse {
			o, d := testOrder(id, 1250)
			res, _ := finish(p, o, d, []byte(`{"payer_proof":"00"}`))
			return res
		}, sdk.DeclineReplay},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := tt.run(t, "pay_"+string(rune('a'+i)))
			got := res.GetDeclineCode()
			if (tt.want == "") != (res.GetVerdict() == pb.Verdict_VERDICT_APPROVED) || got != tt.want {
				t.Fatalf("verdict %v decline %q, want %q", res.GetVerdict(), got, tt.want)
			}
		})
	}
}

func TestWalletRefusesBank(t *testing.T) {
	p, _ := MustConfigured(t)
	o, d := testOrder("pay_w", 1250)
	_, other := testOrder("pay_w", 1251)
	tests := []struct {
		name   string
		data   func(b []byte) []byte
		digest []byte
		want   error
	}{
		{"order the payer did not see", func(b []byte) []byte { return b }, other, ErrIssuerNotProven},
		{"forged proof", func(b []byte) []byte {
			var cd ChallengeData
			json.Unmarshal(b, &cd)
			cd.IssuerProof = strings.Repeat("0", 64)
			b, _ = json.Marshal(cd)
			return b
		}, d, ErrIssuerNotProven},
		{"not JSON", func([]byte) []byte { return []byte("nope") }, d, ErrChallengeData},
		{"unknown field", func([]byte) []byte { return []byte(`{"server_nonce":"00","issuer_proof":"00","x":1}`) }, d, ErrChallengeData},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, b := begin(t, p, o, d)
			ans, err := w.Answer(tt.data(b.GetChallengeData()), tt.digest)
			if !errors.Is(err, tt.want) || ans != nil {
				t.Fatalf("Answer = %s, %v; want %v", ans, err, tt.want)
			}
		})
	}
	if _, err := (&Wallet{Key: carolKey}).Answer([]byte(`{}`), d); !errors.Is(err, ErrNoHello) {
		t.Errorf("answer before hello: %v", err)
	}
}

func TestBadInput(t *testing.T) {
	p, _ := MustConfigured(t)
	o, d := testOrder("pay_bad", 1250)
	ctx := context.Background()
	tests := []struct {
		name string
		call func() error
		code sdk.Code
	}{
		{"unknown payer", func() error {
			_, err := p.BeginMutualAuth(ctx, &pb.BeginMutualAuthRequest{InstanceId: "acme", Order: o, OrderDigest: d, PayerRef: "mallory", PayerData: []byte(`{"payer_nonce":"00112233445566778899aabbccddeeff"}`)})
			return err
		}, sdk.CodeNotFound},
		{"short nonce", func() error {
			_, err := p.BeginMutualAuth(ctx, &pb.BeginMutualAuthRequest{InstanceId: "acme", Order: o, OrderDigest: d, PayerRef: "carol", PayerData: []byte(`{"payer_nonce":"00"}`)})
			return err
		}, sdk.CodeInvalidArgument},
		{"finish not JSON", func() error { _, err := finish(p, o, d, []byte("x")); return err }, sdk.CodeInvalidArgument},
		{"another issuer's order", func() error {
			o2 := &pb.Order{PaymentId: "x", IssuerId: "alpha"}
			_, err := finish(p, o2, d, []byte(`{"payer_proof":"00"}`))
			return err
		}, sdk.CodeInvalidArgument},
		{"unconfigured instance", func() error {
			_, err := p.BeginMutualAuth(ctx, &pb.BeginMutualAuthRequest{InstanceId: "nope", Order: o, OrderDigest: d, PayerRef: "carol"})
			return err
		}, sdk.CodeFailedPrecondition},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(); sdk.CodeOf(err) != tt.code || err == nil {
				t.Fatalf("err = %v, want %v", err, tt.code)
			}
		})
	}
	// Malformed input spends nothing: the open challenge still works.
	w, b := begin(t, p, o, d)
	if _, err := finish(p, o, d, []byte(`{"payer_proof":"zz"}`)); sdk.CodeOf(err) != sdk.CodeInvalidArgument {
		t.Fatalf("bad hex: %v", err)
	}
	ans, _ := w.Answer(b.GetChallengeData(), d)
	if res, _ := finish(p, o, d, ans); res.GetVerdict() != pb.Verdict_VERDICT_APPROVED {
		t.Fatalf("after bad input: %v", res)
	}
}

func TestConfigureDiagnostics(t *testing.T) {
	secret := hex.EncodeToString(bytes.Repeat([]byte{0xab}, 8)) // too short, and must not be echoed
	tests := []struct {
		name   string
		change map[string]any
		path   string
	}{
		{"attestation key missing", map[string]any{"attestation_key": nil}, "attestation_key"},
		{"attestation key short", map[string]any{"attestation_key": secret}, "attestation_key"},
		{"payer key short", map[string]any{"payer": []any{map[string]any{"id": "carol", "key": secret}}}, "payer/carol/key"},
		{"duplicate payer", map[string]any{"payer": []any{map[string]any{"id": "c", "key": hex.EncodeToString(carolKey)}, map[string]any{"id": "c", "key": hex.EncodeToString(carolKey)}}}, "payer/c"},
		{"ttl fractional", map[string]any{"challenge_ttl_seconds": 30.5}, "challenge_ttl_seconds"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, _ := MustConfigured(t)
			res, err := p.Configure(context.Background(), &pb.ConfigureRequest{InstanceId: "acme", ConfigJson: configJSON(t, tt.change), Institution: &pb.InstitutionInfo{Id: "acme"}})
			if err != nil {
				t.Fatal(err)
			}
			var paths []string
			for _, dg := range res.GetDiagnostics() {
				paths = append(paths, strings.Join(dg.GetPath(), "/"))
				if strings.Contains(dg.String(), secret) {
					t.Error("a diagnostic repeats the secret")
				}
			}
			if !sdk.HasErrors(res.GetDiagnostics()) || !strings.Contains(strings.Join(paths, " "), tt.path) {
				t.Fatalf("diagnostics at %v, want an error at %s", paths, tt.path)
			}
			// The previous settings keep serving.
			o, d := testOrder("pay_after", 5)
			w, b := begin(t, p, o, d)
			ans, _ := w.Answer(b.GetChallengeData(), d)
			if r, _ := finish(p, o, d, ans); r.GetVerdict() != pb.Verdict_VERDICT_APPROVED {
				t.Fatal("a refused Configure changed the instance")
			}
		})
	}
}

// TestConcurrentFinish: one answer sent many times at once is approved
// exactly once.
func TestConcurrentFinish(t *testing.T) {
	p, _ := MustConfigured(t)
	o, d := testOrder("pay_c", 700)
	w, b := begin(t, p, o, d)
	ans, _ := w.Answer(b.GetChallengeData(), d)
	var wg sync.WaitGroup
	var mu sync.Mutex
	approved := 0
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if res, err := finish(p, o, d, ans); err == nil && res.GetVerdict() == pb.Verdict_VERDICT_APPROVED {
				mu.Lock()
				approved++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if approved != 1 {
		t.Fatalf("approved %d times", approved)
	}
}
