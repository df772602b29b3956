package order_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
	"github.com/switchd/switchd/plugins/sdk/order"
)

var update = flag.Bool("update", false, "rewrite testdata/vectors.json from the current encoder")

// vector is one golden test vector: an order, its canonical encodings in hex
// and their SHA-256 digests in hex.
type vector struct {
	Name           string `json:"name"`
	Order          jOrder `json:"order"`
	CanonicalHex   string `json:"canonical_hex"`
	Digest         string `json:"digest"`
	TermsHex       string `json:"terms_hex"`
	TermsDigest    string `json:"terms_digest"`
	SignedAtUnixMS int64  `json:"signed_at_unix_ms"`
	SellerMsgHex   string `json:"seller_message_hex"`
	AttestStep     string `json:"attest_step"`
	AttestInst     string `json:"attest_institution_id"`
	AttestMsgHex   string `json:"attestation_message_hex"`
}

// jOrder is the order in vectors.json, with the method by name so the file
// is readable without the proto.
type jOrder struct {
	PaymentID     string `json:"payment_id"`
	MerchantID    string `json:"merchant_id"`
	AcquirerID    string `json:"acquirer_id"`
	IssuerID      string `json:"issuer_id"`
	AmountMinor   int64  `json:"amount_minor"`
	Currency      string `json:"currency"`
	Method        string `json:"method"`
	OrderRef      string `json:"order_ref"`
	ExpiresAtUnix int64  `json:"expires_at_unix"`
}

func (j jOrder) proto(t *testing.T) *pb.Order {
	m, ok := order.ParseMethod(j.Method)
	if !ok && j.Method != "" {
		t.Fatalf("vector method %q is not a method name", j.Method)
	}
	return &pb.Order{PaymentId: j.PaymentID, MerchantId: j.MerchantID, AcquirerId: j.AcquirerID, IssuerId: j.IssuerID,
		AmountMinor: j.AmountMinor, Currency: j.Currency, Method: m, OrderRef: j.OrderRef, ExpiresAtUnix: j.ExpiresAtUnix}
}

// vectorOrders are the orders the golden file covers: ordinary ones, empty
// fields, negative and extreme numbers, and bytes that look like netstring
// syntax.
var vectorOrders = []struct {
	name  string
	order jOrder
}{
	{"card", jOrder{"pay_01HZX", "shop-1", "acq-bank", "iss-bank", 12345, "EUR", "card", "order-42", 1767225600}},
	{"bank_transfer", jOrder{"pay_2", "corner-store", "bank-b", "bank-a", 50000, "KRW", "bank_transfer", "", 1767229200}},
	{"before_routing", jOrder{"pay_3", "shop-1", "acq-bank", "", 1, "USD", "", "r", 0}},
	{"empty", jOrder{}},
	{"extremes", jOrder{"p", "m", "a", "i", -9223372036854775808, "XXX", "card", "x", 9223372036854775807}},
	{"netstring_lookalikes", jOrder{"1:a,", "3:b,c,", ",", ":", 10, "EU", "card", "order_ref,9:x", -1}},
	{"utf8", jOrder{"pay_ü", "가게", "bänk", "iss", 990, "EUR", "bank_transfer", "주문 #7", 1767225600}},
}

