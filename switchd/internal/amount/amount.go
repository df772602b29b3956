// Package amount parses and formats money amounts in ISO 4217 currencies.
//
// Amounts are carried as int64 counts of the currency's minor unit (cents
// for EUR, yen for JPY, fils for BHD). Parse turns a decimal string such as
// "12.34" into minor units, refusing anything ambiguous: signs, exponents,
// separators, more decimal places than the currency has, zero, and values
// that do not fit in int64.
package amount

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// exponents maps ISO 4217 alphabetic codes to their minor-unit exponent
// (the number of decimal places). Currencies without a minor unit in ISO
// 4217 (precious metals, XXX, XTS) are not listed: they cannot be paid in.
var exponents = map[string]int{
	// Exponent 0.
	"BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0,
	"PYG": 0, "RWF": 0, "UGX": 0, "UYI": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
	// Exponent 3.
	"BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
	// Exponent 4.
	"CLF": 4, "UYW": 4,
	// Exponent 2.
	"AED": 2, "AFN": 2, "ALL": 2, "AMD": 2, "ANG": 2, "AOA": 2, "ARS": 2, "AUD": 2, "AWG": 2,
	"AZN": 2, "BAM": 2, "BBD": 2, "BDT": 2, "BGN": 2, "BMD": 2, "BND": 2, "BOB": 2, "BRL": 2,
	"BSD": 2, "BTN": 2, "BWP": 2, "BYN": 2, "BZD": 2, "CAD": 2, "CDF": 2, "CHF": 2, "CNY": 2,
	"COP": 2, "CRC": 2, "CUP": 2, "CVE": 2, "CZK": 2, "DKK": 2, "DOP": 2, "DZD": 2, "EGP": 2,
	"ERN": 2, "ETB": 2, "EUR": 2, "FJD": 2, "FKP": 2, "GBP": 2, "GEL": 2, "GHS": 2, "GIP": 2,
	"GMD": 2, "GTQ": 2, "GYD": 2, "HKD": 2, "HNL": 2, "HTG": 2, "HUF": 2, "IDR": 2, "ILS": 2,
	"INR": 2, "IRR": 2, "JMD": 2, "KES": 2, "KGS": 2, "KHR": 2, "KPW": 2, "KYD": 2, "KZT": 2,
	"LAK": 2, "LBP": 2, "LKR": 2, "LRD": 2, "LSL": 2, "MAD": 2, "MDL": 2, "MGA": 2, "MKD": 2,
	"MMK": 2, "MNT": 2, "MOP": 2, "MRU": 2, "MUR": 2, "MVR": 2, "MWK": 2, "MXN": 2, "MYR": 2,
	"MZN": 2, "NAD": 2, "NGN": 2, "NIO": 2, "NOK": 2, "NPR": 2, "NZD": 2, "PAB": 2, "PEN": 2,
	"PGK": 2, "PHP": 2, "PKR": 2, "PLN": 2, "QAR": 2, "RON": 2, "RSD": 2, "RUB": 2, "SAR": 2,
	"SBD": 2, "SCR": 2, "SDG": 2, "SEK": 2, "SGD": 2, "SHP": 2, "SLE": 2, "SOS": 2, "SRD": 2,
	"SSP": 2, "STN": 2, "SVC": 2, "SYP": 2, "SZL": 2, "THB": 2, "TJS": 2, "TMT": 2, "TOP": 2,
	"TRY": 2, "TTD": 2, "TWD": 2, "TZS": 2, "UAH": 2, "USD": 2, "UYU": 2, "UZS": 2, "VES": 2,
	"WST": 2, "XCD": 2, "YER": 2, "ZAR": 2, "ZMW": 2, "ZWG": 2,
}

// Exponent returns the number of decimal places of currency's minor unit.
// The code must be upper case, as ISO 4217 writes it.
func Exponent(currency string) (int, error) {
	e, ok := exponents[currency]
	if !ok {
		return 0, fmt.Errorf("%w: %q", ErrUnknownCurrency, truncate(currency))
	}
	return e, nil
}

// Parse converts a decimal amount in currency to minor units: Parse("12.34",
// "EUR") is 1234, Parse("500", "JPY") is 500. Fewer decimal places than the
// currency has are fine ("12.5" EUR is 1250); more are an error, even if
// they are zeros.
func Parse(s, currency string) (int64, error) {
	exp, err := Exponent(currency)
	if err != nil {
		return 0, err
	}
	intPart, frac, hasPoint := strings.Cut(s, ".")
	if intPart == "" || !digits(intPart) || (hasPoint && (frac == "" || !digits(frac))) {
		return 0, fmt.Errorf("%w: %q", ErrSyntax, truncate(s))
	}
	if len(intPart) > 1 && intPart[0] == '0' {
		return 0, fmt.Errorf("%w: leading zero in %q", ErrSyntax, truncate(s))
	}
	if len(frac) > exp {
		return 0, fmt.Errorf("%w: %s has %d", ErrTooManyDecimals, currency, exp)
	}
	var v int64
	for _, c := range intPart + frac + strings.Repeat("0", exp-len(frac)) {
		d := int64(c - '0')
		if v > (math.MaxInt64-d)/10 {
			return 0, ErrOverflow
		}
		v = v*10 + d
	}
	if v == 0 {
		return 0, ErrNotPositive
	}
	return v, nil
}

// Check validates an amount already given in minor units.
func Check(minor int64, currency string) error {
	if _, err := Exponent(currency); err != nil {
		return err
	}
	if minor <= 0 {
		return ErrNotPositive
	}
	return nil
}

// Format renders minor units of currency as a decimal string with exactly
// the currency's number of decimal places: Format(1234, "EUR") is "12.34".
// An unknown currency is formatted with no decimal places.
func Format(minor int64, currency string) string {
	exp := exponents[currency]
	neg := minor < 0
	u := uint64(minor)
	if neg {
		u = -u
	}
	s := strconv.FormatUint(u, 10)
	if exp > 0 {
		if len(s) <= exp {
			s = strings.Repeat("0", exp-len(s)+1) + s
		}
		s = s[:len(s)-exp] + "." + s[len(s)-exp:]
	}
	if neg {
		s = "-" + s
	}
	return s
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// truncate keeps error messages short when the input is hostile.
func truncate(s string) string {
	if len(s) > 32 {
		return s[:32] + "…"
	}
	return s
}
