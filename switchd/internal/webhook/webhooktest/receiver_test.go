package webhooktest

import (
	"bytes"
	"net/http"
	"testing"
	"time"

	"github.com/switchd/switchd/switchd/internal/webhook"
)

// TestReceiver: a signed delivery is recorded under its webhook-id (twice
// counts as a redelivery), one with another secret's signature or a body
// that is not JSON is refused and counted, and every body is kept.
func TestReceiver(t *testing.T) {
	r := NewReceiver(t)
	post := func(secret, id string, body []byte) int {
		t.Helper()
		h, err := webhook.Sign(secret, id, time.Now(), body)
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest(http.MethodPost, r.URL(), bytes.NewReader(body))
		req.Header = h
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	ok := []byte(`{"type":"payment.approved","data":{"id":"pay_1"}}`)
	for range 2 {
		if code := post(r.Secret(), "msg_1", ok); code != http.StatusOK {
			t.Fatalf("signed delivery answered %d", code)
		}
	}
	other, _ := webhook.NewSecret()
	if code := post(other, "msg_2", ok); code != http.StatusBadRequest {
		t.Fatalf("delivery signed with another secret answered %d", code)
	}
	if code := post(r.Secret(), "msg_3", []byte("not json")); code != http.StatusBadRequest {
		t.Fatalf("non-JSON delivery answered %d", code)
	}
	hooks := r.Hooks()
	if len(hooks) != 1 || hooks[0] != (Hook{ID: "msg_1", Type: "payment.approved", PaymentID: "pay_1", Deliveries: 2}) {
		t.Fatalf("hooks %+v", hooks)
	}
	if r.Bad() != 2 || len(r.Bodies()) != 4 {
		t.Fatalf("bad %d, bodies %d; want 2 and 4", r.Bad(), len(r.Bodies()))
	}
	if ids := r.EventIDs("payment.approved"); len(ids["pay_1"]) != 1 {
		t.Fatalf("EventIDs %v", ids)
	}
	r.WaitFor(t, "pay_1", "payment.approved", time.Second)
}
