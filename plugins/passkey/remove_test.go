package main

import (
	"bytes"
	"context"
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

	bolt "go.etcd.io/bbolt"

	"github.com/switchd/switchd/internal/testbin"
	"github.com/switchd/switchd/plugins/passkey/passkeyplugin"
	"github.com/switchd/switchd/plugins/passkey/passkeytest"
	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
	"github.com/switchd/switchd/plugins/sdk"
	"github.com/switchd/switchd/plugins/sdk/order"
)

// issuer runs the passkey plugin in-process for institution "iss" over
// switchd's layout of a data dir, DATA/plugins/passkey/iss/passkey.db, as
// the daemon would run it.
type issuer struct {
	t     *testing.T
	p     *passkeyplugin.Plugin
	dir   string // the instance's data dir
	codes map[string]string
}

func startIssuer(t *testing.T, dataDir string) *issuer {
	t.Helper()
	is := &issuer{t: t, dir: filepath.Join(dataDir, "plugins", "passkey", "iss"),
		codes: map[string]string{"alice": "ALICE-7Q2M-K9XD-3WPL", "bob": "BOB-H4TN-2XDA-99PL"}}
	if err := os.MkdirAll(is.dir, 0o700); err != nil {
		t.Fatal(err)
	}
	is.start()
	return is
}

func (is *issuer) start() {
	is.t.Helper()
	var payers []any
	for ref, code := range is.codes {
		h := sha256.Sum256([]byte(code))
		payers = append(payers, map[string]any{"id": ref, "enrollment_code_sha256": hex.EncodeToString(h[:])})
	}
	cfg, _ := json.Marshal(map[string]any{
		"rp_id": "pay.example.com", "rp_display_name": "Issuer Bank", "rp_origins": []string{"https://pay.example.com"},
		"attestation_key": base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32)), "attestation_key_id": "iss-k",
		"max_failures": 1, "payer": payers,
	})
	is.p = passkeyplugin.New()
	p := is.p
	is.t.Cleanup(func() { _ = p.Close() })
	res, err := is.p.Configure(context.Background(), &pb.ConfigureRequest{InstanceId: "iss", Kind: pb.Kind_KIND_AUTHENTICATOR, ConfigJson: cfg, DataDir: is.dir,
		Institution: &pb.InstitutionInfo{Id: "iss", Roles: []string{"issuer"}}})
	if err != nil || sdk.HasErrors(res.GetDiagnostics()) {
		is.t.Fatalf("Configure: %v %v", err, res.GetDiagnostics())
	}
}

func (is *issuer) stop() {
	is.t.Helper()
	if err := is.p.Close(); err != nil {
		is.t.Fatal(err)
	}
}

// enrol enrols a new software passkey for payerRef with the activation
// code; it returns the error of the first call that failed.
func (is *issuer) enrol(payerRef string) (*passkeytest.Authenticator, error) {
	ctx := context.Background()
	a, err := passkeytest.New("https://pay.example.com")
	if err != nil {
		is.t.Fatal(err)
	}
	code, _ := json.Marshal(map[string]string{"enrollment_code": is.codes[payerRef]})
	b, err := is.p.BeginEnrollment(ctx, &pb.BeginEnrollmentRequest{InstanceId: "iss", PayerRef: payerRef, PayerData: code})
	if err != nil {
		return nil, err
	}
	cred, err := a.Create(b.GetChallengeData())
	if err != nil {
		is.t.Fatal(err)
	}
	_, err = is.p.FinishEnrollment(ctx, &pb.FinishEnrollmentRequest{InstanceId: "iss", PayerRef: payerRef, PayerData: cred})
	return a, err
}

// lock makes a wrong key answer payerRef's step-C challenge once, which
// locks the payer (max_failures is 1).
func (is *issuer) lock(payerRef string, a *passkeytest.Authenticator) {
	is.t.Helper()
	ctx := context.Background()
	o := &pb.Order{PaymentId: "pay-1", MerchantId: "shop", AcquirerId: "acq", IssuerId: "iss", AmountMinor: 1000,
		Currency: "EUR", Method: pb.Method_METHOD_CARD, OrderRef: "R", ExpiresAtUnix: time.Now().Add(time.Hour).Unix()}
	d := order.Digest(o)
	b, err := is.p.BeginMutualAuth(ctx, &pb.BeginMutualAuthRequest{InstanceId: "iss", Order: o, OrderDigest: d[:], PayerRef: payerRef, PayerData: []byte("{}")})
	if err != nil {
		is.t.Fatal(err)
	}
	thief, err := passkeytest.New("https://pay.example.com")
	if err != nil {
		is.t.Fatal(err)
	}
	thief.CredentialID, thief.RPID, thief.UserHandle = a.CredentialID, a.RPID, a.UserHandle
	ans, err := thief.Get(b.GetChallengeData(), d[:])
	if err != nil {
		is.t.Fatal(err)
	}
	res, err := is.p.FinishMutualAuth(ctx, &pb.FinishMutualAuthRequest{InstanceId: "iss", Order: o, OrderDigest: d[:], PayerRef: payerRef, PayerData: ans})
	if err != nil || res.GetVerdict() != pb.Verdict_VERDICT_DECLINED {
		is.t.Fatalf("a wrong key's assertion: %v %v", res, err)
	}
}

