package api

import (
	"bytes"
	"image/png"
	"net/http"
	"testing"
)

func TestPaymentQR(t *testing.T) {
	ts := mustServer(t, nil)
	id, _ := ts.mustCreate(t, keyShop)

	w := ts.do(t, ts.public, req{method: "GET", path: "/v1/payments/" + id + "/qr.png", key: keyShop})
	if w.Code != http.StatusOK || w.Header().Get("Content-Type") != "image/png" {
		t.Fatalf("status %d, type %q: %s", w.Code, w.Header().Get("Content-Type"), w.Body)
	}
	img, err := png.Decode(bytes.NewReader(w.Body.Bytes()))
	if err != nil {
		t.Fatalf("not a PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() < 200 || b.Dx() != b.Dy() {
		t.Fatalf("QR image is %v, want a square of at least 200px", b)
	}

	ts.engine.payments[id].State = "approved"
	w = ts.do(t, ts.public, req{method: "GET", path: "/v1/payments/" + id + "/qr.png", key: keyShop})
	mustProblem(t, w, http.StatusConflict, CodePaymentFinal)
}
