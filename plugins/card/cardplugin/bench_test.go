package cardplugin

import (
	"context"
	"fmt"
	"testing"

	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
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

// BenchmarkDebit measures one durable debit, in process (no gRPC).
func BenchmarkDebit(b *testing.B) {
	cfg := issuerConfig()
	firstCard(cfg)["credit_limit"] = int64(1) << 60
	p, _ := MustConfigure(b, cfg)
	tok := resolve(b, p, alicePAN, 12, 2029).GetToken()
	for i := 0; b.Loop(); i++ {
		res := debit(b, p, fmt.Sprint("pay-", i), tok, 1)
		if res.GetState() != pb.OperationState_OPERATION_STATE_APPROVED {
			b.Fatal(res)
		}
	}
}
