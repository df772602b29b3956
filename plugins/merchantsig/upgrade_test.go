package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/switchd/switchd/internal/testbin"
	"github.com/switchd/switchd/plugins/merchantsig/merchantsigplugin"
	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
	"github.com/switchd/switchd/plugins/sdk"
)

// TestSubprocessUpgrade starts the binary on a state file written in the
// layout of version 1.0.0 ("sigs": sha256(signature) -> JSON, "expiry":
// expires ms || sha256(signature)): the signature approved before the
// upgrade is still refused for another payment, and approved again for
// its own, before and after a restart.
func TestSubprocessUpgrade(t *testing.T) {
	bin := testbin.MustBuild(t, "./plugins/merchantsig")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	seller := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{0x12}, 32))
	cfg := sellerConfig(0xC4, seller)
	o := &pb.Order{PaymentId: "pay-old", MerchantId: "shop", AcquirerId: "acq", IssuerId: "iss", AmountMinor: 700,
		Currency: "EUR", Method: pb.Method_METHOD_CARD, OrderRef: "R7", ExpiresAtUnix: time.Now().Add(time.Hour).Unix()}
	ms := time.Now().Add(-time.Second).UnixMilli()
	req, replay := signedRequests(seller, o, ms, "pay-new")

	dataDir := t.TempDir()
	db, err := bolt.Open(filepath.Join(dataDir, merchantsigplugin.StateFile), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		b, _ := tx.CreateBucket([]byte("acq"))
		sigs, _ := b.CreateBucket([]byte("sigs"))
		exp, err := b.CreateBucket([]byte("expiry"))
		if err != nil {
			return err
		}
		sum := sha256.Sum256(req.SellerSignature)
		expires := ms + merchantsigplugin.DefaultReplayWindow.Milliseconds()
		rec, _ := json.Marshal(map[string]any{"payment_id": "pay-old", "merchant_id": "shop", "expires_ms": expires})
		if err := sigs.Put(sum[:], rec); err != nil {
			return err
		}
		return exp.Put(append(binary.BigEndian.AppendUint64(nil, uint64(expires)), sum[:]...), nil)
	}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	p := testbin.LaunchPlugin(t, bin)
	c := p.Client
	for i := range 2 {
		if i == 1 {
			c = p.Restart()
		}
		res, err := c.Configure(ctx, &pb.ConfigureRequest{InstanceId: "acq", Kind: pb.Kind_KIND_AUTHENTICATOR, ConfigJson: cfg,
			DataDir: dataDir, Institution: &pb.InstitutionInfo{Id: "acq", Roles: []string{"acquirer"}}})
		if err != nil || sdk.HasErrors(res.GetDiagnostics()) {
			t.Fatalf("Configure: %v %v", err, res.GetDiagnostics())
		}
		if r, err := c.AuthenticateSeller(ctx, replay); err != nil || r.GetDeclineCode() != sdk.DeclineReplay {
			t.Fatalf("run %d: replay of a signature approved before the upgrade: %v %v", i, r, err)
		}
		if r, err := c.AuthenticateSeller(ctx, req); err != nil || r.GetVerdict() != pb.Verdict_VERDICT_APPROVED {
			t.Fatalf("run %d: re-ask of the payment approved before the upgrade: %v %v", i, r, err)
		}
	}
}
