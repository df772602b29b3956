package plugintest

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/switchd/switchd/internal/testbin"
	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
	"github.com/switchd/switchd/plugins/sdk"
	"github.com/switchd/switchd/plugins/sdk/internal/sample"
)

const (
	payerAccount = "12345678"
	payeeAccount = "99990000"
)

func methodConfig(extra string) []byte {
	return []byte(`{"account": [{"number": "` + payerAccount + `", "balance_minor": 1000000, "currency": "EUR"},
		{"number": "` + payeeAccount + `", "balance_minor": 0, "currency": "EUR"}]` + extra + `}`)
}

func methodSuite(target Target) Suite {
	return Suite{
		Target: target,
		Config: methodConfig(""),
		BadConfigs: map[string][]byte{
			"no accounts":      []byte(`{}`),
			"unknown key":      methodConfig(`, "colour": "red"`),
			"negative latency": methodConfig(`, "latency_ms": -1`),
			"bad currency":     []byte(`{"account": [{"number": "12345678", "balance_minor": 1, "currency": "euro"}]}`),
			"not json":         []byte(`{"account": [`),
		},
		SlowConfig: methodConfig(`, "latency_ms": 30000`),
		Order:      &pb.Order{MerchantId: "corner-shop", AmountMinor: 1250, Currency: "EUR", OrderRef: "r-1"},
		Instrument: &pb.ResolveInstrumentRequest{Instrument: &pb.ResolveInstrumentRequest_Account{
			Account: &pb.AccountInstrument{BankCode: "001", AccountNumber: payerAccount}}},
		PayeeAccount: payeeAccount,
		Balance: func(dir string, op pb.Operation) (int64, error) {
			if op == pb.Operation_OPERATION_CREDIT {
				return sample.Balance(dir, payeeAccount)
			}
			return sample.Balance(dir, payerAccount)
		},
	}
}

// stateMethodSuite is methodSuite for the host_state sample method, which
// the kit can restart: newPlugin makes a fresh one and Balance reads the
// one made last.
func stateMethodSuite(flaws sample.Flaw) Suite {
	var cur atomic.Pointer[sample.StateMethod]
	s := methodSuite(InProcessFunc(func() sdk.Plugin {
		p := sample.NewStateMethod(flaws)
		cur.Store(p)
		return p
	}))
	s.Balance = func(_ string, op pb.Operation) (int64, error) {
		if op == pb.Operation_OPERATION_CREDIT {
			return cur.Load().Balance("plugintest-bank", payeeAccount)
		}
		return cur.Load().Balance("plugintest-bank", payerAccount)
	}
	s.OldState = oldMethodLedger
	s.BadConfigs = maps.Clone(s.BadConfigs)
	// A new account in a refused config: its opening-balance record must
	// not be written.
	s.BadConfigs["new account, negative latency"] = []byte(`{"account": [{"number": "55556666", "balance_minor": 7, "currency": "EUR"}], "latency_ms": -1}`)
	return s
}

// oldMethodLedger leaves in dir the ledger file of sample.Method, the
// file-keeping version of sample.StateMethod, after one Debit.
func oldMethodLedger(dir string) error {
	ctx := context.Background()
	m := sample.NewMethod(0)
	if _, err := m.Configure(ctx, &pb.ConfigureRequest{InstanceId: "old", Kind: pb.Kind_KIND_PAYMENT_METHOD, ConfigJson: methodConfig(""), DataDir: dir}); err != nil {
		return err
	}
	tok, err := m.ResolveInstrument(ctx, &pb.ResolveInstrumentRequest{InstanceId: "old", Instrument: &pb.ResolveInstrumentRequest_Account{
		Account: &pb.AccountInstrument{AccountNumber: payerAccount}}})
	if err != nil {
		return err
	}
	res, err := m.Debit(ctx, &pb.DebitRequest{InstanceId: "old", Order: &pb.Order{PaymentId: "old-1", AmountMinor: 500, Currency: "EUR"}, Token: tok.GetToken()})
	if err != nil {
		return err
	}
	if res.GetState() != pb.OperationState_OPERATION_STATE_APPROVED {
		return fmt.Errorf("the old version's Debit: %v", res.GetState())
	}
	return nil
}

