package flow_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/switchd/switchd/config"
	"github.com/switchd/switchd/plugins/card/cardplugin"
	"github.com/switchd/switchd/plugins/merchantsig/merchantsigplugin"
	"github.com/switchd/switchd/plugins/ocra/ocraplugin"
	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
	"github.com/switchd/switchd/plugins/sdk"
	"github.com/switchd/switchd/plugins/sdk/order"
	"github.com/switchd/switchd/switchd/internal/flow"
	"github.com/switchd/switchd/switchd/internal/pluginhost"
	"github.com/switchd/switchd/switchd/internal/store"
	"github.com/switchd/switchd/switchd/wallet"
)

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// The pay function returned by setupBench reports failures with b.Error
// (not Fatal), since RunParallel calls it from other goroutines.

// BenchmarkPayment runs whole card payments one after another (create, A,
// B, C with the OCRA wallet, D, E through the outbox) with the real
// plugins served in process over gRPC (pluginhost.InProcess) and a real
// bbolt store with fsync.
func BenchmarkPayment(b *testing.B) {
	pay, updates := setupBench(b)
	var verifies atomic.Int64
	b.Cleanup(flow.CountVerifies(&verifies))
	b.ReportAllocs()
	b.ResetTimer()
	var ru0, ru1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	for i := 0; i < b.N; i++ {
		pay(b)
	}
	b.StopTimer()
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	cpu := time.Duration(ru1.Utime.Nano() + ru1.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano())
	// Plugins and engine share this process: CPU of both, steadier than
	// wall time on a shared machine.
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/payment")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "payments/s")
	// The webhook's delivery record may still be on its way: at most one
	// Update per payment is missing from this count.
	b.ReportMetric(float64(updates.Load())/float64(b.N), "updates/payment")
	b.ReportMetric(float64(verifies.Load())/float64(b.N), "verifies/payment")
}

// BenchmarkPaymentParallel is BenchmarkPayment with concurrent payers
// (GOMAXPROCS x -cpu goroutines; use -cpu and SetParallelism to vary),
// where the store's group commit shares fsyncs.
func BenchmarkPaymentParallel(b *testing.B) {
	pay, _ := setupBench(b)
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			pay(b)
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "payments/s")
}

var benchRef atomic.Int64

// updateCounter counts the store Updates (commits) made through it.
type updateCounter struct {
	store.Store
	n *atomic.Int64
}

func (s updateCounter) Update(ctx context.Context, fn func(store.Tx) error) error {
	s.n.Add(1)
	return s.Store.Update(ctx, fn)
}

