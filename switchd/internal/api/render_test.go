package api

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/iotest"
)

// TestEncodeJSONMatchesMarshal: responses rendered through the pooled
// encoder are json.Marshal's bytes plus a newline, including HTML
// escaping, for every kind of response value.
func TestEncodeJSONMatchesMarshal(t *testing.T) {
	for _, tc := range []struct {
		name string
		v    any
	}{
		{"problem", invalidFields([]FieldError{{Field: "lines[0].name", Message: "<b>&</b>"}})},
		{"map", map[string]string{"status": "ok", "z": "\u2028"}},
		{"create", createResponse{PayToken: "tok", PaymentPageURL: "https://pay.test/pay/x?a=1&b=2"}},
		{"challenge", challenge{Mechanism: "ocra", ChallengeData: json.RawMessage(`{"q":"<1>"}`)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want, err := json.Marshal(tc.v)
			if err != nil {
				t.Fatal(err)
			}
			want = append(want, '\n')
			for range 2 { // the second time from a reused buffer
				got, err := marshalLine(tc.v)
				if err != nil || !bytes.Equal(got, want) {
					t.Fatalf("marshalLine = %q, %v; want %q", got, err, want)
				}
				w := httptest.NewRecorder()
				writeJSON(w, 200, tc.v)
				if !bytes.Equal(w.Body.Bytes(), want) {
					t.Fatalf("writeJSON wrote %q, want %q", w.Body.Bytes(), want)
				}
			}
		})
	}
}

// TestRequestHash: the idempotency hash is the one stored by earlier
// versions, SHA-256 of "METHOD\npath\n" + json.Marshal(request), so a
// retry after an upgrade still matches.
func TestRequestHash(t *testing.T) {
	amt := "12.34"
	for _, tc := range []struct {
		name string
		req  createRequest
	}{
		{"minimal", createRequest{Amount: &amt, Currency: "EUR", OrderRef: "o-1"}},
		{"lines and escapes", createRequest{Amount: &amt, Currency: "EUR", OrderRef: "<o&1>", Description: "tea \u2028",
			Lines: []lineRequest{{Name: "tea", Quantity: 2, AmountMinor: 617}}, ReturnURL: "https://shop.test/?a=1&b=2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/v1/payments", nil)
			canonical, _ := json.Marshal(tc.req)
			want := sha256.Sum256([]byte("POST\n/v1/payments\n" + string(canonical)))
			got, err := requestHash(r, &tc.req)
			if err != nil || got != want {
				t.Fatalf("requestHash = %x, %v; want %x", got, err, want)
			}
		})
	}
}

// TestReadBody: the body comes back whole whatever Content-Length
// claims, in short reads too, and a read error is returned.
func TestReadBody(t *testing.T) {
	body := strings.Repeat("0123456789", 100)
	for _, tc := range []struct {
		name   string
		r      io.Reader
		length int64
	}{
		{"exact length", strings.NewReader(body), int64(len(body))},
		{"unknown length", strings.NewReader(body), -1},
		{"length too small", strings.NewReader(body), 10},
		{"length too large", strings.NewReader(body), 5000},
		{"length above max", strings.NewReader(body), 1 << 20},
		{"one byte at a time", iotest.OneByteReader(strings.NewReader(body)), int64(len(body))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := readBody(tc.r, tc.length, 64<<10)
			if err != nil || string(got) != body {
				t.Fatalf("readBody = %d bytes, %v; want %d bytes", len(got), err, len(body))
			}
		})
	}
	boom := errors.New("boom")
	if _, err := readBody(iotest.ErrReader(boom), 10, 64<<10); !errors.Is(err, boom) {
		t.Fatalf("read error: %v", err)
	}
}

// TestSum256: the hash of keys and tokens of any length is SHA-256's.
func TestSum256(t *testing.T) {
	for _, n := range []int{0, 1, 43, 128, 129, 1000} {
		s := strings.Repeat("k", n)
		if got, want := sum256(s), sha256.Sum256([]byte(s)); got != want {
			t.Errorf("len %d: %x, want %x", n, got, want)
		}
	}
}