func TestVectors(t *testing.T) {
	path := filepath.Join("testdata", "vectors.json")
	if *update {
		var vs []vector
		for _, c := range vectorOrders {
			o := c.order.proto(t)
			d := order.Digest(o)
			td := order.TermsDigest(o)
			v := vector{Name: c.name, Order: c.order,
				CanonicalHex: hex.EncodeToString(order.Canonical(o)), Digest: hex.EncodeToString(d[:]),
				TermsHex: hex.EncodeToString(order.CanonicalTerms(o)), TermsDigest: hex.EncodeToString(td[:]),
				SignedAtUnixMS: 1767225000123, AttestStep: "C", AttestInst: c.order.IssuerID}
			v.SellerMsgHex = hex.EncodeToString(order.SellerMessage(td, v.SignedAtUnixMS))
			v.AttestMsgHex = hex.EncodeToString(order.AttestationMessage(v.AttestStep, v.AttestInst, d[:]))
			vs = append(vs, v)
		}
		b, err := json.MarshalIndent(vs, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var vs []vector
	if err := json.Unmarshal(b, &vs); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if len(vs) < len(vectorOrders) {
		t.Fatalf("%s has %d vectors, want at least %d (run with -update)", path, len(vs), len(vectorOrders))
	}
	for _, v := range vs {
		t.Run(v.Name, func(t *testing.T) {
			o := v.Order.proto(t)
			if got := hex.EncodeToString(order.Canonical(o)); got != v.CanonicalHex {
				t.Errorf("Canonical = %s, want %s", got, v.CanonicalHex)
			}
			canon, _ := hex.DecodeString(v.CanonicalHex)
			if sum := sha256.Sum256(canon); hex.EncodeToString(sum[:]) != v.Digest {
				t.Errorf("vector digest %s is not SHA-256 of its canonical bytes", v.Digest)
			}
			d := order.Digest(o)
			if got := hex.EncodeToString(d[:]); got != v.Digest {
				t.Errorf("Digest = %s, want %s", got, v.Digest)
			}
			if got := order.String(d[:]); got != v.Digest {
				t.Errorf("String(digest) = %s, want %s", got, v.Digest)
			}
			if got := hex.EncodeToString(order.CanonicalTerms(o)); got != v.TermsHex {
				t.Errorf("CanonicalTerms = %s, want %s", got, v.TermsHex)
			}
			td := order.TermsDigest(o)
			if got := hex.EncodeToString(td[:]); got != v.TermsDigest {
				t.Errorf("TermsDigest = %s, want %s", got, v.TermsDigest)
			}
			if got := hex.EncodeToString(order.SellerMessage(td, v.SignedAtUnixMS)); got != v.SellerMsgHex {
				t.Errorf("SellerMessage = %s, want %s", got, v.SellerMsgHex)
			}
			if got := hex.EncodeToString(order.AttestationMessage(v.AttestStep, v.AttestInst, d[:])); got != v.AttestMsgHex {
				t.Errorf("AttestationMessage = %s, want %s", got, v.AttestMsgHex)
			}
			if err := order.Verify(o, d[:]); err != nil {
				t.Errorf("Verify(own digest) = %v", err)
			}
		})
	}
}

// TestCanonicalLiteral pins the encoding to its specification in the package
// doc, independently of the golden file.
func TestCanonicalLiteral(t *testing.T) {
	o := &pb.Order{PaymentId: "p1", MerchantId: "m", AcquirerId: "acq", IssuerId: "iss", AmountMinor: 1050,
		Currency: "EUR", Method: pb.Method_METHOD_CARD, OrderRef: "", ExpiresAtUnix: 1700000000}
	want := "switchd-order-v1" +
		"10:payment_id,2:p1," + "11:merchant_id,1:m," + "11:acquirer_id,3:acq," + "9:issuer_id,3:iss," +
		"12:amount_minor,4:1050," + "8:currency,3:EUR," + "6:method,4:card," + "9:order_ref,0:," +
		"10:expires_at,10:1700000000,"
	if got := string(order.Canonical(o)); got != want {
		t.Errorf("Canonical =\n%s\nwant\n%s", got, want)
	}
	wantTerms := "switchd-terms-v1" + "11:merchant_id,1:m," + "11:acquirer_id,3:acq," + "12:amount_minor,4:1050," +
		"8:currency,3:EUR," + "9:order_ref,0:," + "10:expires_at,10:1700000000,"
	if got := string(order.CanonicalTerms(o)); got != wantTerms {
		t.Errorf("CanonicalTerms =\n%s\nwant\n%s", got, wantTerms)
	}
	msg := order.SellerMessage(order.TermsDigest(o), 258)
	if !bytes.HasPrefix(msg, []byte("switchd-seller-sig-v1")) || !bytes.HasSuffix(msg, []byte{0, 0, 0, 0, 0, 0, 1, 2}) || len(msg) != 21+32+8 {
		t.Errorf("SellerMessage layout wrong: %x", msg)
	}
}

func TestVerify(t *testing.T) {
	o := &pb.Order{PaymentId: "p1", MerchantId: "m", AcquirerId: "a", IssuerId: "i", AmountMinor: 100, Currency: "EUR", Method: pb.Method_METHOD_CARD, ExpiresAtUnix: 1}
	d := order.Digest(o)
	tests := []struct {
		name   string
		digest []byte
		want   error
	}{
		{"own digest", d[:], nil},
		{"nil", nil, order.ErrDigestMismatch},
		{"short", d[:31], order.ErrDigestMismatch},
		{"long", append(append([]byte{}, d[:]...), 0), order.ErrDigestMismatch},
		{"one bit", func() []byte { b := append([]byte{}, d[:]...); b[7] ^= 1; return b }(), order.ErrDigestMismatch},
		{"terms digest", func() []byte { td := order.TermsDigest(o); return td[:] }(), order.ErrDigestMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := order.Verify(o, tt.digest); !errors.Is(err, tt.want) {
				t.Errorf("Verify = %v, want %v", err, tt.want)
			}
		})
	}
}

// TestEveryFieldBound checks that changing any one field changes the digest,
// and that changing a term changes the terms digest.
func TestEveryFieldBound(t *testing.T) {
	base := func() *pb.Order {
		return &pb.Order{PaymentId: "p1", MerchantId: "m", AcquirerId: "a", IssuerId: "i", AmountMinor: 100,
			Currency: "EUR", Method: pb.Method_METHOD_CARD, OrderRef: "r", ExpiresAtUnix: 1}
	}
	tests := []struct {
		name   string
		change func(*pb.Order)
		term   bool
	}{
		{"payment_id", func(o *pb.Order) { o.PaymentId = "p2" }, false},
		{"merchant_id", func(o *pb.Order) { o.MerchantId = "m2" }, true},
		{"acquirer_id", func(o *pb.Order) { o.AcquirerId = "a2" }, true},
		{"issuer_id", func(o *pb.Order) { o.IssuerId = "i2" }, false},
		{"amount_minor", func(o *pb.Order) { o.AmountMinor = 101 }, true},
		{"currency", func(o *pb.Order) { o.Currency = "USD" }, true},
		{"method", func(o *pb.Order) { o.Method = pb.Method_METHOD_BANK_TRANSFER }, false},
		{"order_ref", func(o *pb.Order) { o.OrderRef = "r2" }, true},
		{"expires_at", func(o *pb.Order) { o.ExpiresAtUnix = 2 }, true},
	}
	d0, t0 := order.Digest(base()), order.TermsDigest(base())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := base()
			tt.change(o)
			if order.Digest(o) == d0 {
				t.Error("digest unchanged")
			}
			if changed := order.TermsDigest(o) != t0; changed != tt.term {
				t.Errorf("terms digest changed = %v, want %v", changed, tt.term)
			}
		})
	}
}