// TestRemoveCommand runs the binary's remove command on a passkey.db the
// plugin wrote, then checks with the plugin that the payer can enrol
// again.
func TestRemoveCommand(t *testing.T) {
	bin := testbin.MustBuild(t, "./plugins/passkey")
	data := t.TempDir()
	is := startIssuer(t, data)
	alice, err := is.enrol("alice")
	if err != nil {
		t.Fatal(err)
	}
	bob, err := is.enrol("bob")
	if err != nil {
		t.Fatal(err)
	}
	is.lock("bob", bob)
	is.stop()
	path := filepath.Join(is.dir, passkeyplugin.StateFile)
	aliceID := base64.RawURLEncoding.EncodeToString(alice.CredentialID)
	bobID := base64.RawURLEncoding.EncodeToString(bob.CredentialID)

	for _, tc := range []struct {
		name       string
		args       []string
		hold       bool // the test holds passkey.db open, as a running plugin does
		code       int
		want       []string // in the output
		notWant    []string
		notCreated string
	}{
		{name: "no arguments", code: 2, want: []string{"usage: passkey remove --data-dir DIR --institution ID [--plugin NAME] PAYER_REF", "Stop switchd first"}},
		{name: "no payer", args: []string{"--data-dir", data, "--institution", "iss"}, code: 2, want: []string{"usage: passkey remove"}},
		{name: "unknown flag", args: []string{"--data-dir", data, "--institution", "iss", "--all", "alice"}, code: 2, want: []string{"flag provided but not defined: -all"}},
		{name: "file missing", args: []string{"--data-dir", data, "--institution", "bank_z", "alice"}, code: 1,
			want:       []string{"passkey remove: passkey: nothing removed:", filepath.Join(data, "plugins", "passkey", "bank_z", "passkey.db"), "no such file"},
			notCreated: filepath.Join(data, "plugins", "passkey", "bank_z")},
		{name: "file in use", args: []string{"--data-dir", data, "--institution", "iss", "alice"}, hold: true, code: 1,
			want: []string{path + " is in use: stop switchd first"}},
		{name: "removed", args: []string{"--data-dir", data, "--institution", "iss", "alice"}, code: 0,
			want: []string{"alice at iss: removed 1 passkey credential(s): " + aliceID + "\n"}, notWant: []string{"locked", bobID}},
		{name: "removed again: nothing stored", args: []string{"--data-dir", data, "--institution", "iss", "alice"}, code: 0,
			want: []string{"alice at iss had no passkey and no open enrolment stored; nothing changed\n"}, notWant: []string{aliceID}},
		{name: "never enrolled", args: []string{"--data-dir", data, "--institution", "iss", "carol"}, code: 0,
			want: []string{"carol at iss had no passkey and no open enrolment stored; nothing changed\n"}},
		{name: "removed, locked payer", args: []string{"--institution", "iss", "--data-dir", data, "--plugin", "passkey", "bob"}, code: 0,
			want: []string{"bob at iss: removed 1 passkey credential(s): " + bobID + "\n", "bob at iss is still locked (1 failures): remove does not clear a lock"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.hold {
				db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
				if err != nil {
					t.Fatal(err)
				}
				defer db.Close()
			}
			out, err := exec.Command(bin, append([]string{"remove"}, tc.args...)...).CombinedOutput()
			code := 0
			var exit *exec.ExitError
			if errors.As(err, &exit) {
				code = exit.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tc.code {
				t.Fatalf("exit %d, want %d\n%s", code, tc.code, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			for _, w := range tc.notWant {
				if strings.Contains(string(out), w) {
					t.Errorf("output has %q:\n%s", w, out)
				}
			}
			if tc.notCreated != "" {
				if _, err := os.Stat(tc.notCreated); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("remove created %s", tc.notCreated)
				}
			}
		})
	}

	// The plugin, restarted on the file the command changed: alice
	// enrols a new passkey with her activation code, and the old one is
	// no longer hers. Bob's lock stays until he is unlocked.
	is.start()
	phone, err := is.enrol("alice")
	if err != nil {
		t.Fatalf("alice cannot enrol again after remove: %v", err)
	}
	if bytes.Equal(phone.UserHandle, alice.UserHandle) {
		t.Error("alice's new passkey has the old user handle")
	}
	if _, err := is.enrol("bob"); !errors.Is(err, sdk.ErrFailedPrecondition) || !strings.Contains(err.Error(), sdk.DeclineLocked) {
		t.Fatalf("bob enrols while locked: %v", err)
	}
	is.stop()
	if out, err := exec.Command(bin, "unlock", "--data-dir", data, "--institution", "iss", "bob").CombinedOutput(); err != nil {
		t.Fatalf("unlock bob: %v\n%s", err, out)
	}
	is.start()
	if _, err := is.enrol("bob"); err != nil {
		t.Fatalf("bob cannot enrol after remove and unlock: %v", err)
	}
}
