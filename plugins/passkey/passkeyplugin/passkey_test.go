package passkeyplugin

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/switchd/switchd/plugins/internal/cpubench"
	"github.com/switchd/switchd/plugins/passkey/passkeytest"
	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
	"github.com/switchd/switchd/plugins/sdk"
	"github.com/switchd/switchd/plugins/sdk/order"
)

const (
	testOrigin = "https://pay.example.com"
	testRPID   = "example.com"
)

var testSeed = bytes.Repeat([]byte{0x5A}, 32)

// testCodes are the activation codes the issuer gave its payers; the
// configuration holds only their SHA-256. dave has none.
var testCodes = map[string]string{"alice": "ALICE-7Q2M-K9XD", "bob": "bob-code-4411"}

func codeHash(code string) string {
	h := sha256.Sum256([]byte(code))
	return hex.EncodeToString(h[:])
}

// codeData is BeginEnrollment's payer_data carrying code.
func codeData(code string) []byte {
	b, _ := json.Marshal(map[string]string{"enrollment_code": code})
	return b
}

func testConfig(t testing.TB, override map[string]any) []byte {
	t.Helper()
	cfg := map[string]any{
		"rp_id":              testRPID,
		"rp_display_name":    "Example Bank",
		"rp_origins":         []string{testOrigin},
		"attestation_key":    hex.EncodeToString(testSeed),
		"attestation_key_id": "iss-k1",
		"payer": []any{
			map[string]any{"id": "alice", "display_name": "Alice A.", "enrollment_code_sha256": codeHash(testCodes["alice"])},
			map[string]any{"id": "bob", "enrollment_code_sha256": codeHash(testCodes["bob"])},
			map[string]any{"id": "dave"},
		},
	}
	for k, v := range override {
		if v == nil {
			delete(cfg, k)
			continue
		}
		cfg[k] = v
	}
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fixture is one configured plugin instance "iss" over a data dir.
type fixture struct {
	t    testing.TB
	p    *Plugin
	dir  string
	pub  ed25519.PublicKey
	cfg  []byte
	ctx  context.Context
	now  time.Time
	seqs int
}

func MustFixture(t testing.TB, override map[string]any) *fixture {
	t.Helper()
	f := &fixture{t: t, dir: t.TempDir(), cfg: testConfig(t, override), ctx: context.Background(), now: time.Now()}
	f.restart()
	return f
}

// restart replaces the plugin with a fresh one over the same data dir, as
// a restarted plugin process would be.
func (f *fixture) restart() {
	f.t.Helper()
	if f.p != nil {
		if err := f.p.Close(); err != nil {
			f.t.Fatal(err)
		}
	}
	f.p = New()
	f.p.now = func() time.Time { return f.now }
	f.t.Cleanup(func() { _ = f.p.Close() })
	res, err := f.p.Configure(f.ctx, &pb.ConfigureRequest{InstanceId: "iss", Kind: pb.Kind_KIND_AUTHENTICATOR, ConfigJson: f.cfg, DataDir: f.dir,
		Institution: &pb.InstitutionInfo{Id: "iss", Roles: []string{"issuer"}}})
	if err != nil || sdk.HasErrors(res.GetDiagnostics()) {
		f.t.Fatalf("Configure: %v %v", err, res.GetDiagnostics())
	}
	f.pub = res.GetAttestationKeys()[0].GetEd25519()
}

func (f *fixture) order(amount int64) (*pb.Order, []byte) {
	f.seqs++
	o := &pb.Order{PaymentId: "pay-" + string(rune('a'+f.seqs)), MerchantId: "shop", AcquirerId: "acq", IssuerId: "iss", AmountMinor: amount,
		Currency: "EUR", Method: pb.Method_METHOD_CARD, OrderRef: "R1", ExpiresAtUnix: 1900000000}
	d := order.Digest(o)
	return o, d[:]
}

// enrol enrols a new software passkey for payerRef.
func (f *fixture) enrol(payerRef string) *passkeytest.Authenticator {
	f.t.Helper()
	a, err := passkeytest.New(testOrigin)
	if err != nil {
		f.t.Fatal(err)
	}
	f.enrolWith(payerRef, a)
	return a
}

// enrolWith enrols the software passkey a for payerRef.
func (f *fixture) enrolWith(payerRef string, a *passkeytest.Authenticator) {
	f.t.Helper()
	b, err := f.p.BeginEnrollment(f.ctx, &pb.BeginEnrollmentRequest{InstanceId: "iss", PayerRef: payerRef, PayerData: codeData(testCodes[payerRef])})
	if err != nil {
		f.t.Fatalf("BeginEnrollment: %v", err)
	}
	cred, err := a.Create(b.GetChallengeData())
	if err != nil {
		f.t.Fatalf("authenticator refused the creation options: %v", err)
	}
	res, err := f.p.FinishEnrollment(f.ctx, &pb.FinishEnrollmentRequest{InstanceId: "iss", PayerRef: payerRef, PayerData: cred})
	if err != nil {
		f.t.Fatalf("FinishEnrollment: %v", err)
	}
	if want := base64.RawURLEncoding.EncodeToString(a.CredentialID); res.GetCredentialId() != want {
		f.t.Fatalf("credential_id %q, want %q", res.GetCredentialId(), want)
	}
}

func (f *fixture) begin(payerRef string, o *pb.Order, d []byte) *pb.BeginMutualAuthResponse {
	f.t.Helper()
	res, err := f.p.BeginMutualAuth(f.ctx, &pb.BeginMutualAuthRequest{InstanceId: "iss", Order: o, OrderDigest: d, PayerRef: payerRef, PayerData: []byte("{}")})
	if err != nil {
		f.t.Fatalf("BeginMutualAuth: %v", err)
	}
	return res
}

func (f *fixture) finish(payerRef string, o *pb.Order, d, payerData []byte) *pb.FinishMutualAuthResponse {
	f.t.Helper()
	res, err := f.p.FinishMutualAuth(f.ctx, &pb.FinishMutualAuthRequest{InstanceId: "iss", Order: o, OrderDigest: d, PayerRef: payerRef, PayerData: payerData})
	if err != nil {
		f.t.Fatalf("FinishMutualAuth: %v", err)
	}
	return res
}

// pay runs step C for a with a fresh order and returns the result and the
// order's digest.
func (f *fixture) pay(payerRef string, a *passkeytest.Authenticator) (*pb.FinishMutualAuthResponse, []byte) {
	f.t.Helper()
	o, d := f.order(1000)
	b := f.begin(payerRef, o, d)
	if b.GetVerdict() != pb.Verdict_VERDICT_APPROVED {
		f.t.Fatalf("Begin declined: %s", b.GetDeclineCode())
	}
	ans, err := a.Get(b.GetChallengeData(), d)
	if err != nil {
		f.t.Fatalf("the payer's page refused the issuer's challenge: %v", err)
	}
	return f.finish(payerRef, o, d, ans), d
}

func (f *fixture) wantApproved(res *pb.FinishMutualAuthResponse, d []byte) {
	f.t.Helper()
	if res.GetVerdict() != pb.Verdict_VERDICT_APPROVED {
		f.t.Fatalf("Finish = %v (%s), want APPROVED", res.GetVerdict(), res.GetDeclineCode())
	}
	a := res.GetAttestation()
	if a.GetStep() != "C" || a.GetInstitutionId() != "iss" || a.GetKeyId() != "iss-k1" ||
		!ed25519.Verify(f.pub, order.AttestationMessage("C", "iss", d), a.GetSignature()) {
		f.t.Fatalf("attestation %v does not verify over the digest", a)
	}
}

func wantDecline(t *testing.T, res *pb.FinishMutualAuthResponse, code string) {
	t.Helper()
	if res.GetVerdict() != pb.Verdict_VERDICT_DECLINED || res.GetDeclineCode() != code || res.GetAttestation() != nil {
		t.Fatalf("Finish = %v (%s) attestation %v, want DECLINED %s", res.GetVerdict(), res.GetDeclineCode(), res.GetAttestation(), code)
	}
}

func TestEnrolThenPay(t *testing.T) {
	f := MustFixture(t, nil)
	a := f.enrol("alice")
	o, d := f.order(1000)
	b := f.begin("alice", o, d)
	if b.GetMechanism() != Mechanism || b.GetVerdict() != pb.Verdict_VERDICT_APPROVED {
		t.Fatalf("Begin = %v", b)
	}
	ans, err := a.Get(b.GetChallengeData(), d)
	if err != nil {
		t.Fatal(err)
	}
	f.wantApproved(f.finish("alice", o, d, ans), d)
	// A second payment works and moves the counter on.
	f.wantApproved(f.pay("alice", a))
}

// TestChallengeDataShape pins the JSON the payment page (pay.js) relies on.
// TestUnsolicitedExtensions: outputs the browser returns unasked (as
// Chrome's credProps) do not break enrolment or payment.
func TestUnsolicitedExtensions(t *testing.T) {
	f := MustFixture(t, nil)
	a, err := passkeytest.New(testOrigin)
	if err != nil {
		t.Fatal(err)
	}
	a.ExtensionResults = map[string]any{"credProps": map[string]any{"rk": true}}
	b, err := f.p.BeginEnrollment(f.ctx, &pb.BeginEnrollmentRequest{InstanceId: "iss", PayerRef: "alice", PayerData: codeData(testCodes["alice"])})
	if err != nil {
		t.Fatal(err)
	}
	cred, _ := a.Create(b.GetChallengeData())
	if _, err := f.p.FinishEnrollment(f.ctx, &pb.FinishEnrollmentRequest{InstanceId: "iss", PayerRef: "alice", PayerData: cred}); err != nil {
		t.Fatalf("FinishEnrollment with credProps: %v", err)
	}
	a.ExtensionResults = map[string]any{"appid": false}
	f.wantApproved(f.pay("alice", a))
}

func TestChallengeDataShape(t *testing.T) {
	f := MustFixture(t, nil)
	b, err := f.p.BeginEnrollment(f.ctx, &pb.BeginEnrollmentRequest{InstanceId: "iss", PayerRef: "alice", PayerData: codeData(testCodes["alice"])})
	if err != nil {
		t.Fatal(err)
	}
	var create struct {
		PublicKey struct {
			RP        struct{ ID, Name string }
			User      struct{ ID, Name, DisplayName string }
			Challenge string
			Params    []struct {
				Type string
				Alg  int
			} `json:"pubKeyCredParams"`
			Attestation            string
			AuthenticatorSelection struct{ UserVerification, ResidentKey string }
			Timeout                int
		} `json:"publicKey"`
	}
	if err := json.Unmarshal(b.GetChallengeData(), &create); err != nil {
		t.Fatal(err)
	}
	pk := create.PublicKey
	uid, err := base64.RawURLEncoding.DecodeString(pk.User.ID)
	if err != nil || len(uid) != userIDSize || strings.Contains(string(uid), "alice") {
		t.Errorf("user.id %q is not a random base64url handle: %v", pk.User.ID, err)
	}
	if ch, err := base64.RawURLEncoding.DecodeString(pk.Challenge); err != nil || len(ch) < 16 {
		t.Errorf("challenge %q is not base64url of >= 16 bytes: %v", pk.Challenge, err)
	}
	if pk.RP.ID != testRPID || pk.RP.Name != "Example Bank" || pk.User.DisplayName != "Alice A." || pk.Attestation != "none" ||
		pk.AuthenticatorSelection.UserVerification != "required" || pk.Timeout != 300000 ||
		!slices.ContainsFunc(pk.Params, func(p struct {
			Type string
			Alg  int
		}) bool {
			return p.Type == "public-key" && p.Alg == -7
		}) {
		t.Errorf("creation options %+v", pk)
	}

	a, err := passkeytest.New(testOrigin)
	if err != nil {
		t.Fatal(err)
	}
	cred, _ := a.Create(b.GetChallengeData())
	if _, err := f.p.FinishEnrollment(f.ctx, &pb.FinishEnrollmentRequest{InstanceId: "iss", PayerRef: "alice", PayerData: cred}); err != nil {
		t.Fatal(err)
	}
	o, d := f.order(1000)
	var get struct {
		PublicKey struct {
			Challenge        string
			RPID             string `json:"rpId"`
			AllowCredentials []struct{ Type, ID string }
			UserVerification string
		} `json:"publicKey"`
		Nonce  string
		Digest string
	}
	if err := json.Unmarshal(f.begin("alice", o, d).GetChallengeData(), &get); err != nil {
		t.Fatal(err)
	}
	nonce, err := base64.RawURLEncoding.DecodeString(get.Nonce)
	if err != nil || len(nonce) != NonceSize {
		t.Fatalf("nonce %q: %v", get.Nonce, err)
	}
	want := sha256.Sum256(slices.Concat([]byte("switchd-passkey-v1"), d, nonce))
	if get.PublicKey.Challenge != base64.RawURLEncoding.EncodeToString(want[:]) {
		t.Errorf("challenge %q is not base64url(SHA-256(tag || digest || nonce))", get.PublicKey.Challenge)
	}
	if get.Digest != hex.EncodeToString(d) || get.PublicKey.RPID != testRPID || get.PublicKey.UserVerification != "required" ||
		len(get.PublicKey.AllowCredentials) != 1 || get.PublicKey.AllowCredentials[0].ID != base64.RawURLEncoding.EncodeToString(a.CredentialID) ||
		get.PublicKey.AllowCredentials[0].Type != "public-key" {
		t.Errorf("request options %+v", get)
	}
}

// TestOrderBinding: an assertion made for order X does not verify for
// order Y, whichever field differs, and the payer's page refuses a
// challenge that is not bound to the order it shows.
func TestOrderBinding(t *testing.T) {
	changes := []struct {
		name   string
		change func(*pb.Order)
	}{
		{"amount", func(o *pb.Order) { o.AmountMinor++ }},
		{"merchant", func(o *pb.Order) { o.MerchantId = "other-shop" }},
		{"currency", func(o *pb.Order) { o.Currency = "USD" }},
		{"expiry", func(o *pb.Order) { o.ExpiresAtUnix += 60 }},
	}
	f := MustFixture(t, map[string]any{"max_failures": 100})
	a := f.enrol("alice")
	for _, tt := range changes {
		t.Run(tt.name, func(t *testing.T) {
			o, d := f.order(1000)
			b := f.begin("alice", o, d)
			ans, err := a.Get(b.GetChallengeData(), d)
			if err != nil {
				t.Fatal(err)
			}
			y := proto.Clone(o).(*pb.Order)
			tt.change(y)
			dy := order.Digest(y)
			if _, err := a.Get(b.GetChallengeData(), dy[:]); !errors.Is(err, passkeytest.ErrUnbound) {
				t.Errorf("the page accepted X's challenge for order Y: %v", err)
			}
			wantDecline(t, f.finish("alice", y, dy[:], ans), sdk.DeclineAuthFailed)
		})
	}
	t.Run("assertion over an unbound challenge", func(t *testing.T) {
		o, d := f.order(1000)
		f.begin("alice", o, d)
		ans, err := a.Sign(base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32)))
		if err != nil {
			t.Fatal(err)
		}
		wantDecline(t, f.finish("alice", o, d, ans), sdk.DeclineAuthFailed)
	})
	t.Run("the right answer still works", func(t *testing.T) {
		o, d := f.order(1000)
		ans, _ := a.Get(f.begin("alice", o, d).GetChallengeData(), d)
		f.wantApproved(f.finish("alice", o, d, ans), d)
	})
}