func TestMethodName(t *testing.T) {
	for _, m := range []pb.Method{pb.Method_METHOD_CARD, pb.Method_METHOD_BANK_TRANSFER} {
		got, ok := order.ParseMethod(order.MethodName(m))
		if !ok || got != m {
			t.Errorf("ParseMethod(MethodName(%v)) = %v, %v", m, got, ok)
		}
	}
	if n := order.MethodName(pb.Method(99)); n != "" {
		t.Errorf("MethodName(99) = %q, want empty (unknown enum values read as UNSPECIFIED)", n)
	}
	if _, ok := order.ParseMethod("CARD"); ok {
		t.Error(`ParseMethod("CARD") accepted`)
	}
}

// decode splits a canonical encoding back into its tag and (name, value)
// pairs, failing on anything that is not exactly tag + netstrings.
func decode(b []byte, tag string) ([][2]string, error) {
	if !bytes.HasPrefix(b, []byte(tag)) {
		return nil, fmt.Errorf("missing tag %q", tag)
	}
	b = b[len(tag):]
	var out []string
	for len(b) > 0 {
		i := bytes.IndexByte(b, ':')
		if i <= 0 {
			return nil, fmt.Errorf("no length at %q", b)
		}
		n, err := strconv.Atoi(string(b[:i]))
		if err != nil || n < 0 || strconv.Itoa(n) != string(b[:i]) {
			return nil, fmt.Errorf("bad length %q", b[:i])
		}
		b = b[i+1:]
		if len(b) < n+1 || b[n] != ',' {
			return nil, fmt.Errorf("netstring of %d bytes not terminated", n)
		}
		out = append(out, string(b[:n]))
		b = b[n+1:]
	}
	if len(out)%2 != 0 {
		return nil, fmt.Errorf("odd number of netstrings")
	}
	var pairs [][2]string
	for i := 0; i < len(out); i += 2 {
		pairs = append(pairs, [2]string{out[i], out[i+1]})
	}
	return pairs, nil
}

