package main

import (
	"encoding/json"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/switchd/switchd/internal/testbin"
	"github.com/switchd/switchd/plugins/card/cardplugin"
	"github.com/switchd/switchd/plugins/internal/ledger/oldledger"
	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
	"github.com/switchd/switchd/plugins/sdk"
	"github.com/switchd/switchd/plugins/sdk/plugintest"
)

// TestConformance runs the SDK's conformance kit against the card plugin,
// as a binary and in process; the kit acts as the host that keeps the
// ledger (host_state).
func TestConformance(t *testing.T) {
	bin := testbin.MustBuild(t, "./plugins/card")
	cfg := func(edit func(c map[string]any)) []byte {
		c := map[string]any{
			"token_key":        testKey,
			"card":             []any{map[string]any{"label": "alice-visa", "pan": testPAN, "expiry": "12/39", "holder": "alice", "credit_limit": 1_000_000_000, "currency": "EUR"}},
			"merchant_account": []any{map[string]any{"account": "shop-1", "currency": "EUR"}},
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
		"short token_key": cfg(func(c map[string]any) { c["token_key"] = "0011" }),
		"luhn":            cfg(func(c map[string]any) { c["card"].([]any)[0].(map[string]any)["pan"] = "4111111111111112" }),
		"unknown field":   cfg(func(c map[string]any) { c["colour"] = "blue" }),
	}
	key, err := cardplugin.DecodeKey(testKey)
	if err != nil {
		t.Fatal(err)
	}
	inst := &pb.InstitutionInfo{Id: "plugintest-bank", Roles: []string{"issuer", "acquirer"}, BinRanges: []string{"411111-411111"}}

	// The kit acts as the host of a host_state plugin; a restart starts
	// a new implementation, which Balance reads.
	var cur atomic.Pointer[cardplugin.Plugin]
	inProc := plugintest.InProcessFunc(func() sdk.Plugin {
		p := cardplugin.New()
		cur.Store(p)
		return p
	})
	balance := func(_ string, op pb.Operation) (int64, error) {
		b, err := cur.Load().Balances(inst.GetId())
		if err != nil {
			return 0, err
		}
		id := "merchant:shop-1"
		if op == pb.Operation_OPERATION_DEBIT {
			id = "card:" + cardplugin.Tokenize(key, testPAN)
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
				Instrument: &pb.ResolveInstrumentRequest{Instrument: &pb.ResolveInstrumentRequest_Card{
					Card: &pb.CardInstrument{Pan: testPAN, ExpiryMonth: 12, ExpiryYear: 2039}}},
				PayeeAccount: "shop-1",
				Balance:      tc.balance,
				OldState:     oldledger.Write,
			})
		})
	}
}