// stateBinary is methodSuite for the host_state sample method as a
// binary, whose balances the test cannot read.
func stateBinary(target Target) Suite {
	s := withoutBalance(methodSuite(target))
	s.OldState = oldMethodLedger
	return s
}

// stateAuthSuite is authSuite for the host_state sample authenticator.
func stateAuthSuite(flaws sample.Flaw) Suite {
	return authSuite(InProcessFunc(func() sdk.Plugin { return sample.NewStateAuthenticator(flaws) }))
}

var (
	payerSecret = []byte("0123456789abcdef-alice")
	sellerKey   = ed25519.NewKeyFromSeed([]byte("plugintest seller seed 32 bytes!"))
)

func authConfig(extra string) []byte {
	return fmt.Appendf(nil, `{"signing_seed": "%s", "payer": [{"id": "alice", "secret": "%s"}],
		"seller_key": [{"key_id": "shop-k1", "merchant_id": "corner-shop", "public_key": "%s"}]%s}`,
		strings.Repeat("ab", 32), hex.EncodeToString(payerSecret), hex.EncodeToString(sellerKey.Public().(ed25519.PublicKey)), extra)
}

func authSuite(target Target) Suite {
	return Suite{
		Target: target,
		Config: authConfig(""),
		BadConfigs: map[string][]byte{
			"no seed":        []byte(`{}`),
			"short secret":   []byte(`{"signing_seed": "` + strings.Repeat("ab", 32) + `", "payer": [{"id": "bob", "secret": "00"}]}`),
			"non-hex secret": []byte(`{"signing_seed": "` + strings.Repeat("ab", 32) + `", "payer": [{"id": "bob", "secret": "correct horse battery"}]}`),
			"unknown key":    authConfig(`, "colour": "red"`),
			"bad seller key": []byte(`{"signing_seed": "` + strings.Repeat("ab", 32) + `", "seller_key": [{"key_id": "k", "merchant_id": "m", "public_key": "zz"}]}`),
		},
		SlowConfig:          authConfig(`, "latency_ms": 30000`),
		Order:               &pb.Order{MerchantId: "corner-shop", AmountMinor: 990, Currency: "EUR", Method: pb.Method_METHOD_CARD},
		PayerRef:            "alice",
		PayerHello:          sample.PayerHello,
		PayerAnswer:         sample.PayerAnswer(payerSecret),
		PayerVerifiesIssuer: true,
		SellerSignature:     sample.SellerSigner("shop-k1", sellerKey),
	}
}

// TestSamplesPass runs the kit as a plugin author would, against correct
// plugins both in process and as real plugin subprocesses.
func TestSamplesPass(t *testing.T) {
	tests := []struct {
		name  string
		suite Suite
	}{
		{"method/in-process", methodSuite(InProcess(sample.NewMethod(0)))},
		{"method/binary", methodSuite(Binary(testbin.MustBuild(t, "./plugins/sdk/internal/sample/cmd/samplemethod")))},
		{"auth/in-process", authSuite(InProcess(sample.NewAuthenticator(0)))},
		{"auth/binary", authSuite(Binary(testbin.MustBuild(t, "./plugins/sdk/internal/sample/cmd/sampleauth")))},
		{"state-method/in-process", stateMethodSuite(0)},
		{"state-method/binary", stateBinary(Binary(testbin.MustBuild(t, "./plugins/sdk/internal/sample/cmd/samplestatemethod")))},
		{"state-auth/in-process", stateAuthSuite(0)},
		{"state-auth/binary", authSuite(Binary(testbin.MustBuild(t, "./plugins/sdk/internal/sample/cmd/samplestateauth")))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { Run(t, tt.suite) })
	}
}

