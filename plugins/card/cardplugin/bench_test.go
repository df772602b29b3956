package cardplugin

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/switchd/switchd/plugins/internal/cpubench"
	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
	"github.com/switchd/switchd/plugins/sdk"
)

// BenchmarkResolveInstrument measures card checks plus tokenization.
func BenchmarkResolveInstrument(b *testing.B) {
	p, _ := MustConfigure(b, issuerConfig())
	req := &pb.ResolveInstrumentRequest{InstanceId: "bank-a", PaymentId: "p",
		Instrument: &pb.ResolveInstrumentRequest_Card{Card: &pb.CardInstrument{Pan: alicePAN, ExpiryMonth: 12, ExpiryYear: 2029}}}
	for b.Loop() {
		if res, err := p.ResolveInstrument(context.Background(), req); err != nil || res.GetVerdict() != pb.Verdict_VERDICT_APPROVED {
			b.Fatal(res, err)
		}
	}
}

// BenchmarkDebit measures one debit, in process (no gRPC), with the
// records it returns (the host commits them; not measured here).
func BenchmarkDebit(b *testing.B) {
	cfg := issuerConfig()
	firstCard(cfg)["credit_limit"] = int64(1) << 60
	p, _ := MustConfigure(b, cfg)
	tok := resolve(b, p, alicePAN, 12, 2029).GetToken()
	done := cpubench.Start(b)
	for i := 0; i < b.N; i++ {
		res := debit(b, p, fmt.Sprint("pay-", i), tok, 1)
		if res.GetState() != pb.OperationState_OPERATION_STATE_APPROVED {
			b.Fatal(res)
		}
	}
	done()
}

// BenchmarkPayment is the card plugin's share of one card payment, in
// process (no gRPC): ResolveInstrument and Debit at the issuer (instance
// bank-a, 64 cards), Credit at the acquirer (instance bank-b, its own
// ledger), as bank_a's and bank_b's instances in one plugin process see
// them. The ledgers are in memory; the host commits their records, which
// is not measured here. Besides the wall time per payment it reports the
// process's CPU per payment (cpu-µs/op). "serial" runs one payment at a
// time; "64 payers" runs 64 at once, sharing each ledger's lock. Run with
//
//	go test -run '^$' -bench Payment -benchmem ./plugins/card/cardplugin/
func BenchmarkPayment(b *testing.B) {
	cpubench.ForPayerCounts(b, benchPayments)
}

func benchPayments(b *testing.B, payers int) {
	const cardsN = 64
	ctx := context.Background()
	issuer := issuerConfig()
	var cards []any
	pans := make([]string, cardsN)
	for i := range pans {
		pans[i] = withCheckDigit(fmt.Sprintf("411111%09d", i))
		cards = append(cards, map[string]any{"label": fmt.Sprint("c", i), "pan": pans[i], "expiry": "12/29", "holder": fmt.Sprint("payer-", i), "credit_limit": int64(1) << 60, "currency": "EUR"})
	}
	issuer["card"] = cards
	p, _ := MustConfigure(b, issuer)
	if err := p.LoadState(ctx, "bank-b", nil); err != nil {
		b.Fatal(err)
	}
	acq, err := p.Configure(ctx, configureReq(b, "bank-b", b.TempDir(), map[string]any{
		"token_key":        testKey,
		"merchant_account": []any{map[string]any{"account": "shop-1", "currency": "EUR"}},
	}))
	if err != nil || sdk.HasErrors(acq.GetDiagnostics()) {
		b.Fatal(err, acq.GetDiagnostics())
	}
	var n atomic.Int64
	cpubench.Run(b, payers, pans, func(pan string) bool {
		id := fmt.Sprint("pay-", n.Add(1))
		return cpubench.Payment(b, p, &pb.ResolveInstrumentRequest{InstanceId: "bank-a", PaymentId: id,
			Instrument: &pb.ResolveInstrumentRequest_Card{Card: &pb.CardInstrument{Pan: pan, ExpiryMonth: 12, ExpiryYear: 2029}}}, testOrder(id, 1299), "bank-b", "shop-1")
	})
}
