package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/switchd/switchd/internal/testbin"
	"github.com/switchd/switchd/plugins/passkey/passkeyplugin"
	"github.com/switchd/switchd/plugins/passkey/passkeytest"
	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
	"github.com/switchd/switchd/plugins/sdk"
	"github.com/switchd/switchd/plugins/sdk/order"
)

// TestSubprocess runs enrolment and step C against the real plugin binary,
// with the software authenticator playing the payer's phone.
func TestSubprocess(t *testing.T) {
	bin := testbin.MustBuild(t, "./plugins/passkey")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	seed := bytes.Repeat([]byte{0xC3}, 32)
	// The activation codes the issuer gave its payers; the config holds
	// only their SHA-256.
	codes := map[string]string{"alice": "K7QM-2XDA-99PL", "bob": "bob-activation-5150"}
	const wrongCode = "K7QM-2XDA-99PK"
	codeHash := func(code string) string { h := sha256.Sum256([]byte(code)); return hex.EncodeToString(h[:]) }
	codeData := func(code string) []byte { b, _ := json.Marshal(map[string]string{"enrollment_code": code}); return b }
	cfg, _ := json.Marshal(map[string]any{
		"rp_id":              "pay.example.com",
		"rp_display_name":    "Issuer Bank",
		"rp_origins":         []string{"https://pay.example.com"},
		"attestation_key":    base64.StdEncoding.EncodeToString(seed),
		"attestation_key_id": "iss-k",
		"payer": []any{
			map[string]any{"id": "alice", "display_name": "Alice", "enrollment_code_sha256": codeHash(codes["alice"])},
			map[string]any{"id": "bob", "enrollment_code_sha256": codeHash(codes["bob"])},
		},
	})
	dataDir := t.TempDir()
	var responses [][]byte
	keep := func(m proto.Message) {
		b, _ := proto.Marshal(m)
		responses = append(responses, b)
	}
	configure := func(c *sdk.Client) *pb.ConfigureResponse {
		t.Helper()
		res, err := c.Configure(ctx, &pb.ConfigureRequest{InstanceId: "iss", Kind: pb.Kind_KIND_AUTHENTICATOR, ConfigJson: cfg, DataDir: dataDir,
			Institution: &pb.InstitutionInfo{Id: "iss", Roles: []string{"issuer"}}})
		if err != nil || sdk.HasErrors(res.GetDiagnostics()) {
			t.Fatalf("Configure: %v %v", err, res.GetDiagnostics())
		}
		keep(res)
		return res
	}
	seq := 0
	newOrder := func(amount int64) (*pb.Order, []byte) {
		seq++
		o := &pb.Order{PaymentId: "pay-" + string(rune('0'+seq)), MerchantId: "shop", AcquirerId: "acq", IssuerId: "iss", AmountMinor: amount,
			Currency: "EUR", Method: pb.Method_METHOD_CARD, OrderRef: "R", ExpiresAtUnix: time.Now().Add(time.Hour).Unix()}
		d := order.Digest(o)
		return o, d[:]
	}
	enrol := func(c *sdk.Client, ref string) *passkeytest.Authenticator {
		t.Helper()
		a, err := passkeytest.New("https://pay.example.com")
		if err != nil {
			t.Fatal(err)
		}
		b, err := c.BeginEnrollment(ctx, &pb.BeginEnrollmentRequest{InstanceId: "iss", PayerRef: ref, PayerData: codeData(codes[ref])})
		if err != nil {
			t.Fatalf("BeginEnrollment: %v", err)
		}
		keep(b)
		cred, err := a.Create(b.GetChallengeData())
		if err != nil {
			t.Fatal(err)
		}
		res, err := c.FinishEnrollment(ctx, &pb.FinishEnrollmentRequest{InstanceId: "iss", PayerRef: ref, PayerData: cred})
		if err != nil {
			t.Fatalf("FinishEnrollment: %v", err)
		}
		keep(res)
		return a
	}
	begin := func(c *sdk.Client, ref string, o *pb.Order, d []byte) *pb.BeginMutualAuthResponse {
		t.Helper()
		res, err := c.BeginMutualAuth(ctx, &pb.BeginMutualAuthRequest{InstanceId: "iss", Order: o, OrderDigest: d, PayerRef: ref, PayerData: []byte("{}")})
		if err != nil {
			t.Fatalf("Begin: %v", err)
		}
		keep(res)
		return res
	}
	finish := func(c *sdk.Client, ref string, o *pb.Order, d, payerData []byte) *pb.FinishMutualAuthResponse {
		t.Helper()
		res, err := c.FinishMutualAuth(ctx, &pb.FinishMutualAuthRequest{InstanceId: "iss", Order: o, OrderDigest: d, PayerRef: ref, PayerData: payerData})
		if err != nil {
			t.Fatalf("Finish: %v", err)
		}
		keep(res)
		return res
	}

	p := testbin.LaunchPlugin(t, bin, testbin.WithHostLogs())
	c := p.Client
	info, err := c.GetInfo(ctx, &pb.GetInfoRequest{})
	if err != nil || info.GetName() != passkeyplugin.Name {
		t.Fatalf("GetInfo: %v %v", info, err)
	}
	conf := configure(c)
	pub := conf.GetAttestationKeys()[0].GetEd25519()

	// Not enrolled yet.
	o, d := newOrder(1000)
	if b := begin(c, "alice", o, d); b.GetDeclineCode() != passkeyplugin.DeclineUnknownPayer {
		t.Fatalf("Begin before enrolment: %v", b)
	}
	// A wrong activation code is refused (and counted; the right one
	// below clears the count).
	if _, err := c.BeginEnrollment(ctx, &pb.BeginEnrollmentRequest{InstanceId: "iss", PayerRef: "alice", PayerData: codeData(wrongCode)}); !errors.Is(err, sdk.ErrFailedPrecondition) ||
		!strings.Contains(err.Error(), sdk.DeclineAuthFailed) {
		t.Fatalf("BeginEnrollment with a wrong code: %v", err)
	}
	// Enrol, then pay.
	alice := enrol(c, "alice")
	b := begin(c, "alice", o, d)
	ans, err := alice.Get(b.GetChallengeData(), d)
	if err != nil {
		t.Fatalf("the payer's page refused the real issuer's challenge: %v", err)
	}
	res := finish(c, "alice", o, d, ans)
	if res.GetVerdict() != pb.Verdict_VERDICT_APPROVED ||
		!ed25519.Verify(pub, order.AttestationMessage("C", "iss", d), res.GetAttestation().GetSignature()) {
		t.Fatalf("Finish: %v", res)
	}
	if r := finish(c, "alice", o, d, ans); r.GetDeclineCode() != sdk.DeclineReplay {
		t.Fatalf("replayed assertion: %v", r)
	}
	// An assertion for order X does not pay order Y with another amount.
	x, dx := newOrder(1000)
	ansX, err := alice.Get(begin(c, "alice", x, dx).GetChallengeData(), dx)
	if err != nil {
		t.Fatal(err)
	}
	y := proto.Clone(x).(*pb.Order)
	y.AmountMinor = 100000
	dy := order.Digest(y)
	if r := finish(c, "alice", y, dy[:], ansX); r.GetDeclineCode() != sdk.DeclineAuthFailed {
		t.Fatalf("X's assertion for Y: %v", r)
	}
	// The SDK refuses a digest that is not the order's before the plugin runs.
	if _, err := c.FinishMutualAuth(ctx, &pb.FinishMutualAuthRequest{InstanceId: "iss", Order: y, OrderDigest: dx, PayerRef: "alice", PayerData: ansX}); !errors.Is(err, sdk.ErrInvalidArgument) {
		t.Fatalf("bad digest: %v", err)
	}

	// Four more failures (five in a row with the one above) lock alice.
	mallory, _ := passkeytest.New("https://pay.example.com")
	mallory.CredentialID, mallory.RPID, mallory.UserHandle = alice.CredentialID, alice.RPID, alice.UserHandle
	for i := range 4 {
		o, d := newOrder(1000)
		ans, err := mallory.Get(begin(c, "alice", o, d).GetChallengeData(), d)
		if err != nil {
			t.Fatal(err)
		}
		if r := finish(c, "alice", o, d, ans); r.GetDeclineCode() != sdk.DeclineAuthFailed {
			t.Fatalf("wrong key %d: %v", i, r)
		}
	}
	// Restart: the credential and the lock survive.
	c = p.Restart()
	configure(c)
	o, d = newOrder(1000)
	if b := begin(c, "alice", o, d); b.GetDeclineCode() != sdk.DeclineLocked {
		t.Fatalf("Begin after lockout and restart: %v", b)
	}
	bob := enrol(c, "bob")
	o, d = newOrder(1000)
	ans, err = bob.Get(begin(c, "bob", o, d).GetChallengeData(), d)
	if err != nil {
		t.Fatal(err)
	}
	if r := finish(c, "bob", o, d, ans); r.GetVerdict() != pb.Verdict_VERDICT_APPROVED {
		t.Fatalf("bob: %v", r)
	}

	t.Run("no key material or activation code in logs, database or responses", func(t *testing.T) {
		db, err := os.ReadFile(filepath.Join(dataDir, passkeyplugin.StateFile))
		if err != nil {
			t.Fatal(err)
		}
		secrets := map[string][]byte{}
		keys := map[string][]byte{"attestation seed": seed, "attestation private key": ed25519.NewKeyFromSeed(seed)}
		for ref, code := range codes {
			secrets[ref+"'s activation code"] = []byte(code)
			h := sha256.Sum256([]byte(code))
			keys[ref+"'s activation code hash"] = h[:]
		}
		secrets["a wrong activation code"] = []byte(wrongCode)
		for name, k := range keys {
			secrets["raw "+name] = k
			secrets["hex "+name] = []byte(hex.EncodeToString(k))
			secrets["base64 "+name] = []byte(base64.StdEncoding.EncodeToString(k))
			secrets["base64url "+name] = []byte(base64.RawURLEncoding.EncodeToString(k))
		}
		places := map[string][]byte{"logs": p.Logs.Bytes(), "database": db, "responses": bytes.Join(responses, nil)}
		if !bytes.Contains(places["logs"], []byte("passkey: payer authenticated")) {
			t.Fatal("plugin logs were not captured; the scan would prove nothing")
		}
		if !bytes.Contains(db, []byte(base64.StdEncoding.EncodeToString(alice.CredentialID))) {
			t.Fatal("the database does not hold alice's credential; the scan would prove nothing")
		}
		for pn, place := range places {
			for sn, s := range secrets {
				if bytes.Contains(place, s) {
					t.Errorf("%s contain %s", pn, sn)
				}
			}
		}
	})
}

// TestUnlockCommand: the binary runs the operator's unlock command (shared
// with ocra, tested in authkit) instead of serving when asked to.
func TestUnlockCommand(t *testing.T) {
	bin := testbin.MustBuild(t, "./plugins/passkey")
	out, err := exec.Command(bin, "unlock").CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 2 || !strings.Contains(string(out), "usage: passkey unlock") {
		t.Fatalf("unlock without arguments: %v\n%s", err, out)
	}
	out, err = exec.Command(bin, "unlock", "--data-dir", t.TempDir(), "--institution", "bank_b", "bob").CombinedOutput()
	if !errors.As(err, &exit) || exit.ExitCode() != 1 || !strings.Contains(string(out), "passkey.db") {
		t.Fatalf("unlock without a state file: %v\n%s", err, out)
	}
}