// TestKitCatchesFlaws runs the kit under a recorder against plugins with
// one deliberate bug each, and checks that the check meant to catch it
// fails while unrelated checks still pass.
func TestKitCatchesFlaws(t *testing.T) {
	tests := []struct {
		name     string
		suite    Suite
		wantFail []string
		wantPass []string
	}{
		{"correct method", methodSuite(InProcess(sample.NewMethod(0))), nil,
			[]string{"", "info", "schema", "configure", "payment_method/debit_idempotent", "deadline/slow"}},
		{"correct authenticator", authSuite(InProcess(sample.NewAuthenticator(0))), nil,
			[]string{"", "authenticator/mutual_bound", "authenticator/seller_bound", "deadline/slow"}},
		{"non-idempotent debit", methodSuite(InProcess(sample.NewMethod(sample.NonIdempotentDebit))),
			// deadline/debit_cut_short fails too when the first, 1ms Debit
			// reaches the plugin, which depends on timing.
			[]string{"payment_method/debit_idempotent", "payment_method/debit_concurrent"},
			[]string{"info", "payment_method/reverse_idempotent", "payment_method/credit_idempotent"}},
		{"reverse puts back twice", methodSuite(InProcess(sample.NewMethod(sample.DoubleReverse))),
			[]string{"payment_method/reverse_idempotent", "payment_method/credit_idempotent"},
			[]string{"payment_method/debit_idempotent"}},
		{"method ignores deadline", methodSuite(InProcess(sample.NewMethod(sample.IgnoresDeadline))),
			[]string{"deadline/slow"}, []string{"deadline/expired", "payment_method"}},
		{"authenticator ignores deadline", authSuite(InProcess(sample.NewAuthenticator(sample.IgnoresDeadline))),
			[]string{"deadline/slow"}, []string{"authenticator"}},
		{"seller-only authenticator ignores deadline", sellerOnly(authSuite(InProcess(sample.NewAuthenticator(sample.IgnoresDeadline)))),
			[]string{"deadline/slow"}, []string{"authenticator/seller_bound"}},
		{"correct seller-only authenticator", sellerOnly(authSuite(InProcess(sample.NewAuthenticator(0)))), nil,
			[]string{"", "deadline/slow"}},
		{"proof not bound to the order", authSuite(InProcess(sample.NewAuthenticator(sample.UnboundProof))),
			[]string{"authenticator/mutual_bound/amount_minor", "authenticator/mutual_bound/currency", "authenticator/mutual_bound/merchant_id",
				"authenticator/mutual_bound/issuer_id", "authenticator/mutual_bound/method", "authenticator/mutual_bound/expires_at"},
			[]string{"authenticator/mutual_approve", "authenticator/mutual_bound/payment_id", "authenticator/seller_bound"}},
		{"seller signature not checked", authSuite(InProcess(sample.NewAuthenticator(sample.SkipsSellerSignature))),
			[]string{"authenticator/seller_bound/signature", "authenticator/seller_bound/amount_minor", "authenticator/seller_bound/currency",
				"authenticator/seller_bound/order_ref", "authenticator/seller_bound/expires_at"},
			[]string{"authenticator/seller_approve", "authenticator/mutual_bound"}},
		{"method serves an unconfigured instance", methodSuite(InProcess(sample.NewMethod(sample.ServesUnconfigured))),
			[]string{"unconfigured"}, []string{"payment_method", "configure"}},
		{"authenticator misdescribes itself", authSuite(InProcess(sample.NewAuthenticator(sample.BadInfo))),
			[]string{"info", "authenticator/enrollment"}, []string{"schema", "authenticator/mutual_bound"}},
		{"authenticator leaks a secret in a diagnostic", authSuite(InProcess(sample.NewAuthenticator(sample.LeaksSecret))),
			[]string{"configure/non-hex secret"}, []string{"configure/short secret", "configure/no seed"}},
		{"bad method schema", methodSuite(InProcess(sample.NewMethod(sample.BadSchema))),
			[]string{"schema"}, []string{"info", "payment_method"}},
		{"bad authenticator schema", authSuite(InProcess(sample.NewAuthenticator(sample.BadSchema))),
			[]string{"schema"}, []string{"authenticator"}},
		{"method accepts bad config", methodSuite(InProcess(sample.NewMethod(sample.AcceptsBadConfig))),
			[]string{"configure/no accounts", "configure/bad currency"}, []string{"schema"}},
		{"authenticator accepts bad config", authSuite(InProcess(sample.NewAuthenticator(sample.AcceptsBadConfig))),
			[]string{"configure/no seed"}, []string{"authenticator/mutual_bound"}},
		{"no target", Suite{Config: []byte(`{}`)}, []string{""}, nil},

		{"correct host_state method", stateMethodSuite(0), nil,
			[]string{"", "host_state/not_loaded", "host_state/export", "host_state/repeat", "host_state/lost_answer", "host_state/restart",
				"host_state/uncommitted", "host_state/commute", "state_writes"}},
		{"host_state method forgets to repeat records", stateMethodSuite(sample.ForgetsRecords),
			[]string{"host_state/repeat", "host_state/lost_answer"},
			[]string{"payment_method", "host_state/not_loaded", "host_state/restart", "host_state/uncommitted", "host_state/commute", "state_writes"}},
		{"host_state method keeps its own file", stateMethodSuite(sample.KeepsOwnFile),
			[]string{"host_state/uncommitted"},
			[]string{"payment_method", "host_state/repeat", "host_state/lost_answer", "host_state/restart", "state_writes"}},
		{"host_state method writes on a refused Configure", stateMethodSuite(sample.WritesOnError),
			[]string{"state_writes"},
			[]string{"configure", "payment_method", "host_state"}},
		{"host_state method keeps running totals", stateMethodSuite(sample.RunningTotal),
			[]string{"host_state/commute"},
			[]string{"payment_method", "host_state/repeat", "host_state/restart", "host_state/uncommitted", "state_writes"}},
		{"host_state method exports its old file once", stateMethodSuite(sample.ExportsOnce),
			[]string{"host_state/export"},
			[]string{"payment_method", "host_state/restart", "host_state/uncommitted", "state_writes"}},
		{"host_state method configures an unloaded instance", stateMethodSuite(sample.ConfiguresUnloaded),
			[]string{"host_state/not_loaded"},
			[]string{"payment_method", "host_state/restart", "host_state/uncommitted", "state_writes"}},
		{"correct host_state authenticator", stateAuthSuite(0), nil,
			[]string{"", "host_state/not_loaded", "host_state/seller_restart", "host_state/seller_uncommitted", "state_writes"}},
		{"host_state authenticator forgets to repeat records", stateAuthSuite(sample.ForgetsRecords),
			[]string{"host_state/seller_restart"},
			[]string{"authenticator", "host_state/not_loaded", "host_state/seller_uncommitted", "state_writes"}},
		{"host_state authenticator configures an unloaded instance", stateAuthSuite(sample.ConfiguresUnloaded),
			[]string{"host_state/not_loaded"},
			[]string{"authenticator", "host_state/seller_restart", "host_state/seller_uncommitted"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			failed, log := record(t, tt.suite)
			var wrong []string
			for _, n := range tt.wantFail {
				if !failed[n] {
					wrong = append(wrong, fmt.Sprintf("check %q passed, want it to fail", n))
				}
			}
			for _, n := range tt.wantPass {
				if failed[n] {
					wrong = append(wrong, fmt.Sprintf("check %q failed, want it to pass", n))
				}
			}
			if len(wrong) > 0 {
				t.Errorf("%s\nfailed checks: %v\nlog:\n%s", strings.Join(wrong, "\n"), slices.Sorted(mapKeys(failed)), strings.Join(log, "\n"))
			}
		})
	}
}

