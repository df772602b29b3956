package amount

import (
	"errors"
	"math"
	"strconv"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		currency string
		want     int64
		err      error
	}{
		{name: "euro with cents", in: "12.34", currency: "EUR", want: 1234},
		{name: "euro one decimal", in: "12.5", currency: "EUR", want: 1250},
		{name: "euro whole", in: "12", currency: "EUR", want: 1200},
		{name: "euro below one", in: "0.05", currency: "EUR", want: 5},
		{name: "yen", in: "500", currency: "JPY", want: 500},
		{name: "won", in: "1000", currency: "KRW", want: 1000},
		{name: "dinar three places", in: "1.234", currency: "BHD", want: 1234},
		{name: "clf four places", in: "1.0001", currency: "CLF", want: 10001},
		{name: "largest", in: "92233720368547758.07", currency: "USD", want: math.MaxInt64},
		{name: "too many decimals", in: "12.345", currency: "EUR", err: ErrTooManyDecimals},
		{name: "trailing zero past minor unit", in: "12.340", currency: "EUR", err: ErrTooManyDecimals},
		{name: "decimals for yen", in: "500.0", currency: "JPY", err: ErrTooManyDecimals},
		{name: "zero", in: "0", currency: "EUR", err: ErrNotPositive},
		{name: "zero with cents", in: "0.00", currency: "EUR", err: ErrNotPositive},
		{name: "negative", in: "-1.00", currency: "EUR", err: ErrSyntax},
		{name: "plus sign", in: "+1.00", currency: "EUR", err: ErrSyntax},
		{name: "exponent", in: "1e3", currency: "EUR", err: ErrSyntax},
		{name: "comma", in: "1,000.00", currency: "EUR", err: ErrSyntax},
		{name: "space", in: " 1.00", currency: "EUR", err: ErrSyntax},
		{name: "empty", in: "", currency: "EUR", err: ErrSyntax},
		{name: "point only", in: ".", currency: "EUR", err: ErrSyntax},
		{name: "no integer part", in: ".50", currency: "EUR", err: ErrSyntax},
		{name: "no fraction", in: "1.", currency: "EUR", err: ErrSyntax},
		{name: "two points", in: "1.2.3", currency: "EUR", err: ErrSyntax},
		{name: "leading zero", in: "012.34", currency: "EUR", err: ErrSyntax},
		{name: "unicode digit", in: "١٢", currency: "JPY", err: ErrSyntax},
		{name: "overflow", in: "92233720368547758.08", currency: "USD", err: ErrOverflow},
		{name: "huge", in: "99999999999999999999999999", currency: "JPY", err: ErrOverflow},
		{name: "unknown currency", in: "1.00", currency: "XYZ", err: ErrUnknownCurrency},
		{name: "lower-case currency", in: "1.00", currency: "eur", err: ErrUnknownCurrency},
		{name: "empty currency", in: "1.00", currency: "", err: ErrUnknownCurrency},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.in, tt.currency)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("Parse(%q, %q) error = %v, want %v", tt.in, tt.currency, err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("Parse(%q, %q) = %d, %v; want %d", tt.in, tt.currency, got, err, tt.want)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name     string
		minor    int64
		currency string
		err      error
	}{
		{name: "ok", minor: 1, currency: "EUR"},
		{name: "zero", minor: 0, currency: "EUR", err: ErrNotPositive},
		{name: "negative", minor: -5, currency: "KRW", err: ErrNotPositive},
		{name: "unknown", minor: 5, currency: "ABC", err: ErrUnknownCurrency},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := Check(tt.minor, tt.currency); !errors.Is(err, tt.err) {
				t.Fatalf("Check(%d, %q) = %v, want %v", tt.minor, tt.currency, err, tt.err)
			}
		})
	}
}

func TestFormat(t *testing.T) {
	tests := []struct {
		minor    int64
		currency string
		want     string
	}{
		{1234, "EUR", "12.34"},
		{5, "EUR", "0.05"},
		{500, "JPY", "500"},
		{1, "BHD", "0.001"},
		{-150, "USD", "-1.50"},
		{math.MinInt64, "USD", "-92233720368547758.08"},
	}
	for _, tt := range tests {
		t.Run(tt.currency+"/"+strconv.FormatInt(tt.minor, 10), func(t *testing.T) {
			if got := Format(tt.minor, tt.currency); got != tt.want {
				t.Fatalf("Format(%d, %q) = %q, want %q", tt.minor, tt.currency, got, tt.want)
			}
		})
	}
}

// FuzzParseAmount checks that Parse never panics, only accepts positive
// amounts, and that whatever it accepts formats back to a string that
// parses to the same value.
func FuzzParseAmount(f *testing.F) {
	for _, s := range []struct{ amount, currency string }{
		{"12.34", "EUR"}, {"0.01", "USD"}, {"1000", "KRW"}, {"1.234", "BHD"}, {"12.345", "EUR"},
		{"-1", "EUR"}, {"1e9", "EUR"}, {"92233720368547758.07", "USD"}, {"92233720368547758.08", "USD"},
		{"", ""}, {"0", "JPY"}, {"00.1", "EUR"}, {"1.0001", "CLF"}, {"1.00", "eur"},
	} {
		f.Add(s.amount, s.currency)
	}
	f.Fuzz(func(t *testing.T, s, currency string) {
		v, err := Parse(s, currency)
		if err != nil {
			if v != 0 {
				t.Fatalf("Parse(%q, %q) returned %d with error %v", s, currency, v, err)
			}
			return
		}
		if v <= 0 {
			t.Fatalf("Parse(%q, %q) = %d, want > 0", s, currency, v)
		}
		out := Format(v, currency)
		back, err := Parse(out, currency)
		if err != nil || back != v {
			t.Fatalf("round trip %q -> %d -> %q -> %d, %v", s, v, out, back, err)
		}
	})
}

func BenchmarkParse(b *testing.B) {
	for b.Loop() {
		if _, err := Parse("123456.78", "EUR"); err != nil {
			b.Fatal(err)
		}
	}
}