// setupBench returns the function making one payment and the count of
// store Updates since the warm-up payment.
func setupBench(b *testing.B) (func(b *testing.B), *atomic.Int64) {
	os.Setenv("SWITCHD_PLUGIN_LOG_LEVEL", "error")
	ctx := context.Background()
	const pan = "4111111111111111"
	dir := b.TempDir()
	st, err := store.Open(filepath.Join(dir, "switchd.db"), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	updates := new(atomic.Int64)
	cst := updateCounter{Store: st, n: updates}
	// card and merchantsig keep their state in the switch's store
	// (host_state): the host's commits of their records are Updates too.
	host := pluginhost.InProcess(map[string]sdk.Plugin{"card": cardplugin.New(), "merchantsig": merchantsigplugin.New(), "ocra": ocraplugin.New()},
		pluginhost.Options{Logger: slog.Default(), State: pluginhost.NewStoreState(cst)})
	b.Cleanup(func() { host.Close() })
	sellerPub, seller, _ := ed25519.GenerateKey(rand.Reader)
	payerKey := make([]byte, 32)
	rand.Read(payerKey)
	issuer := &pb.InstitutionInfo{Id: "iss", Roles: []string{"issuer"}, BankCode: "1001", BinRanges: []string{"411111-411199"}}
	acquirer := &pb.InstitutionInfo{Id: "acq", Roles: []string{"acquirer"}}
	keys := map[string]map[string]ed25519.PublicKey{}
	for _, c := range []struct {
		plugin string
		kind   pb.Kind
		method pb.Method
		inst   *pb.InstitutionInfo
		cfg    any
	}{
		{"merchantsig", pb.Kind_KIND_AUTHENTICATOR, 0, acquirer, map[string]any{"attestation_key": randHex(32), "attestation_key_id": "a1",
			"merchant": []any{map[string]any{"id": "shop", "key": []any{map[string]any{"id": "k1", "public_key": base64.StdEncoding.EncodeToString(sellerPub)}}}}}},
		{"ocra", pb.Kind_KIND_AUTHENTICATOR, 0, issuer, map[string]any{"attestation_key": randHex(32), "attestation_key_id": "i1",
			"payer": []any{map[string]any{"id": "alice", "key": hex.EncodeToString(payerKey)}}}},
		{"card", pb.Kind_KIND_PAYMENT_METHOD, pb.Method_METHOD_CARD, issuer, map[string]any{"token_key": randHex(32),
			"card": []any{map[string]any{"label": "alice", "pan": pan, "expiry": "12/39", "holder": "alice", "credit_limit": 1 << 50, "currency": "EUR"}}}},
		{"card", pb.Kind_KIND_PAYMENT_METHOD, pb.Method_METHOD_CARD, acquirer, map[string]any{"token_key": randHex(32),
			"merchant_account": []any{map[string]any{"account": "shop-1", "currency": "EUR"}}}},
	} {
		res, err := host.Configure(ctx, c.plugin, &pb.ConfigureRequest{InstanceId: c.inst.Id, Kind: c.kind, Method: c.method,
			ConfigJson: mustJSON(c.cfg), DataDir: mkdir(b, filepath.Join(dir, c.plugin, c.inst.Id)), Institution: c.inst})
		if err != nil || sdk.HasErrors(res.GetDiagnostics()) {
			b.Fatalf("configure %s for %s: %v %v", c.plugin, c.inst.Id, err, res.GetDiagnostics())
		}
		for _, k := range res.GetAttestationKeys() {
			if keys[c.inst.Id] == nil {
				keys[c.inst.Id] = map[string]ed25519.PublicKey{}
			}
			keys[c.inst.Id][k.GetKeyId()] = k.GetEd25519()
		}
	}
	cardUse := &config.PluginUse{Plugin: "card"}
	network := &config.Network{
		Institutions: map[string]*config.Institution{
			"iss": {ID: "iss", Roles: []string{"issuer"}, BankCode: "1001", BINRanges: []config.BINRange{{Start: "411111", End: "411199"}},
				PayerAuth: &config.PluginUse{Plugin: "ocra"}, Methods: map[pb.Method]*config.PluginUse{pb.Method_METHOD_CARD: cardUse}},
			"acq": {ID: "acq", Roles: []string{"acquirer"}, SellerAuth: &config.PluginUse{Plugin: "merchantsig"},
				Methods: map[pb.Method]*config.PluginUse{pb.Method_METHOD_CARD: cardUse}},
		},
		Merchants: map[string]*config.Merchant{"shop": {ID: "shop", Acquirer: "acq", SettlementAccount: "shop-1"}},
	}
	eng := flow.StartWithOutbox(b, flow.Options{Store: cst, Plugins: host},
		&flow.Config{Generation: 1, Network: network, Infos: host.Infos(), AttestationKeys: keys})

	pay := func(b *testing.B) {
		exp := time.Now().Add(10 * time.Minute).Truncate(time.Second)
		ref := "bench-" + strconv.FormatInt(benchRef.Add(1), 10)
		signedAt := time.Now().UnixMilli()
		o := &pb.Order{MerchantId: "shop", AcquirerId: "acq", AmountMinor: 100, Currency: "EUR", OrderRef: ref, ExpiresAtUnix: exp.Unix()}
		res, err := eng.CreatePayment(ctx, "shop", "", "", flow.CreateInput{AmountMinor: 100, Currency: "EUR", OrderRef: ref, ExpiresAt: exp,
			SellerSignature: ed25519.Sign(seller, order.SellerMessage(order.TermsDigest(o), signedAt)), SellerKeyID: "k1", SignedAtUnixMS: signedAt}, nil)
		if err != nil {
			b.Error(err)
			return
		}
		if _, err := eng.ChooseMethod(ctx, res.Token, flow.ChooseInput{Method: "card", Card: &pb.CardInstrument{Pan: pan, ExpiryMonth: 12, ExpiryYear: 2039}}); err != nil {
			b.Error(err)
			return
		}
		wal := &wallet.OCRA{Key: payerKey}
		wal.Begin()
		ch, err := eng.BeginAuth(ctx, res.Token, wal.BeginPayerData())
		if err != nil {
			b.Error(err)
			return
		}
		digest, _ := hex.DecodeString(ch.DigestHex)
		answer, err := wal.Answer(ch.ChallengeData, digest)
		if err != nil {
			b.Error(err)
			return
		}
		v, err := eng.FinishAuth(ctx, res.Token, answer)
		if err != nil || v.Payment.State != flow.StateApproved {
			b.Errorf("payment ended %v: %v", v, err)
			return
		}
	}
	pay(b) // warm up
	updates.Store(0)
	return pay, updates
}

func mkdir(b *testing.B, dir string) string {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		b.Fatal(err)
	}
	return dir
}