func FuzzCanonical(f *testing.F) {
	for _, c := range vectorOrders {
		m, _ := order.ParseMethod(c.order.Method)
		o := c.order
		f.Add(o.PaymentID, o.MerchantID, o.AcquirerID, o.IssuerID, o.AmountMinor, o.Currency, int32(m), o.OrderRef, o.ExpiresAtUnix)
	}
	f.Add("", "", "", "", int64(0), "", int32(7), "", int64(0))
	f.Fuzz(func(t *testing.T, pid, merchant, acquirer, issuer string, amount int64, currency string, method int32, ref string, expires int64) {
		o := &pb.Order{PaymentId: pid, MerchantId: merchant, AcquirerId: acquirer, IssuerId: issuer, AmountMinor: amount,
			Currency: currency, Method: pb.Method(method), OrderRef: ref, ExpiresAtUnix: expires}
		// Decoding the encoding must give back exactly the fields, in the
		// specified order: then two orders with equal encodings have equal
		// fields, so distinct orders get distinct encodings.
		want := [][2]string{{"payment_id", pid}, {"merchant_id", merchant}, {"acquirer_id", acquirer}, {"issuer_id", issuer},
			{"amount_minor", strconv.FormatInt(amount, 10)}, {"currency", currency}, {"method", order.MethodName(pb.Method(method))},
			{"order_ref", ref}, {"expires_at", strconv.FormatInt(expires, 10)}}
		got, err := decode(order.Canonical(o), "switchd-order-v1")
		if err != nil {
			t.Fatalf("Canonical does not decode: %v", err)
		}
		if len(got) != len(want) {
			t.Fatalf("decoded %q, want %q", got, want)
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("field %d decoded %q, want %q", i, got[i], want[i])
			}
		}
		wantTerms := [][2]string{want[1], want[2], want[4], want[5], want[7], want[8]}
		gotTerms, err := decode(order.CanonicalTerms(o), "switchd-terms-v1")
		if err != nil {
			t.Fatalf("CanonicalTerms does not decode: %v", err)
		}
		if len(gotTerms) != len(wantTerms) {
			t.Fatalf("terms decoded %q, want %q", gotTerms, wantTerms)
		}
		for i := range gotTerms {
			if gotTerms[i] != wantTerms[i] {
				t.Fatalf("term %d decoded %q, want %q", i, gotTerms[i], wantTerms[i])
			}
		}
		d := order.Digest(o)
		if err := order.Verify(o, d[:]); err != nil {
			t.Fatalf("Verify(Digest) = %v", err)
		}
	})
}

// BenchmarkDigest measures the canonical encoding and digest of a typical
// order, which the SDK's server side computes on every call carrying one.
func BenchmarkDigest(b *testing.B) {
	o := &pb.Order{PaymentId: "pay_01HZX4Q8W7", MerchantId: "corner-shop", AcquirerId: "bank_b", IssuerId: "bank_a",
		AmountMinor: 12345, Currency: "EUR", Method: pb.Method_METHOD_CARD, OrderRef: "order-42", ExpiresAtUnix: 1767225600}
	b.ReportAllocs()
	for b.Loop() {
		_ = order.Digest(o)
	}
}
