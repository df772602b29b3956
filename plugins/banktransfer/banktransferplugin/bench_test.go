package banktransferplugin

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/switchd/switchd/plugins/internal/cpubench"
	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
	"github.com/switchd/switchd/plugins/sdk"
)

// BenchmarkPayment is the bank-transfer plugin's share of one payment, in
// process (no gRPC): ResolveInstrument and Debit at the issuer (instance
// bank-a, 64 payer accounts), Credit at the acquirer (instance bank-b, its
// own ledger), as bank_a's and bank_b's instances in one plugin process
// see them. The ledgers are in memory; the host commits their records,
// which is not measured here. Besides the wall time per payment it reports
// the process's CPU per payment (cpu-µs/op). "serial" runs one payment at
// a time; "64 payers" runs 64 at once, sharing each ledger's lock. Run with
//
//	go test -run '^$' -bench Payment -benchmem ./plugins/banktransfer/banktransferplugin/
func BenchmarkPayment(b *testing.B) {
	cpubench.ForPayerCounts(b, benchPayments)
}

func benchPayments(b *testing.B, payers int) {
	const accountsN = 64
	ctx := context.Background()
	numbers := make([]string, accountsN)
	var accounts []any
	for i := range numbers {
		numbers[i] = withCheckDigit(fmt.Sprintf("1%08d", i))
		accounts = append(accounts, map[string]any{"number": numbers[i], "holder": fmt.Sprint("payer-", i), "balance": int64(1) << 60, "currency": "EUR"})
	}
	cfg := bankConfig()
	cfg["account"] = accounts
	p, _ := MustConfigure(b, cfg)
	req := configureReq(b, b.TempDir(), map[string]any{
		"token_key": testKey,
		"account":   []any{map[string]any{"number": shopAcct, "holder": "shop-1", "currency": "EUR"}},
	})
	req.InstanceId, req.Institution.Id, req.Institution.BankCode = "bank-b", "bank-b", "0022"
	if err := p.LoadState(ctx, "bank-b", nil); err != nil {
		b.Fatal(err)
	}
	acq, err := p.Configure(ctx, req)
	if err != nil || sdk.HasErrors(acq.GetDiagnostics()) {
		b.Fatal(err, acq.GetDiagnostics())
	}
	var n atomic.Int64
	cpubench.Run(b, payers, numbers, func(number string) bool {
		id := fmt.Sprint("pay-", n.Add(1))
		return cpubench.Payment(b, p, &pb.ResolveInstrumentRequest{InstanceId: "bank-a", PaymentId: id,
			Instrument: &pb.ResolveInstrumentRequest_Account{Account: &pb.AccountInstrument{BankCode: "0011", AccountNumber: number}}}, testOrder(id, 1299), "bank-b", shopAcct)
	})
}