func TestReplay(t *testing.T) {
	f := MustFixture(t, nil)
	a := f.enrol("alice")
	o, d := f.order(1000)
	ans, err := a.Get(f.begin("alice", o, d).GetChallengeData(), d)
	if err != nil {
		t.Fatal(err)
	}
	f.wantApproved(f.finish("alice", o, d, ans), d)
	t.Run("same assertion again", func(t *testing.T) {
		wantDecline(t, f.finish("alice", o, d, ans), sdk.DeclineReplay)
	})
	t.Run("old assertion against a new challenge", func(t *testing.T) {
		f.begin("alice", o, d)
		wantDecline(t, f.finish("alice", o, d, ans), sdk.DeclineAuthFailed)
	})
	t.Run("answer after the challenge expired", func(t *testing.T) {
		o, d := f.order(1000)
		ans, _ := a.Get(f.begin("alice", o, d).GetChallengeData(), d)
		f.now = f.now.Add(DefaultChallengeTTL + time.Second)
		wantDecline(t, f.finish("alice", o, d, ans), sdk.DeclineReplay)
	})
}

func TestLockout(t *testing.T) {
	f := MustFixture(t, nil)
	alice := f.enrol("alice")
	bob := f.enrol("bob")
	// Mallory has alice's credential id but not her key.
	mallory, err := passkeytest.New(testOrigin)
	if err != nil {
		t.Fatal(err)
	}
	mallory.CredentialID, mallory.RPID, mallory.UserHandle = alice.CredentialID, alice.RPID, alice.UserHandle
	fail := func(n int) {
		t.Helper()
		for range n {
			res, _ := f.pay("alice", mallory)
			wantDecline(t, res, sdk.DeclineAuthFailed)
		}
	}
	// A success in between resets the count.
	fail(DefaultMaxFailures - 1)
	f.wantApproved(f.pay("alice", alice))
	fail(DefaultMaxFailures - 1)
	o, d := f.order(1000)
	if b := f.begin("alice", o, d); b.GetVerdict() != pb.Verdict_VERDICT_APPROVED {
		t.Fatalf("locked after %d failures: %v", DefaultMaxFailures-1, b)
	}
	fail(1)
	f.restart()
	o, d = f.order(1000)
	if b := f.begin("alice", o, d); b.GetDeclineCode() != sdk.DeclineLocked || b.GetVerdict() != pb.Verdict_VERDICT_DECLINED {
		t.Fatalf("Begin after lockout and restart: %v", b)
	}
	ans, err := alice.Sign(base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{1}, 32)))
	if err != nil {
		t.Fatal(err)
	}
	wantDecline(t, f.finish("alice", o, d, ans), sdk.DeclineLocked)
	if _, err := f.p.BeginEnrollment(f.ctx, &pb.BeginEnrollmentRequest{InstanceId: "iss", PayerRef: "alice", PayerData: codeData(testCodes["alice"])}); !errors.Is(err, sdk.ErrFailedPrecondition) {
		t.Errorf("a locked payer could begin enrolment: %v", err)
	}
	// Bob is not affected.
	f.wantApproved(f.pay("bob", bob))
}

