package resource

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/switchd/switchd/switchd/internal/store"
)

func TestNewPaymentOmitsSecrets(t *testing.T) {
	p := &store.Payment{
		ID: "pay_1", MerchantID: "shop", AcquirerID: "bank-a", AmountMinor: 1234, Currency: "EUR",
		State: "approved", TokenHash: "TOKENHASH", InstrumentToken: "INSTRTOKEN", PayerRef: "PAYERREF",
		SellerSignature: []byte("SELLERSIG"), Attestations: map[string][]byte{"B": []byte("ATTEST")},
		Digest: []byte("DIGEST"), BIN: "411111", Last4: "1111", Display: "Visa •••• 1111",
		Lines:     []store.Line{{Name: "tea", Quantity: 2, AmountMinor: 617}},
		ExpiresAt: time.Date(2026, 1, 1, 12, 0, 0, 0, time.FixedZone("x", 3600)),
	}
	b, err := json.Marshal(NewPayment(p))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, secret := range []string{"TOKENHASH", "INSTRTOKEN", "PAYERREF", "SELLERSIG", "U0VMTEVSU0lH", "ATTEST", "411111", "token_hash"} {
		if strings.Contains(s, secret) {
			t.Errorf("rendered payment contains %q: %s", secret, s)
		}
	}
	for _, want := range []string{`"amount":"12.34"`, `"status":"approved"`, `"last4":"1111"`, `"expires_at":"2026-01-01T11:00:00Z"`, `"name":"tea"`} {
		if !strings.Contains(s, want) {
			t.Errorf("rendered payment lacks %s: %s", want, s)
		}
	}
}
