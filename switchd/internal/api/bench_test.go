package api

import (
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkCreatePayment measures the API's own cost of a create (auth,
// rate limit, limits, decode, validation, hashing, rendering, logging,
// metrics) over the in-memory fake engine.
func BenchmarkCreatePayment(b *testing.B) {
	ts := mustServer(b, func(o *Options) { o.Limits.MerchantBurst = 1 << 30 })
	body := `{"amount":"12.34","currency":"EUR","order_ref":"o-1","lines":[{"name":"tea","quantity":2,"amount_minor":617}],
		"return_url":"https://shop.test/done","expires_at":"2026-03-01T12:10:00Z"}`
	b.ReportAllocs()
	for b.Loop() {
		w := ts.do(b, ts.public, req{method: "POST", path: "/v1/payments", key: keyShop, body: body})
		if w.Code != http.StatusCreated {
			b.Fatalf("%d %s", w.Code, w.Body)
		}
	}
}

// BenchmarkCheckJSONDeep measures the depth scan on a hostile 64 KiB body
// of nested arrays, rejected at depth 33.
func BenchmarkCheckJSONDeep(b *testing.B) {
	body := []byte(strings.Repeat("[", 32<<10) + strings.Repeat("]", 32<<10))
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if p := checkJSON(body, 32); p == nil || p.Code != CodeJSONTooDeep {
			b.Fatal("not rejected")
		}
	}
}

// BenchmarkCheckJSONFlat measures the scan of an accepted 64 KiB body.
func BenchmarkCheckJSONFlat(b *testing.B) {
	body := []byte(`{"a":[` + strings.Repeat(`"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",`, 1500) + `1]}`)
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if p := checkJSON(body, 32); p != nil {
			b.Fatal(p.Detail)
		}
	}
}

// BenchmarkPayerLimiterChurn is the payer limiter at 1000 new payments a
// second (fake clock), each taking its three step attempts: buckets refill
// in 15 s, so about 15000 are live at once, more than maxKeys.
func BenchmarkPayerLimiterChurn(b *testing.B) {
	l := newKeyedLimiter[[32]byte](0.2, 10)
	now := fakeNow
	i := 0
	for b.Loop() {
		key := tokenKey(strconv.Itoa(i))
		i++
		now = now.Add(time.Millisecond)
		for range 3 {
			if ok, _ := l.allow(key, now); !ok {
				b.Fatal("limited")
			}
		}
	}
}

// BenchmarkPayerSteps measures the API's own cost of the payer's steps of
// a payment, auth/begin and auth/finish (token check, rate limit, limits,
// body, rendering, logging, metrics), over the in-memory fake engine, with
// the access log written (info) and off (warn, as the bench daemon runs).
func BenchmarkPayerSteps(b *testing.B) {
	for _, level := range []slog.Level{slog.LevelInfo, slog.LevelWarn} {
		b.Run("log="+level.String(), func(b *testing.B) {
			ts := mustServer(b, func(o *Options) {
				o.Limits.PayerBurst = 1 << 30
				o.Logger = slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: level}))
			})
			_, token := ts.mustCreate(b, keyShop)
			b.ReportAllocs()
			for b.Loop() {
				for _, step := range []string{"begin", "finish"} {
					w := ts.do(b, ts.public, req{method: "POST", path: "/v1/pay/" + token + "/auth/" + step, body: `{"response":"123456"}`})
					if w.Code != http.StatusOK {
						b.Fatalf("%s: %d %s", step, w.Code, w.Body)
					}
				}
			}
		})
	}
}
