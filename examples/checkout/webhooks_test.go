package checkout_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/switchd/switchd/examples/checkout"
)

// sign signs body as a Standard Webhooks sender would (switchd's own
// signer is checked against VerifyWebhook in switchd/cmd/switchd).
func sign(secret []byte, id string, ts time.Time, body []byte) http.Header {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(id + "." + strconv.FormatInt(ts.Unix(), 10) + "."))
	m.Write(body)
	h := http.Header{}
	h.Set("webhook-id", id)
	h.Set("webhook-timestamp", strconv.FormatInt(ts.Unix(), 10))
	h.Set("webhook-signature", "v1,"+base64.StdEncoding.EncodeToString(m.Sum(nil)))
	return h
}

// TestWebhooksRefuseForgeries: the store's endpoint answers 400 to a
// delivery whose signature does not verify and never reports it; a genuine
// one is reported to the waiting payment.
func TestWebhooksRefuseForgeries(t *testing.T) {
	key := bytes.Repeat([]byte{5}, 32)
	secret := "whsec_" + base64.StdEncoding.EncodeToString(key)
	w, err := checkout.ListenWebhooks("127.0.0.1:0", secret)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	body := []byte(`{"type":"payment.approved","timestamp":"2026-11-25T20:00:00Z","data":{"id":"pay_x"}}`)
	post := func(h http.Header, b []byte) int {
		req, _ := http.NewRequest("POST", "http://"+w.Addr()+"/webhooks", bytes.NewReader(b))
		for k, v := range h {
			req.Header[k] = v
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	w.Expect("pay_x")
	tests := []struct {
		name   string
		header http.Header
		body   []byte
	}{
		{"other key", sign(bytes.Repeat([]byte{6}, 32), "wh_1", time.Now(), body), body},
		{"body changed after signing", sign(key, "wh_1", time.Now(), body), bytes.Replace(body, []byte("pay_x"), []byte("pay_y"), 1)},
		{"replayed an hour later", sign(key, "wh_1", time.Now().Add(-time.Hour), body), body},
		{"unsigned", http.Header{}, body},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if st := post(tt.header, tt.body); st != http.StatusBadRequest {
				t.Fatalf("status %d, want 400", st)
			}
			if w.Rejected() != i+1 {
				t.Fatalf("rejected %d, want %d", w.Rejected(), i+1)
			}
		})
	}
	if _, err := w.Wait(context.Background(), "pay_x", 100*time.Millisecond); !errors.Is(err, checkout.ErrNoWebhook) {
		t.Fatalf("a forged webhook was reported: %v", err)
	}
	if st := post(sign(key, "wh_2", time.Now(), body), body); st != http.StatusNoContent {
		t.Fatalf("genuine delivery: status %d", st)
	}
	ev, err := w.Wait(context.Background(), "pay_x", 5*time.Second)
	if err != nil || ev.Type != "payment.approved" || ev.ID != "wh_2" {
		t.Fatalf("genuine delivery: %+v %v", ev, err)
	}
}
