package wallet

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/switchd/switchd/plugins/ocra/ocraplugin"
	"github.com/switchd/switchd/plugins/ocra/rfc6287"
	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
	"github.com/switchd/switchd/plugins/sdk"
	"github.com/switchd/switchd/plugins/sdk/order"
)

var payerKey = bytes.Repeat([]byte{0x42}, 32)

// MustIssuer returns the real ocra plugin, in-process, configured as issuer
// "iss" with payer "alice" holding payerKey.
func MustIssuer(t testing.TB) *ocraplugin.Plugin {
	t.Helper()
	cfg, _ := json.Marshal(map[string]any{
		"attestation_key":    hex.EncodeToString(bytes.Repeat([]byte{1}, 32)),
		"attestation_key_id": "k",
		"payer":              []any{map[string]any{"id": "alice", "key": hex.EncodeToString(payerKey)}},
	})
	p := ocraplugin.New()
	t.Cleanup(func() { _ = p.Close() })
	res, err := p.Configure(context.Background(), &pb.ConfigureRequest{InstanceId: "iss", ConfigJson: cfg, DataDir: t.TempDir()})
	if err != nil || sdk.HasErrors(res.GetDiagnostics()) {
		t.Fatalf("Configure: %v %v", err, res.GetDiagnostics())
	}
	return p
}

func testOrder(amount int64) (*pb.Order, []byte) {
	o := &pb.Order{PaymentId: "pay-1", MerchantId: "shop", AcquirerId: "acq", IssuerId: "iss", AmountMinor: amount,
		Currency: "EUR", Method: pb.Method_METHOD_CARD, OrderRef: "R", ExpiresAtUnix: time.Now().Add(time.Hour).Unix()}
	d := order.Digest(o)
	return o, d[:]
}

func TestDefaultSuiteMatchesPlugin(t *testing.T) {
	if DefaultOCRASuite != ocraplugin.DefaultSuite {
		t.Fatalf("wallet default %q, plugin default %q", DefaultOCRASuite, ocraplugin.DefaultSuite)
	}
}

// issue runs BeginMutualAuth for w against the issuer and returns the
// challenge data.
func issue(t *testing.T, p *ocraplugin.Plugin, w *OCRA, o *pb.Order, digest []byte) []byte {
	t.Helper()
	if w.Begin() == "" {
		t.Fatal("Begin returned no challenge")
	}
	res, err := p.BeginMutualAuth(context.Background(), &pb.BeginMutualAuthRequest{InstanceId: "iss", Order: o, OrderDigest: digest, PayerRef: "alice", PayerData: w.BeginPayerData()})
	if err != nil || res.GetVerdict() != pb.Verdict_VERDICT_APPROVED {
		t.Fatalf("BeginMutualAuth: %v %v", res, err)
	}
	return res.GetChallengeData()
}

func TestOCRAWithPlugin(t *testing.T) {
	p := MustIssuer(t)
	o, digest := testOrder(100)
	w := &OCRA{Key: payerKey}
	cd := issue(t, p, w, o, digest)
	payerData, err := w.Answer(cd, digest)
	if err != nil {
		t.Fatal(err)
	}
	res, err := p.FinishMutualAuth(context.Background(), &pb.FinishMutualAuthRequest{InstanceId: "iss", Order: o, OrderDigest: digest, PayerRef: "alice", PayerData: payerData})
	if err != nil || res.GetVerdict() != pb.Verdict_VERDICT_APPROVED {
		t.Fatalf("FinishMutualAuth: %v %v", res, err)
	}
}

