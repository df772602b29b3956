package reliability

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/switchd/switchd/plugins/banktransfer/banktransferplugin"
	"github.com/switchd/switchd/plugins/merchantsig/merchantsigplugin"
	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
	"github.com/switchd/switchd/plugins/sdk"
	"github.com/switchd/switchd/plugins/sdk/order"
	"github.com/switchd/switchd/switchd/internal/store"
)

// Fuzz targets the plugins' own packages lack, written here against their
// exported API (no edits elsewhere). scripts/fuzz.sh finds them like any
// other.

var fuzzSeller = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{0x42}, 32))

// FuzzSellerSignature feeds arbitrary order terms, key ids, signing times
// and signatures to merchantsig's AuthenticateSeller (step B). It must
// never panic; it may approve only the genuine signature of a known
// merchant's key over exactly these terms, signed within the replay
// window, and each signature at most once.
func FuzzSellerSignature(f *testing.F) {
	f.Add("shop", "k1", int64(1299), "EUR", "A-1", int64(0), []byte(nil), true)
	f.Add("shop", "k1", int64(1299), "EUR", "A-1", int64(-600000), []byte(nil), true)
	f.Add("shop", "k2", int64(1), "EUR", "A-1", int64(0), []byte(nil), true)
	f.Add("other", "k1", int64(5), "USD", "", int64(10), bytes.Repeat([]byte{1}, 64), false)
	f.Add("shop", "k1", int64(-1), "eur", "\x00", int64(1<<62), []byte("short"), false)
	cfg, _ := json.Marshal(map[string]any{
		"attestation_key": hex.EncodeToString(bytes.Repeat([]byte{9}, 32)), "attestation_key_id": "acq-1",
		"replay_window_seconds": 300,
		"merchant": []any{map[string]any{"id": "shop", "key": []any{
			map[string]any{"id": "k1", "public_key": base64.StdEncoding.EncodeToString(fuzzSeller.Public().(ed25519.PublicKey))}}}},
	})
	p := merchantsigplugin.New()
	// merchantsig keeps its replay records in the host (host_state); this
	// test is its host, with an empty state.
	if err := p.LoadState(context.Background(), "acq", nil); err != nil {
		f.Fatal(err)
	}
	res, err := p.Configure(context.Background(), &pb.ConfigureRequest{InstanceId: "acq", Kind: pb.Kind_KIND_AUTHENTICATOR,
		ConfigJson: cfg, DataDir: f.TempDir(), Institution: &pb.InstitutionInfo{Id: "acq", Roles: []string{"acquirer"}}})
	if err != nil || sdk.HasErrors(res.GetDiagnostics()) {
		f.Fatalf("Configure: %v %v", err, res.GetDiagnostics())
	}
	f.Cleanup(func() { p.Close() })
	approved := map[string]bool{}
	seq := 0
	f.Fuzz(func(t *testing.T, merchant, keyID string, amount int64, currency, ref string, skewMS int64, sig []byte, sign bool) {
		seq++
		o := &pb.Order{PaymentId: "pay_fuzz_" + hex.EncodeToString([]byte{byte(seq >> 8), byte(seq)}), MerchantId: merchant, AcquirerId: "acq",
			IssuerId: "iss", AmountMinor: amount, Currency: currency, Method: pb.Method_METHOD_CARD, OrderRef: ref,
			ExpiresAtUnix: time.Now().Add(time.Hour).Unix()}
		signedAt := time.Now().UnixMilli() + skewMS
		genuine := ed25519.Sign(fuzzSeller, order.SellerMessage(order.TermsDigest(o), signedAt))
		if sign {
			sig = genuine
		}
		d := order.Digest(o)
		res, err := p.AuthenticateSeller(context.Background(), &pb.AuthenticateSellerRequest{InstanceId: "acq", Order: o,
			OrderDigest: d[:], SellerKeyId: keyID, SellerSignature: sig, SignedAtUnixMs: signedAt})
		if err != nil {
			return // refused as invalid: nothing approved
		}
		if res.GetVerdict() != pb.Verdict_VERDICT_APPROVED {
			return
		}
		if merchant != "shop" || keyID != "k1" || !bytes.Equal(sig, genuine) {
			t.Fatalf("approved a signature that is not the seller's over these terms: merchant %q key %q", merchant, keyID)
		}
		if skewMS < -300000 || skewMS > 300000 {
			t.Fatalf("approved a signature %d ms off the clock, outside the 300 s window", skewMS)
		}
		if approved[string(sig)] {
			t.Fatal("approved the same seller signature twice")
		}
		approved[string(sig)] = true
	})
}

