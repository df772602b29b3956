package cardplugin

import (
	"context"
	"strings"
	"testing"
	"time"

	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
)

// FuzzResolveInstrument feeds arbitrary card input to ResolveInstrument:
// it must never fail with an error or panic, must decline anything that is
// not a seeded card, and must never echo a number of 12 or more digits.
func FuzzResolveInstrument(f *testing.F) {
	for _, s := range []struct {
		pan         string
		month, year uint32
	}{
		{alicePAN, 12, 2029}, {"4111111111111112", 12, 2029}, {"", 0, 0}, {"4111 1111 1111 1111", 1, 2030},
		{"41111111111111111111111", 12, 2029}, {"5555555555554444", 13, 9999}, {"411111\x00111111111", 12, 2029},
	} {
		f.Add(s.pan, s.month, s.year)
	}
	p, _ := MustConfigure(f, issuerConfig())
	f.Fuzz(func(t *testing.T, pan string, month, year uint32) {
		res, err := p.ResolveInstrument(context.Background(), &pb.ResolveInstrumentRequest{
			InstanceId: "bank-a",
			Instrument: &pb.ResolveInstrumentRequest_Card{Card: &pb.CardInstrument{Pan: pan, ExpiryMonth: month, ExpiryYear: year}},
		})
		if err != nil {
			t.Fatalf("error for card input: %v", err)
		}
		approved := res.GetVerdict() == pb.Verdict_VERDICT_APPROVED
		if approved != (pan == alicePAN && month == 12 && year == 2029) {
			t.Fatalf("verdict %v for %q %d/%d", res.GetVerdict(), pan, month, year)
		}
		if len(pan) >= 12 && strings.Contains(res.String(), pan) {
			t.Fatalf("response echoes the input: %v", res)
		}
	})
}

// FuzzParseExpiry checks that a parsed expiry round-trips and that parsing
// never panics.
func FuzzParseExpiry(f *testing.F) {
	for _, s := range []string{"12/29", "00/00", "13/01", "1/1", "ab/cd", "", "/", "12/-1", "+1/29"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := ParseExpiry(s)
		if err != nil {
			return
		}
		if e.Month < 1 || e.Month > 12 || e.Year < 2000 || e.Year > 2099 {
			t.Fatalf("ParseExpiry(%q) = %+v", s, e)
		}
		if e.String() != s {
			t.Fatalf("ParseExpiry(%q) = %s: accepted a non-canonical form", s, e)
		}
		_ = e.Expired(time.Now())
	})
}
