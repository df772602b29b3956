package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"os/exec"
	"slices"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/protobuf/proto"

	"github.com/switchd/switchd/internal/testbin"
	"github.com/switchd/switchd/plugins/merchantsig/merchantsigplugin"
	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
	"github.com/switchd/switchd/plugins/sdk"
	"github.com/switchd/switchd/plugins/sdk/order"
)

func TestSubprocess(t *testing.T) {
	bin := testbin.MustBuild(t, "./plugins/merchantsig")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	t.Run("wrong checksum is refused", func(t *testing.T) {
		c := plugin.NewClient(&plugin.ClientConfig{
			HandshakeConfig: sdk.Handshake, VersionedPlugins: sdk.VersionedPlugins(nil), Cmd: exec.Command(bin),
			AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC}, AutoMTLS: true,
			SecureConfig: &plugin.SecureConfig{Checksum: make([]byte, 32), Hash: sha256.New()},
			Logger:       hclog.NewNullLogger(),
		})
		defer c.Kill()
		if _, err := c.Client(); err == nil {
			t.Fatal("plugin with a wrong checksum was started")
		}
	})

	seed := bytes.Repeat([]byte{0xC3}, 32)
	seller := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{0x11}, 32))
	cfg := sellerConfig(0xC3, seller)
	dataDir := t.TempDir()
	// host stands in for the switch's records of the instance: it commits
	// each answer's state_writes and loads them into the process before
	// Configure, as the host does.
	host := hostRecords{}
	configure := func(t *testing.T, c *sdk.Client) *pb.ConfigureResponse {
		if err := c.LoadState(ctx, "acq", host.records()); err != nil {
			t.Fatalf("LoadState: %v", err)
		}
		res, err := c.Configure(ctx, &pb.ConfigureRequest{InstanceId: "acq", Kind: pb.Kind_KIND_AUTHENTICATOR, ConfigJson: cfg,
			DataDir: dataDir, Institution: &pb.InstitutionInfo{Id: "acq", Roles: []string{"acquirer"}}})
		if err != nil || sdk.HasErrors(res.GetDiagnostics()) {
			t.Fatalf("Configure: %v %v", err, res.GetDiagnostics())
		}
		return res
	}
	o := &pb.Order{PaymentId: "pay-1", MerchantId: "shop", AcquirerId: "acq", IssuerId: "iss", AmountMinor: 500,
		Currency: "EUR", Method: pb.Method_METHOD_BANK_TRANSFER, OrderRef: "R1", ExpiresAtUnix: time.Now().Add(time.Hour).Unix()}
	ms := time.Now().UnixMilli()
	req, replay := signedRequests(seller, o, ms, "pay-2")

	var responses [][]byte
	keep := func(m proto.Message) {
		b, _ := proto.Marshal(m)
		responses = append(responses, b)
	}

	p := testbin.LaunchPlugin(t, bin, testbin.WithHostLogs())
	c := p.Client
	info, err := c.GetInfo(ctx, &pb.GetInfoRequest{})
	if err != nil || info.GetName() != merchantsigplugin.Name || !slices.Equal(info.GetCapabilities(), []string{sdk.CapSellerAuth, sdk.CapHostState}) {
		t.Fatalf("GetInfo: %v %v", info, err)
	}
	keep(info)
	conf := configure(t, c)
	keep(conf)
	if !bytes.Equal(conf.GetAttestationKeys()[0].GetEd25519(), ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey)) {
		t.Fatal("attestation key does not match the configured seed")
	}
	if _, err := c.Configure(ctx, &pb.ConfigureRequest{InstanceId: "acq-2", Kind: pb.Kind_KIND_AUTHENTICATOR, ConfigJson: cfg,
		DataDir: dataDir}); sdk.CodeOf(err) != sdk.CodeFailedPrecondition {
		t.Fatalf("Configure before LoadState: %v, want FailedPrecondition", err)
	}
	res, err := c.AuthenticateSeller(ctx, req)
	if err != nil || res.GetVerdict() != pb.Verdict_VERDICT_APPROVED || len(res.GetStateWrites()) != 1 {
		t.Fatalf("approve: %v %v", res, err)
	}
	host.apply(res.GetStateWrites())
	keep(res)
	if !ed25519.Verify(conf.GetAttestationKeys()[0].GetEd25519(), order.AttestationMessage("B", "acq", req.OrderDigest), res.GetAttestation().GetSignature()) {
		t.Fatal("attestation does not verify")
	}
	if r, err := c.AuthenticateSeller(ctx, replay); err != nil || r.GetDeclineCode() != sdk.DeclineReplay || len(r.GetStateWrites()) != 0 {
		t.Fatalf("replay for another payment: %v %v", r, err)
	}
	bad := proto.Clone(req).(*pb.AuthenticateSellerRequest)
	bad.OrderDigest = replay.OrderDigest
	if _, err := c.AuthenticateSeller(ctx, bad); sdk.CodeOf(err) != sdk.CodeInvalidArgument {
		t.Fatalf("digest mismatch: %v", err)
	}

	// Restart the process and load what the host committed: the replay
	// record survives, the retry is approved with the same answer and
	// record.
	c = p.Restart()
	keep(configure(t, c))
	if r, err := c.AuthenticateSeller(ctx, replay); err != nil || r.GetDeclineCode() != sdk.DeclineReplay {
		t.Fatalf("replay after restart: %v %v", r, err)
	}
	r, err := c.AuthenticateSeller(ctx, req)
	if err != nil || !proto.Equal(r, res) {
		t.Fatalf("retry after restart: %v %v, want %v", r, err, res)
	}
	keep(r)

	t.Run("no key material in logs, database or responses", func(t *testing.T) {
		var db []byte
		for _, r := range host.records() {
			db = append(append(db, r.Key...), r.Value...)
		}
		if len(db) == 0 {
			t.Fatal("no records committed; the scan would prove nothing")
		}
		priv := ed25519.NewKeyFromSeed(seed)
		secrets := map[string][]byte{
			"raw seed":           seed,
			"hex seed":           []byte(hex.EncodeToString(seed)),
			"base64 seed":        []byte(base64.StdEncoding.EncodeToString(seed)),
			"raw base64 seed":    []byte(base64.RawStdEncoding.EncodeToString(seed)),
			"private key":        priv,
			"hex private key":    []byte(hex.EncodeToString(priv)),
			"base64 private key": []byte(base64.StdEncoding.EncodeToString(priv)),
		}
		places := map[string][]byte{"logs": p.Logs.Bytes(), "host's records": db, "responses": bytes.Join(responses, nil)}
		if len(places["logs"]) == 0 {
			t.Fatal("no logs captured; the scan would prove nothing")
		}
		for pn, place := range places {
			for sn, s := range secrets {
				if bytes.Contains(place, s) {
					t.Errorf("%s contain the %s", pn, sn)
				}
			}
		}
	})
}