func TestAuthenticatorChecks(t *testing.T) {
	tests := []struct {
		name   string
		config map[string]any
		tamper func(a *passkeytest.Authenticator)
		want   string
	}{
		{"counter rolled back", nil, func(a *passkeytest.Authenticator) { a.SignCount = 0 }, sdk.DeclineAuthFailed},
		{"no user verification", nil, func(a *passkeytest.Authenticator) { a.NoUserVerification = true }, sdk.DeclineAuthFailed},
		{"no user verification, preferred", map[string]any{"user_verification": "preferred"}, func(a *passkeytest.Authenticator) { a.NoUserVerification = true }, ""},
		{"another origin", nil, func(a *passkeytest.Authenticator) { a.Origin = "https://evil.example.net" }, sdk.DeclineAuthFailed},
		{"another RP ID", nil, func(a *passkeytest.Authenticator) { a.RPID = "evil.example.net" }, sdk.DeclineAuthFailed},
		{"another key", nil, func(a *passkeytest.Authenticator) {
			b, _ := passkeytest.New(testOrigin)
			a.Key = b.Key
		}, sdk.DeclineAuthFailed},
		{"another user handle", nil, func(a *passkeytest.Authenticator) { a.UserHandle = []byte("someone-else") }, sdk.DeclineAuthFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := MustFixture(t, tt.config)
			a := f.enrol("alice")
			f.wantApproved(f.pay("alice", a))
			f.wantApproved(f.pay("alice", a))
			tt.tamper(a)
			o, d := f.order(1000)
			b := f.begin("alice", o, d)
			ans, err := a.Sign(mustChallenge(t, b.GetChallengeData()))
			if err != nil {
				t.Fatal(err)
			}
			res := f.finish("alice", o, d, ans)
			if tt.want == "" {
				f.wantApproved(res, d)
				return
			}
			wantDecline(t, res, tt.want)
		})
	}
}