func mapKeys(m map[string]bool) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// withoutBalance is s without Suite.Balance: a host_state binary's
// balances are in its memory, which the test cannot read.
func withoutBalance(s Suite) Suite {
	s.Balance = nil
	return s
}

// sellerOnly is s for an authenticator that only serves step B.
func sellerOnly(s Suite) Suite {
	s.PayerHello, s.PayerAnswer, s.PayerVerifiesIssuer = nil, nil, false
	return s
}

// TestRestartNeedsAConstructor checks that a host_state plugin given as
// InProcess, which the kit cannot restart, passes with the restart checks
// skipped and says why, while the checks without a restart still run.
func TestRestartNeedsAConstructor(t *testing.T) {
	failed, log := record(t, withoutBalance(methodSuite(InProcess(sample.NewStateMethod(sample.ForgetsRecords)))))
	joined := strings.Join(log, "\n")
	if !failed["host_state/repeat"] {
		t.Errorf("host_state/repeat passed for a plugin that forgets records; it needs no restart and must run\nlog:\n%s", joined)
	}
	for _, n := range []string{"host_state/restart", "host_state/uncommitted", "host_state/commute"} {
		if failed[n] {
			t.Errorf("check %q failed; without a restart it must skip", n)
		}
		if !strings.Contains(joined, n+": (log) (skip) in-process *sample.StateMethod cannot be restarted") {
			t.Errorf("the log does not say why %s was skipped\nlog:\n%s", n, joined)
		}
	}
}
