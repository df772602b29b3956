package cardplugin

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// withCheckDigit appends the Luhn check digit to the digit string s.
func withCheckDigit(s string) string {
	for d := '0'; d <= '9'; d++ {
		if Luhn(s + string(d)) {
			return s + string(d)
		}
	}
	panic("unreachable")
}

func TestLuhn(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"4111111111111111", true},
		{"4111111111111112", false},
		{"5555555555554444", true},
		{"378282246310005", true},
		{"79927398713", true},
		{"79927398710", false},
		{"0", true},
		{"", false},
		{"4111-1111", false},
		{"411111111111111a", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := Luhn(tt.in); got != tt.want {
				t.Errorf("Luhn(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestValidatePAN(t *testing.T) {
	tests := []struct {
		name string
		pan  string
		want error
	}{
		{name: "visa 16", pan: "4111111111111111"},
		{name: "12 digits", pan: withCheckDigit("41111111111")},
		{name: "19 digits", pan: withCheckDigit("411111111111111111")},
		{name: "11 digits", pan: withCheckDigit("4111111111"), want: ErrPANLength},
		{name: "20 digits", pan: withCheckDigit("4111111111111111111"), want: ErrPANLength},
		{name: "empty", pan: "", want: ErrPANLength},
		{name: "spaces", pan: "4111 1111 1111 1111", want: ErrPANNotDigits},
		{name: "dashes", pan: "4111-1111-1111-1111", want: ErrPANNotDigits},
		{name: "unicode digit", pan: "411111111111111١", want: ErrPANNotDigits},
		{name: "bad check digit", pan: "4111111111111112", want: ErrPANLuhn},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidatePAN(tt.pan)
			if !errors.Is(err, tt.want) {
				t.Fatalf("ValidatePAN = %v, want %v", err, tt.want)
			}
			if err != nil && tt.pan != "" && strings.Contains(err.Error(), tt.pan) {
				t.Errorf("error %q contains the card number", err)
			}
		})
	}
}

func TestTokenize(t *testing.T) {
	k1 := []byte("0123456789abcdef0123456789abcdef")
	k2 := []byte("fedcba9876543210fedcba9876543210")
	pan := "4111111111111111"
	t1 := Tokenize(k1, pan)
	if t1 != Tokenize(k1, pan) {
		t.Fatal("tokenization is not deterministic")
	}
	if !strings.HasPrefix(t1, tokenPrefix) {
		t.Errorf("token %q lacks prefix %q", t1, tokenPrefix)
	}
	if t1 == Tokenize(k2, pan) {
		t.Error("token does not depend on the key")
	}
	if t1 == Tokenize(k1, "5555555555554444") {
		t.Error("two cards share a token")
	}
	for _, part := range []string{pan, pan[:6], pan[len(pan)-4:]} {
		if strings.Contains(t1, part) {
			t.Errorf("token %q reveals %q", t1, part)
		}
	}
}

func TestDecodeKey(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		wantLen int
		wantErr error
	}{
		{name: "hex 32", in: strings.Repeat("ab", 32), wantLen: 32},
		{name: "base64 std", in: "q83vASNFZ4mrze8BI0VniQ==", wantLen: 16},
		{name: "base64 raw url", in: "q83vASNFZ4mrze8BI0VniQ", wantLen: 16},
		{name: "hex too short", in: "abcd", wantErr: ErrKeyShort},
		{name: "empty", in: "", wantErr: ErrKeyEncoding},
		{name: "garbage", in: "not a key!!", wantErr: ErrKeyEncoding},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := DecodeKey(tt.in)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if len(k) != tt.wantLen {
				t.Errorf("len = %d, want %d", len(k), tt.wantLen)
			}
		})
	}
}

func TestExpiry(t *testing.T) {
	now := time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC)
	tests := []struct {
		in          string
		wantErr     bool
		wantExpired bool
	}{
		{in: "11/26"},
		{in: "12/26"},
		{in: "01/40"},
		{in: "10/26", wantExpired: true},
		{in: "12/25", wantExpired: true},
		{in: "13/26", wantErr: true},
		{in: "00/26", wantErr: true},
		{in: "1/26", wantErr: true},
		{in: "11/2026", wantErr: true},
		{in: "1126", wantErr: true},
		{in: "ab/cd", wantErr: true},
		{in: "+1/29", wantErr: true},
		{in: "12/+9", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			e, err := ParseExpiry(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if e.String() != tt.in {
				t.Errorf("String() = %q", e.String())
			}
			if got := e.Expired(now); got != tt.wantExpired {
				t.Errorf("Expired = %v, want %v", got, tt.wantExpired)
			}
		})
	}
	// The last instant of the expiry month is still valid.
	e := Expiry{Month: 11, Year: 2026}
	if e.Expired(time.Date(2026, 11, 30, 23, 59, 59, 0, time.UTC)) {
		t.Error("card expired before the end of its month")
	}
	if !e.Expired(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)) {
		t.Error("card still valid after its month")
	}
}

func TestDisplay(t *testing.T) {
	tests := []struct{ pan, want string }{
		{"4111111111111111", "VISA ···· 1111"},
		{"5555555555554444", "MASTERCARD ···· 4444"},
		{"2223003122003222", "MASTERCARD ···· 3222"},
		{"378282246310005", "AMEX ···· 0005"},
		{"6011111111111117", "CARD ···· 1117"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := Display(tt.pan); got != tt.want {
				t.Errorf("Display = %q, want %q", got, tt.want)
			}
		})
	}
}