func mustChallenge(t *testing.T, data []byte) string {
	t.Helper()
	var c ChallengeData
	if err := json.Unmarshal(data, &c); err != nil {
		t.Fatal(err)
	}
	return c.PublicKey.Challenge.String()
}

func TestEnrolmentRules(t *testing.T) {
	f := MustFixture(t, nil)
	o, d := f.order(1000)
	t.Run("before enrolment the payer is unknown", func(t *testing.T) {
		if b := f.begin("alice", o, d); b.GetDeclineCode() != DeclineUnknownPayer {
			t.Fatalf("Begin = %v", b)
		}
		if b := f.begin("carol", o, d); b.GetDeclineCode() != DeclineUnknownPayer {
			t.Fatalf("Begin for a payer not configured = %v", b)
		}
	})
	a, _ := passkeytest.New(testOrigin)
	begin := func(ref string) ([]byte, error) {
		b, err := f.p.BeginEnrollment(f.ctx, &pb.BeginEnrollmentRequest{InstanceId: "iss", PayerRef: ref, PayerData: codeData(testCodes[ref])})
		return b.GetChallengeData(), err
	}
	finish := func(ref string, data []byte) error {
		_, err := f.p.FinishEnrollment(f.ctx, &pb.FinishEnrollmentRequest{InstanceId: "iss", PayerRef: ref, PayerData: data})
		return err
	}
	t.Run("payer not listed", func(t *testing.T) {
		if _, err := begin("carol"); !errors.Is(err, sdk.ErrNotFound) {
			t.Fatalf("BeginEnrollment = %v, want not_found", err)
		}
	})
	t.Run("finish without begin", func(t *testing.T) {
		if err := finish("bob", []byte(`{}`)); !errors.Is(err, sdk.ErrInvalidArgument) {
			t.Fatalf("garbage payer_data: %v", err)
		}
		ch, err := begin("alice")
		if err != nil {
			t.Fatal(err)
		}
		cred, _ := a.Create(ch)
		if err := finish("bob", cred); !errors.Is(err, sdk.ErrFailedPrecondition) {
			t.Fatalf("alice's credential for bob, who never began: %v", err)
		}
	})
	t.Run("wrong origin does not verify and spends the enrolment", func(t *testing.T) {
		ch, _ := begin("bob")
		evil, _ := passkeytest.New("https://evil.example.net")
		cred, _ := evil.Create(ch)
		if err := finish("bob", cred); !errors.Is(err, sdk.ErrInvalidArgument) {
			t.Fatalf("FinishEnrollment = %v, want invalid_argument", err)
		}
		good, _ := passkeytest.New(testOrigin)
		cred, _ = good.Create(ch)
		if err := finish("bob", cred); !errors.Is(err, sdk.ErrFailedPrecondition) {
			t.Fatalf("a spent enrolment was accepted: %v", err)
		}
	})
	t.Run("expired", func(t *testing.T) {
		ch, _ := begin("bob")
		cred, _ := a.Create(ch)
		f.now = f.now.Add(DefaultChallengeTTL + time.Second)
		defer func() { f.now = time.Now() }()
		if err := finish("bob", cred); !errors.Is(err, sdk.ErrFailedPrecondition) {
			t.Fatalf("FinishEnrollment = %v, want failed_precondition", err)
		}
	})
	t.Run("one passkey per payer", func(t *testing.T) {
		f.enrol("alice")
		if _, err := begin("alice"); !errors.Is(err, sdk.ErrFailedPrecondition) {
			t.Fatalf("second BeginEnrollment = %v, want failed_precondition", err)
		}
	})
	t.Run("unconfigured instance", func(t *testing.T) {
		_, err := f.p.BeginEnrollment(f.ctx, &pb.BeginEnrollmentRequest{InstanceId: "nope", PayerRef: "alice", PayerData: codeData(testCodes["alice"])})
		if !errors.Is(err, sdk.ErrFailedPrecondition) {
			t.Fatalf("BeginEnrollment = %v", err)
		}
	})
}

