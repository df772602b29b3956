package main

import (
	"encoding/json"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/switchd/switchd/internal/testbin"
	"github.com/switchd/switchd/plugins/banktransfer/banktransferplugin"
	"github.com/switchd/switchd/plugins/internal/ledger/oldledger"
	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
	"github.com/switchd/switchd/plugins/sdk"
	"github.com/switchd/switchd/plugins/sdk/plugintest"
)

// TestConformance runs the SDK's conformance kit against the bank-transfer
// plugin, as a binary and in process; the kit acts as the host that keeps
// the ledger (host_state).
func TestConformance(t *testing.T) {
	bin := testbin.MustBuild(t, "./plugins/banktransfer")
	cfg := func(edit func(c map[string]any)) []byte {
		c := map[string]any{
			"token_key": "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
			"account": []any{
				map[string]any{"number": aliceAcct, "holder": "alice", "balance": 1_000_000_000, "currency": "EUR"},
				map[string]any{"number": shopAcct, "holder": "shop-1", "currency": "EUR"},
			},
		}
		if edit != nil {
			edit(c)
		}
		b, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	bad := map[string][]byte{
		"check digit":   cfg(func(c map[string]any) { c["account"].([]any)[0].(map[string]any)["number"] = "1234567890" }),
		"bad pattern":   cfg(func(c map[string]any) { c["account_pattern"] = "([" }),
		"no token_key":  cfg(func(c map[string]any) { delete(c, "token_key") }),
		"unknown field": cfg(func(c map[string]any) { c["colour"] = "blue" }),
	}
	inst := &pb.InstitutionInfo{Id: "plugintest-bank", BankCode: "0011", Roles: []string{"issuer", "acquirer"}}

	// The kit acts as the host of a host_state plugin; a restart starts
	// a new implementation, which Balance reads.
	var cur atomic.Pointer[banktransferplugin.Plugin]
	inProc := plugintest.InProcessFunc(func() sdk.Plugin {
		p := banktransferplugin.New()
		cur.Store(p)
		return p
	})
	balance := func(_ string, op pb.Operation) (int64, error) {
		b, err := cur.Load().Balances(inst.GetId())
		if err != nil {
			return 0, err
		}
		id := "acct:" + shopAcct
		if op == pb.Operation_OPERATION_DEBIT {
			id = "acct:" + aliceAcct
		}
		a, ok := b[id]
		if !ok {
			return 0, fmt.Errorf("no account %s", id)
		}
		return a.Balance, nil
	}

	for name, tc := range map[string]struct {
		target  plugintest.Target
		balance func(string, pb.Operation) (int64, error)
	}{
		"binary":     {target: plugintest.Binary(bin)},
		"in-process": {target: inProc, balance: balance},
	} {
		t.Run(name, func(t *testing.T) {
			plugintest.Run(t, plugintest.Suite{
				Target:      tc.target,
				Config:      cfg(nil),
				BadConfigs:  bad,
				Institution: inst,
				Instrument: &pb.ResolveInstrumentRequest{Instrument: &pb.ResolveInstrumentRequest_Account{
					Account: &pb.AccountInstrument{BankCode: "0011", AccountNumber: aliceAcct}}},
				PayeeAccount: shopAcct,
				Balance:      tc.balance,
				OldState:     oldledger.Write,
			})
		})
	}
}
