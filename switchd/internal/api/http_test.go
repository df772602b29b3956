package api

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestOverRealHTTP runs the public handler behind a real HTTP server, with
// bodies streamed without Content-Length, to check the limits hold on the
// wire and the access log holds no credential.
func TestOverRealHTTP(t *testing.T) {
	ts := mustServer(t, nil)
	srv := httptest.NewServer(ts.public)
	t.Cleanup(srv.Close)

	post := func(body io.Reader) *http.Response {
		t.Helper()
		r, err := http.NewRequest("POST", srv.URL+"/v1/payments", body)
		if err != nil {
			t.Fatal(err)
		}
		r.Header.Set("Authorization", "Bearer "+keyShop)
		r.Header.Set("Content-Type", "application/json")
		res, err := srv.Client().Do(r)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { res.Body.Close() })
		return res
	}
	t.Run("streamed oversized body is cut at the limit", func(t *testing.T) {
		// An endless body: the server must stop reading at 64 KiB.
		pr, pw := io.Pipe()
		go func() {
			_, _ = pw.Write([]byte(`{"description":"`))
			chunk := []byte(strings.Repeat("x", 4096))
			for {
				if _, err := pw.Write(chunk); err != nil {
					return
				}
			}
		}()
		res := post(pr)
		_ = pr.CloseWithError(io.EOF)
		var p Problem
		if err := json.NewDecoder(res.Body).Decode(&p); err != nil || res.StatusCode != 413 || p.Code != CodeBodyTooLarge {
			t.Fatalf("%d %+v %v", res.StatusCode, p, err)
		}
	})
	t.Run("chunked valid body", func(t *testing.T) {
		res := post(io.MultiReader(strings.NewReader(`{"amount":"1.00",`), strings.NewReader(`"currency":"EUR","order_ref":"o"}`)))
		if res.StatusCode != http.StatusCreated {
			b, _ := io.ReadAll(res.Body)
			t.Fatalf("%d %s", res.StatusCode, b)
		}
	})
	if strings.Contains(ts.logs.String(), keyShop) || strings.Contains(ts.logs.String(), "Bearer") {
		t.Fatalf("log holds the API key: %s", ts.logs)
	}
	if ts.engine.creates != 1 {
		t.Fatalf("creates = %d, want 1", ts.engine.creates)
	}
}