func TestFinishInput(t *testing.T) {
	f := MustFixture(t, nil)
	a := f.enrol("alice")
	o, d := f.order(1000)
	b := f.begin("alice", o, d)
	tests := []struct {
		name string
		req  *pb.FinishMutualAuthRequest
		want error
	}{
		{"not JSON", &pb.FinishMutualAuthRequest{InstanceId: "iss", Order: o, OrderDigest: d, PayerRef: "alice", PayerData: []byte("nope")}, sdk.ErrInvalidArgument},
		{"empty payer_data", &pb.FinishMutualAuthRequest{InstanceId: "iss", Order: o, OrderDigest: d, PayerRef: "alice"}, sdk.ErrInvalidArgument},
		{"digest of another order", &pb.FinishMutualAuthRequest{InstanceId: "iss", Order: o, OrderDigest: make([]byte, 32), PayerRef: "alice", PayerData: []byte("{}")}, sdk.ErrInvalidArgument},
		{"other issuer", &pb.FinishMutualAuthRequest{InstanceId: "iss", Order: &pb.Order{PaymentId: "x", IssuerId: "other"}, OrderDigest: digestOf(&pb.Order{PaymentId: "x", IssuerId: "other"}), PayerRef: "alice", PayerData: []byte("{}")}, sdk.ErrInvalidArgument},
		{"no payer", &pb.FinishMutualAuthRequest{InstanceId: "iss", Order: o, OrderDigest: d, PayerData: []byte("{}")}, sdk.ErrInvalidArgument},
		{"unconfigured", &pb.FinishMutualAuthRequest{InstanceId: "nope", Order: o, OrderDigest: d, PayerRef: "alice", PayerData: []byte("{}")}, sdk.ErrFailedPrecondition},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := f.p.FinishMutualAuth(f.ctx, tt.req); !errors.Is(err, tt.want) {
				t.Fatalf("FinishMutualAuth = %v, want %v", err, tt.want)
			}
		})
	}
	t.Run("bad input changed nothing", func(t *testing.T) {
		ans, err := a.Get(b.GetChallengeData(), d)
		if err != nil {
			t.Fatal(err)
		}
		f.wantApproved(f.finish("alice", o, d, ans), d)
	})
}

