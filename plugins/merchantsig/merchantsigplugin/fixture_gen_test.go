package merchantsigplugin

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
	"github.com/switchd/switchd/plugins/sdk"
	"github.com/switchd/switchd/plugins/sdk/order"
)

// TestWriteFixtures writes testdata/merchantsig-1.0.0.db and
// testdata/merchantsig-1.1.0.db with the code of release 1.1.0. It runs
// only with MERCHANTSIG_WRITE_FIXTURES=1.
func TestWriteFixtures(t *testing.T) {
	if os.Getenv("MERCHANTSIG_WRITE_FIXTURES") != "1" {
		t.Skip("set MERCHANTSIG_WRITE_FIXTURES=1 to write the fixtures")
	}
	legacy := []legacyApproval{
		{signedAtOffset("pay-legacy", -10*time.Second), 300},
		{signedAtOffset("pay-legacy-2", -250*time.Second), 60},
	}
	// 1.0.0: the layout only, as 1.0.0 wrote it.
	dir := t.TempDir()
	mustWriteLegacy(t, dir, legacy...)
	copyFile(t, filepath.Join(dir, StateFile), "testdata/merchantsig-1.0.0.db")

	// 1.1.0: the same 1.0.0 file, opened by 1.1.0 at t0 (legacy records
	// kept, none has expired), which then approved three signatures for
	// instance "acq" and one for instance "acq-b".
	dir = t.TempDir()
	mustWriteLegacy(t, dir, legacy...)
	now := t0
	p, _ := MustPlugin(t, dir, &now)
	for _, r := range []*pb.AuthenticateSellerRequest{
		signedAtOffset("pay-1", -100*time.Second), signedAtOffset("pay-2", 0), signedAtOffset("pay-3", 100*time.Second),
	} {
		if code := mustCall(t, p, r); code != "" {
			t.Fatalf("declined %q", code)
		}
	}
	cfg, _ := json.Marshal(map[string]any{
		"attestation_key": hex.EncodeToString(attSeed), "attestation_key_id": "acq-b-2026",
		"merchant": []any{map[string]any{"id": "shop-1", "key": []any{
			map[string]any{"id": "k1", "public_key": base64.StdEncoding.EncodeToString(sellerKey.Public().(ed25519.PublicKey))}}}},
	})
	res, err := p.Configure(context.Background(), &pb.ConfigureRequest{InstanceId: "acq-b", Kind: pb.Kind_KIND_AUTHENTICATOR,
		ConfigJson: cfg, DataDir: dir, Institution: &pb.InstitutionInfo{Id: "acq-b", Roles: []string{"acquirer"}}})
	if err != nil || sdk.HasErrors(res.GetDiagnostics()) {
		t.Fatal(res, err)
	}
	o := testOrder("pay-b1")
	o.AcquirerId = "acq-b"
	d := order.Digest(o)
	ms := t0.UnixMilli()
	rb := &pb.AuthenticateSellerRequest{InstanceId: "acq-b", Order: o, OrderDigest: d[:], SellerKeyId: "k1",
		SignedAtUnixMs: ms, SellerSignature: ed25519.Sign(sellerKey, order.SellerMessage(order.TermsDigest(o), ms))}
	if code := mustCall(t, p, rb); code != "" {
		t.Fatalf("acq-b declined %q", code)
	}
	if keys, legacy := stateKeys(t, p); len(keys) != 3 || !legacy {
		t.Fatalf("acq: %d records, legacy %v", len(keys), legacy)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	copyFile(t, filepath.Join(dir, StateFile), "testdata/merchantsig-1.1.0.db")
}

func copyFile(t *testing.T, from, to string) {
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
