package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/switchd/switchd/internal/testbin"
	"github.com/switchd/switchd/plugins/ocra/ocraplugin"
	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
	"github.com/switchd/switchd/plugins/sdk"
	"github.com/switchd/switchd/plugins/sdk/order"
	"github.com/switchd/switchd/switchd/wallet"
)

func TestSubprocess(t *testing.T) {
	bin := testbin.MustBuild(t, "./plugins/ocra")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	seed := bytes.Repeat([]byte{0xE4}, 32)
	aliceKey := bytes.Repeat([]byte{0x9D}, 32)
	bobKey := bytes.Repeat([]byte{0x6F}, 32)
	cfg, _ := json.Marshal(map[string]any{
		"attestation_key":    hex.EncodeToString(seed),
		"attestation_key_id": "iss-k",
		"payer": []any{
			map[string]any{"id": "alice", "key": hex.EncodeToString(aliceKey)},
			map[string]any{"id": "bob", "key": hex.EncodeToString(bobKey), "suite": "OCRA-1:HOTP-SHA512-8:QN08"},
		},
	})
	// The layout switchd gives an institution's plugin state, so that the
	// binary's unlock command finds it: <data-dir>/plugins/<plugin>/<institution>.
	switchdData := t.TempDir()
	dataDir := filepath.Join(switchdData, "plugins", "ocra", "iss")
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		t.Fatal(err)
	}
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
	o := &pb.Order{PaymentId: "pay-1", MerchantId: "shop", AcquirerId: "acq", IssuerId: "iss", AmountMinor: 999, Currency: "EUR",
		Method: pb.Method_METHOD_CARD, OrderRef: "R", ExpiresAtUnix: time.Now().Add(time.Hour).Unix()}
	d := order.Digest(o)
	digest := d[:]
	beginFor := func(c *sdk.Client, payerRef string, w *wallet.OCRA) *pb.BeginMutualAuthResponse {
		t.Helper()
		w.Begin()
		res, err := c.BeginMutualAuth(ctx, &pb.BeginMutualAuthRequest{InstanceId: "iss", Order: o, OrderDigest: digest, PayerRef: payerRef, PayerData: w.BeginPayerData()})
		if err != nil {
			t.Fatalf("Begin: %v", err)
		}
		keep(res)
		return res
	}
	finishWith := func(c *sdk.Client, payerRef string, payerData []byte) *pb.FinishMutualAuthResponse {
		t.Helper()
		res, err := c.FinishMutualAuth(ctx, &pb.FinishMutualAuthRequest{InstanceId: "iss", Order: o, OrderDigest: digest, PayerRef: payerRef, PayerData: payerData})
		if err != nil {
			t.Fatalf("Finish: %v", err)
		}
		keep(res)
		return res
	}

	p := testbin.LaunchPlugin(t, bin, testbin.WithHostLogs())
	c := p.Client
	info, err := c.GetInfo(ctx, &pb.GetInfoRequest{})
	if err != nil || info.GetName() != ocraplugin.Name {
		t.Fatalf("GetInfo: %v %v", info, err)
	}
	conf := configure(c)

	// A full mutual authentication with the payer's wallet.
	alice := &wallet.OCRA{Key: aliceKey}
	b := beginFor(c, "alice", alice)
	answer, err := alice.Answer(b.GetChallengeData(), digest)
	if err != nil {
		t.Fatalf("wallet refused the real issuer: %v", err)
	}
	res := finishWith(c, "alice", answer)
	if res.GetVerdict() != pb.Verdict_VERDICT_APPROVED ||
		!ed25519.Verify(conf.GetAttestationKeys()[0].GetEd25519(), order.AttestationMessage("C", "iss", digest), res.GetAttestation().GetSignature()) {
		t.Fatalf("Finish: %v", res)
	}
	if r := finishWith(c, "alice", answer); r.GetDeclineCode() != sdk.DeclineReplay {
		t.Fatalf("same Finish twice: %v", r)
	}
	// The digest is checked in the SDK before the plugin runs.
	if _, err := c.FinishMutualAuth(ctx, &pb.FinishMutualAuthRequest{InstanceId: "iss", Order: o, OrderDigest: make([]byte, 32), PayerRef: "alice", PayerData: answer}); sdk.CodeOf(err) != sdk.CodeInvalidArgument {
		t.Fatalf("bad digest: %v", err)
	}

	// Five wrong answers from someone without the key lock alice.
	mallory := &wallet.OCRA{Key: bytes.Repeat([]byte{1}, 32)}
	for i := range 5 {
		b := beginFor(c, "alice", mallory)
		if _, err := mallory.Answer(b.GetChallengeData(), digest); err == nil {
			t.Fatal("wallet without the key accepted the issuer's proof")
		}
		if r := finishWith(c, "alice", []byte(`{"client_response":"00000000"}`)); r.GetDeclineCode() != sdk.DeclineAuthFailed {
			t.Fatalf("wrong answer %d: %v", i, r)
		}
	}
	// Restart: the lock survives, even for the right key.
	c = p.Restart()
	configure(c)
	if b := beginFor(c, "alice", alice); b.GetDeclineCode() != sdk.DeclineLocked {
		t.Fatalf("Begin after lockout and restart: %v", b)
	}
	// The operator unlocks alice with the binary's unlock command while
	// the plugin is stopped; while it runs, the command refuses.
	unlock := func() (string, error) {
		out, err := exec.Command(bin, "unlock", "--data-dir", switchdData, "--institution", "iss", "alice").CombinedOutput()
		return string(out), err
	}
	if out, err := unlock(); err == nil || !strings.Contains(out, "stop switchd first") {
		t.Fatalf("unlock while the plugin runs: %v %s", err, out)
	}
	p.Kill()
	if out, err := unlock(); err != nil || !strings.Contains(out, "alice at iss unlocked (was: 5 failures, locked true)") {
		t.Fatalf("unlock: %v %s", err, out)
	}
	c = p.Restart()
	configure(c)
	ab := beginFor(c, "alice", alice)
	if ab.GetVerdict() != pb.Verdict_VERDICT_APPROVED {
		t.Fatalf("Begin after unlock: %v", ab)
	}
	aans, err := alice.Answer(ab.GetChallengeData(), digest)
	if err != nil {
		t.Fatal(err)
	}
	if r := finishWith(c, "alice", aans); r.GetVerdict() != pb.Verdict_VERDICT_APPROVED {
		t.Fatalf("alice after unlock: %v", r)
	}

	// Bob, with a numeric SHA-512 suite, still works.
	bob := &wallet.OCRA{Key: bobKey, Suite: "OCRA-1:HOTP-SHA512-8:QN08"}
	bb := beginFor(c, "bob", bob)
	ans, err := bob.Answer(bb.GetChallengeData(), digest)
	if err != nil {
		t.Fatal(err)
	}
	if r := finishWith(c, "bob", ans); r.GetVerdict() != pb.Verdict_VERDICT_APPROVED {
		t.Fatalf("bob: %v", r)
	}

	t.Run("no key material in logs, database or responses", func(t *testing.T) {
		db, err := os.ReadFile(filepath.Join(dataDir, ocraplugin.StateFile))
		if err != nil {
			t.Fatal(err)
		}
		secrets := map[string][]byte{}
		for name, k := range map[string][]byte{"attestation seed": seed, "attestation private key": ed25519.NewKeyFromSeed(seed), "alice's key": aliceKey, "bob's key": bobKey} {
			secrets["raw "+name] = k
			secrets["hex "+name] = []byte(hex.EncodeToString(k))
			secrets["upper-case hex "+name] = bytes.ToUpper([]byte(hex.EncodeToString(k)))
			secrets["base64 "+name] = []byte(base64.StdEncoding.EncodeToString(k))
		}
		places := map[string][]byte{"logs": p.Logs.Bytes(), "database": db, "responses": bytes.Join(responses, nil)}
		if !bytes.Contains(places["logs"], []byte("ocra: payer authenticated")) {
			t.Fatal("plugin logs were not captured; the scan would prove nothing")
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
