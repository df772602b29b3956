package merchantsigplugin

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
	"github.com/switchd/switchd/plugins/sdk"
	"github.com/switchd/switchd/plugins/sdk/order"
)

var (
	attSeed   = bytes.Repeat([]byte{0xA7}, 32)
	sellerKey = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{0x5E}, 32))
	otherKey  = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{0x07}, 32))
	t0        = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
)

func testConfig(t testing.TB) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{
		"attestation_key":       hex.EncodeToString(attSeed),
		"attestation_key_id":    "acq-2026",
		"replay_window_seconds": 300,
		"merchant": []any{
			map[string]any{"id": "shop-1", "key": []any{
				map[string]any{"id": "k1", "public_key": base64.StdEncoding.EncodeToString(sellerKey.Public().(ed25519.PublicKey))},
			}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// MustPlugin returns a plugin whose clock reads *now, its instance "acq"
// (acquirer "acq") loaded with records and configured with testConfig.
func MustPlugin(t testing.TB, now *time.Time, records ...*pb.StateWrite) (*Plugin, *pb.ConfigureResponse) {
	t.Helper()
	p := New()
	p.now = func() time.Time { return *now }
	t.Cleanup(func() { _ = p.Close() })
	if err := p.LoadState(context.Background(), "acq", records); err != nil {
		t.Fatalf("LoadState: %v", err)
	}
	return p, mustConfigure(t, p)
}

func mustConfigure(t testing.TB, p *Plugin) *pb.ConfigureResponse {
	t.Helper()
	res, err := p.Configure(context.Background(), &pb.ConfigureRequest{
		InstanceId: "acq", Kind: pb.Kind_KIND_AUTHENTICATOR, ConfigJson: testConfig(t), DataDir: t.TempDir(),
		Institution: &pb.InstitutionInfo{Id: "acq", Roles: []string{"acquirer"}},
	})
	if err != nil || sdk.HasErrors(res.GetDiagnostics()) {
		t.Fatalf("Configure: %v %v", err, res.GetDiagnostics())
	}
	return res
}

func testOrder(paymentID string) *pb.Order {
	return &pb.Order{PaymentId: paymentID, MerchantId: "shop-1", AcquirerId: "acq", IssuerId: "iss",
		AmountMinor: 1299, Currency: "EUR", Method: pb.Method_METHOD_CARD, OrderRef: "A-1", ExpiresAtUnix: t0.Add(time.Hour).Unix()}
}

func signedRequest(o *pb.Order, key ed25519.PrivateKey, keyID string, at time.Time) *pb.AuthenticateSellerRequest {
	d := order.Digest(o)
	ms := at.UnixMilli()
	return &pb.AuthenticateSellerRequest{InstanceId: "acq", Order: o, OrderDigest: d[:], SellerKeyId: keyID,
		SignedAtUnixMs: ms, SellerSignature: ed25519.Sign(key, order.SellerMessage(order.TermsDigest(o), ms))}
}

func TestAuthenticateSeller(t *testing.T) {
	now := t0
	p, conf := MustPlugin(t, &now)
	attPub := conf.GetAttestationKeys()[0].GetEd25519()
	if !bytes.Equal(attPub, ed25519.NewKeyFromSeed(attSeed).Public().(ed25519.PublicKey)) || conf.GetAttestationKeys()[0].GetKeyId() != "acq-2026" {
		t.Fatalf("attestation key = %x %q", attPub, conf.GetAttestationKeys()[0].GetKeyId())
	}
	tampered := func(f func(*pb.Order)) *pb.AuthenticateSellerRequest {
		r := signedRequest(testOrder("pay-t"), sellerKey, "k1", t0)
		o := proto.Clone(r.Order).(*pb.Order)
		f(o)
		d := order.Digest(o)
		r.Order, r.OrderDigest = o, d[:]
		return r
	}
	unknownMerchant := signedRequest(testOrder("pay-m"), sellerKey, "k1", t0)
	unknownMerchant.Order.MerchantId = "shop-2"
	d := order.Digest(unknownMerchant.Order)
	unknownMerchant.OrderDigest = d[:]

	tests := []struct {
		name string
		req  *pb.AuthenticateSellerRequest
		want string // decline code, "" for approval
	}{
		{"valid", signedRequest(testOrder("pay-1"), sellerKey, "k1", t0), ""},
		{"signed a little in the future", signedRequest(testOrder("pay-2"), sellerKey, "k1", t0.Add(299*time.Second)), ""},
		{"signed at the edge of the window", signedRequest(testOrder("pay-3"), sellerKey, "k1", t0.Add(-300*time.Second)), ""},
		{"unknown merchant", unknownMerchant, sdk.DeclineUnknownMerchant},
		{"unknown key", signedRequest(testOrder("pay-4"), sellerKey, "k2", t0), sdk.DeclineUnknownKey},
		{"signed by another key", signedRequest(testOrder("pay-5"), otherKey, "k1", t0), sdk.DeclineBadSignature},
		{"amount changed", tampered(func(o *pb.Order) { o.AmountMinor++ }), sdk.DeclineBadSignature},
		{"currency changed", tampered(func(o *pb.Order) { o.Currency = "USD" }), sdk.DeclineBadSignature},
		{"order ref changed", tampered(func(o *pb.Order) { o.OrderRef = "A-2" }), sdk.DeclineBadSignature},
		{"expiry changed", tampered(func(o *pb.Order) { o.ExpiresAtUnix++ }), sdk.DeclineBadSignature},
		{"signed_at changed", func() *pb.AuthenticateSellerRequest {
			r := signedRequest(testOrder("pay-6"), sellerKey, "k1", t0)
			r.SignedAtUnixMs++
			return r
		}(), sdk.DeclineBadSignature},
		{"truncated signature", func() *pb.AuthenticateSellerRequest {
			r := signedRequest(testOrder("pay-7"), sellerKey, "k1", t0)
			r.SellerSignature = r.SellerSignature[:63]
			return r
		}(), sdk.DeclineBadSignature},
		{"too old", signedRequest(testOrder("pay-8"), sellerKey, "k1", t0.Add(-301*time.Second)), sdk.DeclineStaleSignature},
		{"too far in the future", signedRequest(testOrder("pay-9"), sellerKey, "k1", t0.Add(301*time.Second)), sdk.DeclineStaleSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := p.AuthenticateSeller(context.Background(), tt.req)
			if err != nil {
				t.Fatal(err)
			}
			if tt.want != "" {
				if res.GetVerdict() != pb.Verdict_VERDICT_DECLINED || res.GetDeclineCode() != tt.want || res.GetAttestation() != nil {
					t.Fatalf("got %v %q, want DECLINED %q", res.GetVerdict(), res.GetDeclineCode(), tt.want)
				}
				return
			}
			if res.GetVerdict() != pb.Verdict_VERDICT_APPROVED {
				t.Fatalf("got %v %q, want APPROVED", res.GetVerdict(), res.GetDeclineCode())
			}
			a := res.GetAttestation()
			if a.GetStep() != "B" || a.GetInstitutionId() != "acq" || a.GetKeyId() != "acq-2026" ||
				!ed25519.Verify(attPub, order.AttestationMessage("B", "acq", tt.req.GetOrderDigest()), a.GetSignature()) {
				t.Fatalf("attestation does not verify: %+v", a)
			}
		})
	}
}

func TestReplay(t *testing.T) {
	now := t0
	p, _ := MustPlugin(t, &now)
	host := hostStore{}
	ctx := context.Background()
	first := signedRequest(testOrder("pay-1"), sellerKey, "k1", t0)
	call := func(p *Plugin, r *pb.AuthenticateSellerRequest) *pb.AuthenticateSellerResponse {
		t.Helper()
		res, err := p.AuthenticateSeller(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		host.apply(res.GetStateWrites())
		return res
	}
	approved := call(p, first)
	if approved.GetVerdict() != pb.Verdict_VERDICT_APPROVED {
		t.Fatalf("first use: %v", approved)
	}

	// The same signature presented for another payment (same terms, so it
	// still verifies) is a replay.
	other := proto.Clone(first).(*pb.AuthenticateSellerRequest)
	other.Order.PaymentId = "pay-2"
	d := order.Digest(other.Order)
	other.OrderDigest = d[:]
	if res := call(p, other); res.GetDeclineCode() != sdk.DeclineReplay {
		t.Fatalf("replay for another payment: %v %q", res.GetVerdict(), res.GetDeclineCode())
	}

	// The host retrying the same payment gets the same approval.
	now = t0.Add(10 * time.Second)
	retry := call(p, first)
	if retry.GetVerdict() != pb.Verdict_VERDICT_APPROVED || !proto.Equal(retry, approved) {
		t.Fatalf("retry for the same payment: %v, want %v", retry, approved)
	}

	// A restart, loaded with what the host committed, does not reopen the
	// window.
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	p2, _ := MustPlugin(t, &now, host.records()...)
	if res := call(p2, other); res.GetDeclineCode() != sdk.DeclineReplay {
		t.Fatalf("replay after restart: %v %q", res.GetVerdict(), res.GetDeclineCode())
	}
	if res := call(p2, first); res.GetVerdict() != pb.Verdict_VERDICT_APPROVED {
		t.Fatalf("retry after restart: %v", res)
	}

	// Once the window has passed the record is purged and the window check
	// alone refuses the signature.
	now = t0.Add(301 * time.Second)
	if res := call(p2, other); res.GetDeclineCode() != sdk.DeclineStaleSignature {
		t.Fatalf("after the window: %q", res.GetDeclineCode())
	}
	fresh := signedRequest(testOrder("pay-3"), sellerKey, "k1", now)
	if res := call(p2, fresh); res.GetVerdict() != pb.Verdict_VERDICT_APPROVED {
		t.Fatalf("fresh signature: %v", res)
	}
	if n := len(host.records()); n != 1 {
		t.Fatalf("the host holds %d records, want 1 (the expired one deleted by the fresh approval)", n)
	}
	if n, _ := p2.instanceState(t, "acq").len(); n != 1 {
		t.Fatalf("%d signatures remembered, want 1", n)
	}
}

func TestConfigureReportsEveryProblem(t *testing.T) {
	cfg := `{"attestation_key":"not-a-key","replay_window_seconds":0.5,
	  "merchant":[{"id":"shop-1","key":[{"id":"k1","public_key":"AAAA"},{"id":"k1","public_key":"AAAA"}]},{"id":"shop-2","key":[]}]}`
	p := New()
	t.Cleanup(func() { _ = p.Close() })
	if err := p.LoadState(context.Background(), "acq", nil); err != nil {
		t.Fatal(err)
	}
	res, err := p.Configure(context.Background(), &pb.ConfigureRequest{InstanceId: "acq", ConfigJson: []byte(cfg), DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"attestation_key", "attestation_key_id", "replay_window_seconds",
		"merchant/shop-1/key/k1/public_key", "merchant/shop-1/key/k1", "merchant/shop-2",
	}
	var got []string
	for _, d := range res.GetDiagnostics() {
		if d.GetSeverity() != pb.Severity_SEVERITY_ERROR {
			t.Errorf("diagnostic %q is not an error", d.GetSummary())
		}
		if strings.Contains(d.GetDetail(), "not-a-key") {
			t.Errorf("diagnostic repeats the key: %q", d.GetDetail())
		}
		got = append(got, strings.Join(d.GetPath(), "/"))
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("diagnostic paths = %v, want %v", got, want)
	}
	if _, err := p.instance("acq"); err == nil {
		t.Fatal("a configuration with errors was applied")
	}
	if _, err := p.AuthenticateSeller(context.Background(), signedRequest(testOrder("p"), sellerKey, "k1", t0)); sdk.CodeOf(err) != sdk.CodeFailedPrecondition {
		t.Fatalf("call on unconfigured instance: %v", err)
	}
}

func TestReconfigureKeepsOldSettingsOnError(t *testing.T) {
	now := t0
	p, _ := MustPlugin(t, &now)
	res, err := p.Configure(context.Background(), &pb.ConfigureRequest{InstanceId: "acq", ConfigJson: []byte(`{"attestation_key":"x"}`), DataDir: t.TempDir()})
	if err != nil || !sdk.HasErrors(res.GetDiagnostics()) {
		t.Fatalf("bad reconfigure: %v %v", res, err)
	}
	if r, err := p.AuthenticateSeller(context.Background(), signedRequest(testOrder("pay-1"), sellerKey, "k1", t0)); err != nil || r.GetVerdict() != pb.Verdict_VERDICT_APPROVED {
		t.Fatalf("old settings lost: %v %v", r, err)
	}
}

func TestBadRequests(t *testing.T) {
	now := t0
	p, _ := MustPlugin(t, &now)
	good := signedRequest(testOrder("pay-1"), sellerKey, "k1", t0)
	tests := []struct {
		name string
		mut  func(r *pb.AuthenticateSellerRequest)
		code sdk.Code
	}{
		{"unknown instance", func(r *pb.AuthenticateSellerRequest) { r.InstanceId = "nope" }, sdk.CodeFailedPrecondition},
		{"no order", func(r *pb.AuthenticateSellerRequest) { r.Order = nil }, sdk.CodeInvalidArgument},
		{"digest mismatch", func(r *pb.AuthenticateSellerRequest) { r.OrderDigest = make([]byte, 32) }, sdk.CodeInvalidArgument},
		{"other acquirer", func(r *pb.AuthenticateSellerRequest) {
			r.Order.AcquirerId = "acq-2"
			d := order.Digest(r.Order)
			r.OrderDigest = d[:]
		}, sdk.CodeInvalidArgument},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := proto.Clone(good).(*pb.AuthenticateSellerRequest)
			tt.mut(r)
			if _, err := p.AuthenticateSeller(context.Background(), r); sdk.CodeOf(err) != tt.code {
				t.Fatalf("err = %v, want code %v", err, tt.code)
			}
		})
	}
}

// TestConcurrentReplay presents one signature for many payments at once:
// exactly one is approved.
func TestConcurrentReplay(t *testing.T) {
	now := t0
	p, _ := MustPlugin(t, &now)
	first := signedRequest(testOrder("pay-0"), sellerKey, "k1", t0)
	const n = 16
	results := make(chan *pb.AuthenticateSellerResponse, n)
	for i := range n {
		go func() {
			r := proto.Clone(first).(*pb.AuthenticateSellerRequest)
			r.Order.PaymentId = "pay-" + strconv.Itoa(i)
			d := order.Digest(r.Order)
			r.OrderDigest = d[:]
			res, err := p.AuthenticateSeller(context.Background(), r)
			if err != nil {
				t.Error(err)
			}
			results <- res
		}()
	}
	approved := 0
	for range n {
		res := <-results
		switch res.GetDeclineCode() {
		case "":
			approved++
		case sdk.DeclineReplay:
		default:
			t.Errorf("unexpected decline %q", res.GetDeclineCode())
		}
	}
	if approved != 1 {
		t.Fatalf("%d approvals for one signature, want 1", approved)
	}
}