// FuzzBankAccount feeds arbitrary bank codes and account numbers to the
// banktransfer plugin's ResolveInstrument (step A). It must never panic,
// approve only a seeded account of its own bank code, and never echo the
// account number in a response or an error.
func FuzzBankAccount(f *testing.F) {
	acct := luhn("123456789")
	for _, s := range [][2]string{{"0011", acct}, {"0011", luhn("987654321")}, {"0012", acct}, {"", ""},
		{"0011", acct + "0"}, {"0011", "12345678901234567890123456789"}, {"0011", "DE89 3704 0044 0532 0130 00"}, {"0011", "1234\x00567890"}} {
		f.Add(s[0], s[1])
	}
	cfg, _ := json.Marshal(map[string]any{"token_key": strings.Repeat("ab", 32),
		"account": []any{map[string]any{"number": acct, "holder": "alice", "balance": 1000, "currency": "EUR"}}})
	p := banktransferplugin.New()
	// The ledger lives in the host (host_state); this test is its host,
	// with an empty state.
	if err := p.LoadState(context.Background(), "bank", nil); err != nil {
		f.Fatal(err)
	}
	res, err := p.Configure(context.Background(), &pb.ConfigureRequest{InstanceId: "bank", Kind: pb.Kind_KIND_PAYMENT_METHOD,
		Method: pb.Method_METHOD_BANK_TRANSFER, ConfigJson: cfg, DataDir: f.TempDir(),
		Institution: &pb.InstitutionInfo{Id: "bank", BankCode: "0011", Roles: []string{"issuer"}}})
	if err != nil || sdk.HasErrors(res.GetDiagnostics()) {
		f.Fatalf("Configure: %v %v", err, res.GetDiagnostics())
	}
	f.Cleanup(func() { p.Close() })
	f.Fuzz(func(t *testing.T, bankCode, number string) {
		res, err := p.ResolveInstrument(context.Background(), &pb.ResolveInstrumentRequest{InstanceId: "bank",
			Instrument: &pb.ResolveInstrumentRequest_Account{Account: &pb.AccountInstrument{BankCode: bankCode, AccountNumber: number}}})
		if len(number) >= 6 {
			if err != nil && strings.Contains(err.Error(), number) {
				t.Fatalf("error echoes the account number: %v", err)
			}
			if res != nil && strings.Contains(res.String(), number) {
				t.Fatalf("response echoes the account number: %v", res)
			}
		}
		approved := err == nil && res.GetVerdict() == pb.Verdict_VERDICT_APPROVED
		if approved != (bankCode == "0011" && number == acct) {
			t.Fatalf("verdict %v (err %v) for bank %q account %q", res.GetVerdict(), err, bankCode, number)
		}
	})
}

// FuzzListCursor feeds arbitrary merchant ids, cursors and limits to the
// store's payment listing (the cursor comes from the API's query string).
// It must never panic, list only the named merchant's payments, never
// more than the limit, and refuse another merchant's payment id as a
// cursor (ErrInvalidCursor), so a cursor cannot reveal other merchants'
// payments.
func FuzzListCursor(f *testing.F) {
	st, err := store.Open(filepath.Join(f.TempDir(), "switchd.db"), store.Options{NoSync: true})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { st.Close() })
	owner := map[string]string{}
	now := time.Now()
	err = st.Update(context.Background(), func(tx store.Tx) error {
		for i := 0; i < 12; i++ {
			m := []string{"shop", "other", "sho"}[i%3]
			id := fmt.Sprintf("pay_%024d", i)
			owner[id] = m
			p := &store.Payment{ID: id, MerchantID: m, AcquirerID: "acq", AmountMinor: 100, Currency: "EUR", OrderRef: "r",
				CreatedAt: now.Add(time.Duration(i) * time.Second), ExpiresAt: now.Add(time.Hour), State: "created", TokenHash: fmt.Sprintf("%064d", i)}
			if err := tx.PutPayment(p); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Add("shop", "", 2)
	f.Add("shop", "pay_000000000000000000000003", 100)
	f.Add("shop", "pay_000000000000000000000001", 5)
	f.Add("sho", "pay_000000000000000000000000", 0)
	f.Add("", "\x00", -1)
	f.Fuzz(func(t *testing.T, merchant, cursor string, limit int) {
		err := st.View(context.Background(), func(tx store.Tx) error {
			ps, next, err := tx.ListPayments(merchant, cursor, limit)
			if cursor != "" && owner[cursor] != "" && owner[cursor] != merchant {
				if !errors.Is(err, store.ErrInvalidCursor) {
					t.Fatalf("merchant %q listed after %s's payment %s: %v", merchant, owner[cursor], cursor, err)
				}
				return nil
			}
			if err != nil {
				return nil
			}
			if limit > 0 && len(ps) > limit {
				t.Fatalf("limit %d, got %d", limit, len(ps))
			}
			for _, p := range ps {
				if p.MerchantID != merchant {
					t.Fatalf("merchant %q listed %s's payment %s", merchant, p.MerchantID, p.ID)
				}
			}
			if next != "" && owner[next] != merchant {
				t.Fatalf("next cursor %q is not one of %q's payments", next, merchant)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}
