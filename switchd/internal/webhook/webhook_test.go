package webhook_test

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/switchd/switchd/switchd/internal/webhook"
)

// The vector from the Standard Webhooks reference libraries
// (standard-webhooks/standard-webhooks, libraries/go/webhook_test.go,
// TestWebhookSign): any conforming library produces and accepts it.
const (
	specSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	specID     = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	specTS     = 1614265330
	specBody   = `{"test": 2432232314}`
	specSig    = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

func TestSignMatchesSpecVector(t *testing.T) {
	h, err := webhook.Sign(specSecret, specID, time.Unix(specTS, 0), []byte(specBody))
	if err != nil {
		t.Fatal(err)
	}
	if got := h.Get("webhook-signature"); got != specSig {
		t.Errorf("signature = %s, want %s", got, specSig)
	}
	if got := h.Get("webhook-id"); got != specID {
		t.Errorf("webhook-id = %s", got)
	}
	if got := h.Get("webhook-timestamp"); got != strconv.Itoa(specTS) {
		t.Errorf("webhook-timestamp = %s", got)
	}
}

func specHeaders() http.Header {
	h := http.Header{}
	h.Set("webhook-id", specID)
	h.Set("webhook-timestamp", strconv.Itoa(specTS))
	h.Set("webhook-signature", specSig)
	return h
}

func TestVerify(t *testing.T) {
	now := time.Unix(specTS, 0).Add(time.Minute)
	other, _ := webhook.NewSecret()
	tests := []struct {
		name   string
		secret string
		edit   func(h http.Header)
		body   string
		now    time.Time
		want   error
	}{
		{name: "spec vector", want: nil},
		{name: "secret without prefix", secret: strings.TrimPrefix(specSecret, "whsec_")},
		{name: "one of several signatures", edit: func(h http.Header) {
			h.Set("webhook-signature", "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= v2,abc "+specSig+" garbage")
		}},
		{name: "other version with right value", edit: func(h http.Header) {
			h.Set("webhook-signature", "v2,"+strings.TrimPrefix(specSig, "v1,"))
		}, want: webhook.ErrNoMatchingSignature},
		{name: "tampered body", body: `{"test": 2432232315}`, want: webhook.ErrNoMatchingSignature},
		{name: "other id", edit: func(h http.Header) { h.Set("webhook-id", "msg_other") }, want: webhook.ErrNoMatchingSignature},
		{name: "other secret", secret: other, want: webhook.ErrNoMatchingSignature},
		{name: "shifted timestamp", edit: func(h http.Header) { h.Set("webhook-timestamp", strconv.Itoa(specTS+1)) }, want: webhook.ErrNoMatchingSignature},
		{name: "stale", now: time.Unix(specTS, 0).Add(5*time.Minute + time.Second), want: webhook.ErrTimestampTooOld},
		{name: "future", now: time.Unix(specTS, 0).Add(-5*time.Minute - time.Second), want: webhook.ErrTimestampTooNew},
		{name: "edge of tolerance", now: time.Unix(specTS, 0).Add(5 * time.Minute)},
		{name: "no id", edit: func(h http.Header) { h.Del("webhook-id") }, want: webhook.ErrMissingHeader},
		{name: "no timestamp", edit: func(h http.Header) { h.Del("webhook-timestamp") }, want: webhook.ErrMissingHeader},
		{name: "no signature", edit: func(h http.Header) { h.Del("webhook-signature") }, want: webhook.ErrMissingHeader},
		{name: "bad timestamp", edit: func(h http.Header) { h.Set("webhook-timestamp", "yesterday") }, want: webhook.ErrInvalidTimestamp},
		{name: "secret not base64", secret: "whsec_!!!", want: webhook.ErrSecretEncoding},
		{name: "secret too short", secret: "whsec_c2hvcnQ=", want: webhook.ErrSecretLength},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			secret, body, at := specSecret, specBody, now
			if tt.secret != "" {
				secret = tt.secret
			}
			if tt.body != "" {
				body = tt.body
			}
			if !tt.now.IsZero() {
				at = tt.now
			}
			h := specHeaders()
			if tt.edit != nil {
				tt.edit(h)
			}
			err := webhook.VerifyAt(secret, h, []byte(body), 0, at)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("VerifyAt = %v, want %v", err, tt.want)
			}
			if err != nil && strings.Contains(err.Error(), strings.TrimPrefix(secret, "whsec_")) {
				t.Fatalf("error %q contains the secret", err)
			}
		})
	}
}

func TestSignVerifyRoundTrip(t *testing.T) {
	secret, err := webhook.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(secret, "whsec_") {
		t.Fatalf("NewSecret = %q", secret)
	}
	body := []byte(`{"type":"payment.approved"}`)
	h, err := webhook.Sign(secret, "out_123", time.Now(), body)
	if err != nil {
		t.Fatal(err)
	}
	if err := webhook.Verify(secret, h, body, time.Minute); err != nil {
		t.Fatal(err)
	}
}

func TestSignRejectsBadInput(t *testing.T) {
	tests := []struct {
		name, secret, id string
		want             error
	}{
		{"empty id", specSecret, "", webhook.ErrInvalidID},
		{"id with newline", specSecret, "a\nb", webhook.ErrInvalidID},
		{"id with space", specSecret, "a b", webhook.ErrInvalidID},
		{"bad secret", "whsec_%%%", "id", webhook.ErrSecretEncoding},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := webhook.Sign(tt.secret, tt.id, time.Now(), nil)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Sign = %v, want %v", err, tt.want)
			}
		})
	}
}

// FuzzVerify feeds arbitrary secrets and headers to Verify: it must never
// panic, never accept a signature it did not compute, and never echo the
// secret in an error.
func FuzzVerify(f *testing.F) {
	f.Add(specSecret, specID, strconv.Itoa(specTS), specSig, specBody)
	f.Add(specSecret, specID, strconv.Itoa(specTS), "v1,"+strings.Repeat("A", 44), specBody)
	f.Add("whsec_", "", "", "", "")
	f.Add("whsec_====", "id", "-9223372036854775808", "v1, v1,,", "x")
	f.Add("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg", "99999999999999999999", "v1", "")
	f.Fuzz(func(t *testing.T, secret, id, ts, sigs, body string) {
		h := http.Header{}
		h.Set("webhook-id", id)
		h.Set("webhook-timestamp", ts)
		h.Set("webhook-signature", sigs)
		now := time.Unix(specTS, 0)
		err := webhook.VerifyAt(secret, h, []byte(body), time.Hour, now)
		key, perr := webhook.ParseSecret(secret)
		if perr != nil {
			if err == nil {
				t.Fatalf("accepted with an unparsable secret")
			}
			if len(secret) > 8 && strings.Contains(err.Error(), secret) {
				t.Fatalf("error contains the secret")
			}
			return
		}
		if err == nil {
			// Accepted: one of the signatures must be the real one.
			secs, _ := strconv.ParseInt(strings.TrimSpace(h.Get("webhook-timestamp")), 10, 64)
			want := webhook.Signature(key, h.Get("webhook-id"), time.Unix(secs, 0), []byte(body))
			if !strings.Contains(sigs, want) {
				t.Fatalf("accepted signature %q, real one is %q", sigs, want)
			}
		}
	})
}