func digestOf(o *pb.Order) []byte {
	d := order.Digest(o)
	return d[:]
}

// TestConcurrentReplay: the same assertion sent twice at once is approved
// exactly once.
func TestConcurrentReplay(t *testing.T) {
	f := MustFixture(t, nil)
	a := f.enrol("alice")
	for round := range 5 {
		o, d := f.order(1000)
		ans, err := a.Get(f.begin("alice", o, d).GetChallengeData(), d)
		if err != nil {
			t.Fatal(err)
		}
		const n = 8
		results := make(chan *pb.FinishMutualAuthResponse, n)
		var wg sync.WaitGroup
		for range n {
			wg.Go(func() {
				res, err := f.p.FinishMutualAuth(f.ctx, &pb.FinishMutualAuthRequest{InstanceId: "iss", Order: o, OrderDigest: d, PayerRef: "alice", PayerData: ans})
				if err != nil {
					t.Error(err)
				}
				results <- res
			})
		}
		wg.Wait()
		close(results)
		approved := 0
		for res := range results {
			if res.GetVerdict() == pb.Verdict_VERDICT_APPROVED {
				approved++
			} else if res.GetDeclineCode() != sdk.DeclineReplay {
				t.Errorf("round %d: decline %q, want replay", round, res.GetDeclineCode())
			}
		}
		if approved != 1 {
			t.Fatalf("round %d: %d of %d identical Finishes approved, want 1", round, approved, n)
		}
	}
}