func TestOCRARefuses(t *testing.T) {
	p := MustIssuer(t)
	o, digest := testOrder(100)
	_, otherDigest := testOrder(101)
	edit := func(cd []byte, f func(*rfc6287.ChallengeData)) []byte {
		var c rfc6287.ChallengeData
		if err := json.Unmarshal(cd, &c); err != nil {
			t.Fatal(err)
		}
		f(&c)
		b, _ := json.Marshal(c)
		return b
	}
	flip := func(s string) string {
		b := []byte(s)
		if b[0] == '9' {
			b[0] = '0'
		} else {
			b[0]++
		}
		return string(b)
	}
	tests := []struct {
		name    string
		wallet  *OCRA
		cd      func(cd []byte) []byte
		digest  []byte
		want    error
		refusal bool
	}{
		{"issuer without the key", &OCRA{Key: bytes.Repeat([]byte{0x43}, 32)}, nil, digest, ErrIssuerNotProven, true},
		{"forged server response", &OCRA{Key: payerKey}, func(cd []byte) []byte {
			return edit(cd, func(c *rfc6287.ChallengeData) { c.ServerResponse = flip(c.ServerResponse) })
		}, digest, ErrIssuerNotProven, true},
		{"challenge for another order", &OCRA{Key: payerKey}, nil, otherDigest, ErrNotBound, true},
		{"server challenge swapped", &OCRA{Key: payerKey}, func(cd []byte) []byte {
			return edit(cd, func(c *rfc6287.ChallengeData) { c.ServerChallenge = "AAAAAAAA" })
		}, digest, ErrNotBound, true},
		{"nonce swapped", &OCRA{Key: payerKey}, func(cd []byte) []byte {
			return edit(cd, func(c *rfc6287.ChallengeData) { c.Nonce = hex.EncodeToString(make([]byte, 16)) })
		}, digest, ErrNotBound, true},
		{"other suite", &OCRA{Key: payerKey}, func(cd []byte) []byte {
			return edit(cd, func(c *rfc6287.ChallengeData) { c.Suite = "OCRA-1:HOTP-SHA1-6:QA08" })
		}, digest, ErrSuiteMismatch, false},
		{"not json", &OCRA{Key: payerKey}, func([]byte) []byte { return []byte("{") }, digest, ErrChallengeData, false},
		{"bad nonce", &OCRA{Key: payerKey}, func(cd []byte) []byte {
			return edit(cd, func(c *rfc6287.ChallengeData) { c.Nonce = "zz" })
		}, digest, ErrChallengeData, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cd := issue(t, p, tt.wallet, o, digest)
			if tt.cd != nil {
				cd = tt.cd(cd)
			}
			out, err := tt.wallet.Answer(cd, tt.digest)
			if !errors.Is(err, tt.want) || out != nil {
				t.Fatalf("Answer = %s, %v; want %v", out, err, tt.want)
			}
			var r *RefusedError
			if errors.As(err, &r) != tt.refusal {
				t.Fatalf("RefusedError = %v, want %v", errors.As(err, &r), tt.refusal)
			}
		})
	}
}

func TestOCRAMisuse(t *testing.T) {
	if q := (&OCRA{Key: payerKey, Suite: "OCRA-1:HOTP-SHA256-8:C-QA08"}).Begin(); q != "" {
		t.Fatalf("Begin with a counter suite = %q", q)
	}
	if _, err := (&OCRA{Key: payerKey, Suite: "nope"}).Answer([]byte(`{}`), make([]byte, 32)); !errors.Is(err, ErrSuite) {
		t.Fatalf("bad suite: %v", err)
	}
	if _, err := (&OCRA{Key: payerKey}).Answer([]byte(`{}`), make([]byte, 32)); !errors.Is(err, ErrNoClientChallenge) {
		t.Fatalf("no Begin: %v", err)
	}
	w := &OCRA{Key: payerKey, Suite: "OCRA-1:HOTP-SHA1-6:QN10"}
	q := w.Begin()
	if len(q) != 10 || w.ClientChallenge != q {
		t.Fatalf("Begin = %q", q)
	}
	for _, c := range q {
		if c < '0' || c > '9' {
			t.Fatalf("numeric suite gave challenge %q", q)
		}
	}
}
