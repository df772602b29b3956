package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/switchd/switchd/config"
	"github.com/switchd/switchd/plugins/card/cardplugin"
	"github.com/switchd/switchd/plugins/merchantsig/merchantsigplugin"
	"github.com/switchd/switchd/plugins/ocra/ocraplugin"
	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
	"github.com/switchd/switchd/plugins/sdk"
	"github.com/switchd/switchd/plugins/sdk/order"
	"github.com/switchd/switchd/switchd/wallet"
)

// TestNetworkConfig decodes an HCL network with the real config loader
// against the plugins' own schemas, configures the plugins with the JSON
// the loader produces, and runs steps B and C with it.
func TestNetworkConfig(t *testing.T) {
	seed := bytes.Repeat([]byte{0x31}, 32)
	alice := bytes.Repeat([]byte{0xA1}, 32)
	bob := bytes.Repeat([]byte{0xB2}, 32)
	t.Setenv("OCRA_TEST_ATTESTATION_SEED", hex.EncodeToString(seed))
	t.Setenv("OCRA_TEST_ALICE_KEY", hex.EncodeToString(alice))
	t.Setenv("OCRA_TEST_BOB_KEY", hex.EncodeToString(bob))
	t.Setenv("OCRA_TEST_CARD_TOKEN_KEY", hex.EncodeToString(bytes.Repeat([]byte{0xC0}, 32)))
	t.Setenv("OCRA_TEST_WHSEC", "whsec_"+strings.Repeat("A", 44))
	ctx := context.Background()

	ocra, msig, card := ocraplugin.New(), merchantsigplugin.New(), cardplugin.New()
	t.Cleanup(func() { _ = ocra.Close(); _ = msig.Close() })
	infos := map[string]*pb.GetInfoResponse{}
	for name, p := range map[string]sdk.Plugin{"ocra": ocra, "merchantsig": msig, "card": card} {
		info, err := p.GetInfo(ctx, &pb.GetInfoRequest{})
		if err != nil {
			t.Fatal(err)
		}
		infos[name] = info
	}
	files, diags := config.Parse("testdata/network")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	n, diags := files.Decode(infos)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	bank := n.Institutions["bank_a"]
	if bank.PayerAuth == nil || bank.SellerAuth == nil {
		t.Fatalf("authenticators not picked by capability: payer %v, seller %v", bank.PayerAuth, bank.SellerAuth)
	}
	info := &pb.InstitutionInfo{Id: "bank_a", Roles: bank.Roles}
	for _, u := range []struct {
		p   sdk.Plugin
		use *config.PluginUse
	}{{ocra, bank.PayerAuth}, {msig, bank.SellerAuth}} {
		if h, ok := u.p.(sdk.StateHolder); ok { // merchantsig keeps its state in the host (host_state): load it empty
			if err := h.LoadState(ctx, "bank_a", nil); err != nil {
				t.Fatalf("LoadState %s: %v", u.use.Plugin, err)
			}
		}
		res, err := u.p.Configure(ctx, &pb.ConfigureRequest{InstanceId: "bank_a", Kind: pb.Kind_KIND_AUTHENTICATOR,
			ConfigJson: u.use.ConfigJSON, DataDir: t.TempDir(), Institution: info})
		if err != nil || len(res.GetDiagnostics()) != 0 {
			t.Fatalf("Configure %s with %s: %v %v", u.use.Plugin, u.use.ConfigJSON, err, res.GetDiagnostics())
		}
	}

	o := &pb.Order{PaymentId: "pay-1", MerchantId: "coffee_shop", AcquirerId: "bank_a", IssuerId: "bank_a", AmountMinor: 350,
		Currency: "EUR", Method: pb.Method_METHOD_CARD, OrderRef: "latte", ExpiresAtUnix: time.Now().Add(time.Hour).Unix()}
	d := order.Digest(o)
	ms := time.Now().UnixMilli()
	shop := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{0x21}, 32))
	b, err := msig.AuthenticateSeller(ctx, &pb.AuthenticateSellerRequest{InstanceId: "bank_a", Order: o, OrderDigest: d[:],
		SellerKeyId: "shop-key-1", SignedAtUnixMs: ms, SellerSignature: ed25519.Sign(shop, order.SellerMessage(order.TermsDigest(o), ms))})
	if err != nil || b.GetVerdict() != pb.Verdict_VERDICT_APPROVED {
		t.Fatalf("step B: %v %v", b, err)
	}

	for ref, w := range map[string]*wallet.OCRA{"alice": {Key: alice}, "bob": {Key: bob, Suite: "OCRA-1:HOTP-SHA512-8:QN10"}} {
		w.Begin()
		begin, err := ocra.BeginMutualAuth(ctx, &pb.BeginMutualAuthRequest{InstanceId: "bank_a", Order: o, OrderDigest: d[:], PayerRef: ref, PayerData: w.BeginPayerData()})
		if err != nil {
			t.Fatal(err)
		}
		answer, err := w.Answer(begin.GetChallengeData(), d[:])
		if err != nil {
			t.Fatalf("%s's wallet: %v", ref, err)
		}
		fin, err := ocra.FinishMutualAuth(ctx, &pb.FinishMutualAuthRequest{InstanceId: "bank_a", Order: o, OrderDigest: d[:], PayerRef: ref, PayerData: answer})
		if err != nil || fin.GetVerdict() != pb.Verdict_VERDICT_APPROVED {
			t.Fatalf("step C for %s: %v %v", ref, fin, err)
		}
	}
}