// BenchmarkMutualAuth measures one step C in process, one payment at a
// time, and reports its CPU (cpu-µs/op, all goroutines): Begin, the
// software authenticator's ECDSA signature, and Finish with go-webauthn's
// verification. Begin writes nothing (open challenges live in memory);
// Finish commits one bbolt transaction when the authenticator keeps a sign
// counter ("counter": the new count is stored) and none for a synced
// passkey, whose counter is always 0 ("synced").
func BenchmarkMutualAuth(b *testing.B) {
	for _, synced := range []bool{false, true} {
		name := "counter"
		if synced {
			name = "synced"
		}
		b.Run(name, func(b *testing.B) {
			f := MustFixture(b, nil)
			a, err := passkeytest.New(testOrigin)
			if err != nil {
				b.Fatal(err)
			}
			a.NoCounter = synced
			f.enrolWith("alice", a)
			o, d := f.order(1000)
			b.ReportAllocs()
			done := cpubench.Start(b)
			for range b.N {
				begin, err := f.p.BeginMutualAuth(f.ctx, &pb.BeginMutualAuthRequest{InstanceId: "iss", Order: o, OrderDigest: d, PayerRef: "alice"})
				if err != nil {
					b.Fatal(err)
				}
				ans, err := a.Get(begin.GetChallengeData(), d)
				if err != nil {
					b.Fatal(err)
				}
				res, err := f.p.FinishMutualAuth(f.ctx, &pb.FinishMutualAuthRequest{InstanceId: "iss", Order: o, OrderDigest: d, PayerRef: "alice", PayerData: ans})
				if err != nil || res.GetVerdict() != pb.Verdict_VERDICT_APPROVED {
					b.Fatalf("%v %v", res, err)
				}
			}
			done()
		})
	}
}

// failures reads the payer's stored failure count and lock.
func (f *fixture) failures(payerRef string) payerState {
	f.t.Helper()
	inst, err := f.p.instance("iss")
	if err != nil {
		f.t.Fatal(err)
	}
	st, _, err := inst.payer(payerRef)
	if err != nil {
		f.t.Fatal(err)
	}
	return st
}

func (f *fixture) beginEnrol(payerRef string, payerData []byte) ([]byte, error) {
	b, err := f.p.BeginEnrollment(f.ctx, &pb.BeginEnrollmentRequest{InstanceId: "iss", PayerRef: payerRef, PayerData: payerData})
	return b.GetChallengeData(), err
}

// wantRefused checks err is FailedPrecondition starting with code and
// does not echo the code the payer typed.
func wantRefused(t *testing.T, err error, code, typed string) {
	t.Helper()
	if !errors.Is(err, sdk.ErrFailedPrecondition) || !strings.Contains(err.Error(), "passkey: "+code+":") {
		t.Fatalf("BeginEnrollment = %v, want failed_precondition %q", err, code)
	}
	if typed != "" && strings.Contains(err.Error(), typed) {
		t.Fatalf("the error echoes the code: %v", err)
	}
}

func TestEnrollmentCode(t *testing.T) {
	t.Run("right code enrols, and the passkey pays", func(t *testing.T) {
		f := MustFixture(t, nil)
		f.wantApproved(f.pay("alice", f.enrol("alice")))
	})
	t.Run("wrong code declines auth_failed and counts; a right code clears the count", func(t *testing.T) {
		f := MustFixture(t, nil)
		for i := 1; i < DefaultMaxFailures; i++ {
			_, err := f.beginEnrol("alice", codeData("ALICE-7Q2M-K9XE"))
			wantRefused(t, err, sdk.DeclineAuthFailed, "ALICE-7Q2M-K9XE")
			if st := f.failures("alice"); st.Failures != i || st.Locked {
				t.Fatalf("after %d wrong codes the state is %+v", i, st)
			}
		}
		// Another payer's code is a wrong code too.
		_, err := f.beginEnrol("bob", codeData(testCodes["alice"]))
		wantRefused(t, err, sdk.DeclineAuthFailed, testCodes["alice"])
		if _, err := f.beginEnrol("alice", codeData(testCodes["alice"])); err != nil {
			t.Fatalf("right code after %d wrong ones: %v", DefaultMaxFailures-1, err)
		}
		if st := f.failures("alice"); st != (payerState{}) {
			t.Fatalf("a right code left %+v", st)
		}
		f.enrol("alice")
	})
	t.Run("max_failures wrong codes lock the payer, across a restart", func(t *testing.T) {
		f := MustFixture(t, nil)
		// An enrolment opened with the right code before the lock is
		// closed by it.
		open, err := f.beginEnrol("bob", codeData(testCodes["bob"]))
		if err != nil {
			t.Fatal(err)
		}
		for i := 1; i <= DefaultMaxFailures; i++ {
			_, err := f.beginEnrol("bob", codeData(fmt.Sprintf("guess-%d", i)))
			want := sdk.DeclineAuthFailed
			if i == DefaultMaxFailures {
				want = sdk.DeclineLocked
			}
			wantRefused(t, err, want, "guess-")
		}
		f.restart()
		_, err = f.beginEnrol("bob", codeData(testCodes["bob"]))
		wantRefused(t, err, sdk.DeclineLocked, "")
		a, _ := passkeytest.New(testOrigin)
		cred, err := a.Create(open)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.p.FinishEnrollment(f.ctx, &pb.FinishEnrollmentRequest{InstanceId: "iss", PayerRef: "bob", PayerData: cred}); !errors.Is(err, sdk.ErrFailedPrecondition) {
			t.Fatalf("FinishEnrollment of an enrolment opened before the lock = %v, want failed_precondition", err)
		}
		o, d := f.order(1000)
		if b := f.begin("bob", o, d); b.GetDeclineCode() != sdk.DeclineLocked {
			t.Fatalf("step C of a payer locked by wrong codes: %v", b)
		}
		// Alice is not affected.
		f.enrol("alice")
	})
	t.Run("a payer without a code cannot enrol", func(t *testing.T) {
		f := MustFixture(t, nil)
		for _, code := range []string{"anything", testCodes["alice"]} {
			_, err := f.beginEnrol("dave", codeData(code))
			wantRefused(t, err, DeclineNoEnrollmentCode, code)
		}
		if st := f.failures("dave"); st != (payerState{}) {
			t.Fatalf("refusal wrote %+v", st)
		}
	})
	t.Run("a payer with a passkey is refused before the code is checked", func(t *testing.T) {
		f := MustFixture(t, nil)
		f.enrol("alice")
		_, err := f.beginEnrol("alice", codeData("wrong"))
		if !errors.Is(err, sdk.ErrFailedPrecondition) || strings.Contains(err.Error(), sdk.DeclineAuthFailed) {
			t.Fatalf("BeginEnrollment = %v, want already enrolled", err)
		}
		if st := f.failures("alice"); st != (payerState{}) {
			t.Fatalf("refusal counted: %+v", st)
		}
	})
}

// TestEnrollmentPayerData: malformed payer_data is INVALID_ARGUMENT and
// changes nothing: no failure is counted, an open enrolment stays open.
func TestEnrollmentPayerData(t *testing.T) {
	f := MustFixture(t, nil)
	if _, err := f.beginEnrol("alice", codeData("wrong")); err == nil {
		t.Fatal("wrong code accepted")
	}
	open, err := f.beginEnrol("bob", codeData(testCodes["bob"]))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		data string
	}{
		{"nothing", ""},
		{"empty object", `{}`},
		{"null", `null`},
		{"other field", `{"x": 1}`},
		{"extra field", `{"enrollment_code": "bob-code-4411", "x": 1}`},
		{"empty code", `{"enrollment_code": ""}`},
		{"number", `{"enrollment_code": 4411}`},
		{"array", `["bob-code-4411"]`},
		{"two objects", `{"enrollment_code": "bob-code-4411"} {}`},
		{"stray bracket", `{"enrollment_code": "bob-code-4411"}]`},
		{"not JSON", `bob-code-4411`},
		{"too long", `{"enrollment_code": "` + strings.Repeat("x", MaxEnrollmentCodeLen+1) + `"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, ref := range []string{"alice", "bob", "dave"} {
				_, err := f.beginEnrol(ref, []byte(tt.data))
				if !errors.Is(err, sdk.ErrInvalidArgument) {
					t.Fatalf("%s: BeginEnrollment(%q) = %v, want invalid_argument", ref, tt.data, err)
				}
				if strings.Contains(err.Error(), "bob-code-4411") {
					t.Fatalf("the error echoes the code: %v", err)
				}
			}
		})
	}
	if st := f.failures("alice"); st.Failures != 1 {
		t.Fatalf("malformed payer_data changed the count: %+v", st)
	}
	// bob's enrolment is still open.
	a, _ := passkeytest.New(testOrigin)
	cred, err := a.Create(open)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.p.FinishEnrollment(f.ctx, &pb.FinishEnrollmentRequest{InstanceId: "iss", PayerRef: "bob", PayerData: cred}); err != nil {
		t.Fatalf("FinishEnrollment after malformed Begins: %v", err)
	}
}
