package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"
)

var timeType = reflect.TypeFor[time.Time]()

// fill sets every field of the struct v points to to a distinct non-zero
// value, recursively, and fails on a field kind it does not know, so that
// a field added to a record is covered by the round-trip tests below (and
// fails them until the codec encodes it).
func fill(t testing.TB, v reflect.Value, seed *int64) {
	t.Helper()
	*seed++
	n := *seed
	switch {
	case v.Type() == timeType:
		v.Set(reflect.ValueOf(time.Unix(1_700_000_000+n*86_400, n*1_000_003).UTC()))
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(fmt.Sprintf("s%d-%s", n, "ü€"))
	case reflect.Int, reflect.Int64:
		if n%2 == 0 {
			n = -n
		}
		v.SetInt(n * 1_000_000_007)
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			v.SetBytes(bytes.Repeat([]byte{byte(n), 0, 0xff}, int(n)))
			return
		}
		s := reflect.MakeSlice(v.Type(), 2, 2)
		for i := range 2 {
			fill(t, s.Index(i), seed)
		}
		v.Set(s)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		for range 3 {
			k := reflect.New(v.Type().Key()).Elem()
			e := reflect.New(v.Type().Elem()).Elem()
			fill(t, k, seed)
			fill(t, e, seed)
			m.SetMapIndex(k, e)
		}
		v.Set(m)
	case reflect.Struct:
		for i := range v.NumField() {
			fill(t, v.Field(i), seed)
		}
	default:
		t.Fatalf("fill: field of kind %s (type %s): teach fill and the codec about it", v.Kind(), v.Type())
	}
}

func TestCodecRoundTripEveryField(t *testing.T) {
	var seed int64
	p := new(Payment)
	fill(t, reflect.ValueOf(p).Elem(), &seed)
	e := new(Event)
	fill(t, reflect.ValueOf(e).Elem(), &seed)
	m := new(OutboxMessage)
	fill(t, reflect.ValueOf(m).Elem(), &seed)
	for _, c := range []struct {
		name   string
		in     any
		encode func() []byte
		decode func([]byte) (any, error)
	}{
		{"payment", p, func() []byte { return encodePayment(p) }, func(b []byte) (any, error) { return decodePayment(b) }},
		{"event", e, func() []byte { return encodeEvent(e) }, func(b []byte) (any, error) { return decodeEvent(b) }},
		{"outbox", m, func() []byte { return encodeOutbox(m) }, func(b []byte) (any, error) { return decodeOutbox(b) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			data := c.encode()
			if data[0] != formatV1 {
				t.Fatalf("format byte %#x", data[0])
			}
			got, err := c.decode(data)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, c.in) {
				t.Fatalf("round trip changed the record:\n got %+v\nwant %+v", got, c.in)
			}
			// The same record in JSON (the format of earlier versions)
			// decodes to the same value.
			js, err := json.Marshal(c.in)
			if err != nil {
				t.Fatal(err)
			}
			fromJSON, err := c.decode(js)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(fromJSON, c.in) {
				t.Fatalf("JSON record decoded to\n %+v\nwant %+v", fromJSON, c.in)
			}
			// Every proper prefix is an error, not a panic.
			for i := range len(data) {
				if _, err := c.decode(data[:i]); !errors.Is(err, errRecord) {
					t.Fatalf("prefix of %d bytes: err %v, want errRecord", i, err)
				}
			}
			if _, err := c.decode(append(bytes.Clone(data), 0)); !errors.Is(err, errRecord) {
				t.Fatalf("trailing byte: err %v, want errRecord", err)
			}
		})
	}
}

// TestCodecEmptyRecords: zero values round-trip as zero values (empty
// slices and maps as nil, as encoding/json with omitempty gives them).
func TestCodecEmptyRecords(t *testing.T) {
	p, err := decodePayment(encodePayment(&Payment{Lines: []Line{}, Attestations: map[string][]byte{}, Digest: []byte{}}))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(p, &Payment{}) {
		t.Fatalf("got %+v", p)
	}
	m, err := decodeOutbox(encodeOutbox(&OutboxMessage{}))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(m, &OutboxMessage{}) {
		t.Fatalf("got %+v", m)
	}
}

// TestCodecTimes: a time comes back as the same instant in the zone
// encoding/json would give it (UTC, the local zone, or a fixed offset),
// with the machine's local zone and with a local zone east of UTC.
func TestCodecTimes(t *testing.T) {
	t.Run("machine zone", testCodecTimes)
	t.Run("local zone CET", func(t *testing.T) {
		saved := time.Local
		time.Local = time.FixedZone("CET", 3600)
		t.Cleanup(func() { time.Local = saved })
		testCodecTimes(t)
	})
}

func testCodecTimes(t *testing.T) {
	for _, tc := range []struct {
		name string
		t    time.Time
	}{
		{"zero", time.Time{}},
		{"utc nanos", time.Date(2026, 11, 26, 1, 2, 3, 999_999_999, time.UTC)},
		{"before 1970", time.Date(1901, 1, 1, 0, 0, 0, 1, time.UTC)},
		{"fixed +05:30", time.Date(2026, 6, 1, 12, 0, 0, 5, time.FixedZone("IST", 5*3600+1800))},
		{"fixed -08:00", time.Date(2026, 1, 1, 0, 0, 0, 0, time.FixedZone("", -8*3600))},
		{"local", time.Date(2026, 3, 29, 2, 30, 0, 0, time.Local)},
		{"monotonic", time.Now()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := &Event{At: tc.t}
			got, err := decodeEvent(encodeEvent(e))
			if err != nil {
				t.Fatal(err)
			}
			js, _ := json.Marshal(e)
			var want Event
			if err := json.Unmarshal(js, &want); err != nil {
				t.Fatal(err)
			}
			if !got.At.Equal(tc.t) || got.At.Location().String() != want.At.Location().String() {
				t.Fatalf("got %v (%s), want %v (%s)", got.At, got.At.Location(), want.At, want.At.Location())
			}
			gn, go_ := got.At.Zone()
			wn, wo := want.At.Zone()
			if gn != wn || go_ != wo {
				t.Fatalf("zone %s%+d, JSON gives %s%+d", gn, go_, wn, wo)
			}
		})
	}
}

func TestCodecHeads(t *testing.T) {
	var seed int64
	p := new(Payment)
	fill(t, reflect.ValueOf(p).Elem(), &seed)
	m := new(OutboxMessage)
	fill(t, reflect.ValueOf(m).Elem(), &seed)
	pjs, _ := json.Marshal(p)
	mjs, _ := json.Marshal(m)
	for name, data := range map[string][]byte{"binary": encodePayment(p), "json": pjs} {
		h, err := decodePaymentHead(data)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if string(h.merchant) != p.MerchantID || !h.created.Equal(p.CreatedAt) || !h.expires.Equal(p.ExpiresAt) ||
			string(h.tokenHash) != p.TokenHash || string(h.state) != p.State {
			t.Fatalf("%s: payment head %+v of %+v", name, h, p)
		}
	}
	for name, data := range map[string][]byte{"binary": encodeOutbox(m), "json": mjs} {
		h, err := decodeOutboxHead(data)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if string(h.state) != m.State || string(h.kind) != m.Kind || !h.nextAttempt.Equal(m.NextAttempt) ||
			string(h.paymentID) != m.PaymentID || !h.created.Equal(m.CreatedAt) {
			t.Fatalf("%s: outbox head %+v of %+v", name, h, m)
		}
	}
}

func TestCodecRejects(t *testing.T) {
	huge := []byte{formatV1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"unknown format", []byte{0x02, 0, 0}},
		{"bad json", []byte(`{"id":`)},
		{"length beyond the end", huge},
		{"overlong varint", append([]byte{formatV1}, bytes.Repeat([]byte{0x80}, 11)...)},
		{"line count beyond the end", lineBomb()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := decodePayment(tc.data); !errors.Is(err, errRecord) {
				t.Errorf("payment: err %v", err)
			}
			if _, err := decodeEvent(tc.data); !errors.Is(err, errRecord) {
				t.Errorf("event: err %v", err)
			}
			if _, err := decodeOutbox(tc.data); !errors.Is(err, errRecord) {
				t.Errorf("outbox: err %v", err)
			}
		})
	}
}

// lineBomb is a payment record whose head is valid and whose line count
// claims far more lines than the record could hold.
func lineBomb() []byte {
	b := encodePayment(&Payment{})
	// Cut after Description (the field before the line count) and claim
	// 2^40 lines.
	r := newReader(b, true)
	r.string()
	r.time()
	r.time()
	for range 4 {
		r.string()
	}
	r.string()
	r.varint()
	for range 4 {
		r.string()
	}
	out := append([]byte(nil), b[:r.off]...)
	out = append(out, 0x80, 0x80, 0x80, 0x80, 0x80, 0x20)
	return append(out, bytes.Repeat([]byte{1}, 8)...)
}

// FuzzDecode: any input decodes to a record or an errRecord, without a
// panic; a decoded format-1 record encodes to bytes that decode and encode
// to the same bytes again (times keep their instant and offset, not their
// *time.Location, so values are compared in encoded form).
func FuzzDecode(f *testing.F) {
	var seed int64
	p := new(Payment)
	e := new(Event)
	m := new(OutboxMessage)
	fill(f, reflect.ValueOf(p).Elem(), &seed)
	fill(f, reflect.ValueOf(e).Elem(), &seed)
	fill(f, reflect.ValueOf(m).Elem(), &seed)
	for _, v := range []any{p, e, m} {
		js, _ := json.Marshal(v)
		f.Add(js)
	}
	f.Add(encodePayment(p))
	f.Add(encodeEvent(e))
	f.Add(encodeOutbox(m))
	f.Add(lineBomb())
	f.Fuzz(func(t *testing.T, data []byte) {
		if p, err := decodePayment(data); err != nil {
			if !errors.Is(err, errRecord) {
				t.Fatalf("payment: %v is not errRecord", err)
			}
		} else if data[0] == formatV1 {
			b1 := encodePayment(p)
			q, err := decodePayment(b1)
			if err != nil {
				t.Fatalf("payment re-encoded: %v", err)
			}
			if b2 := encodePayment(q); !bytes.Equal(b1, b2) {
				t.Fatalf("payment re-encoded differently:\n%x\n%x", b1, b2)
			}
		}
		if e, err := decodeEvent(data); err != nil {
			if !errors.Is(err, errRecord) {
				t.Fatalf("event: %v is not errRecord", err)
			}
		} else if data[0] == formatV1 {
			b1 := encodeEvent(e)
			q, err := decodeEvent(b1)
			if err != nil {
				t.Fatalf("event re-encoded: %v", err)
			}
			if b2 := encodeEvent(q); !bytes.Equal(b1, b2) {
				t.Fatalf("event re-encoded differently:\n%x\n%x", b1, b2)
			}
		}
		if m, err := decodeOutbox(data); err != nil {
			if !errors.Is(err, errRecord) {
				t.Fatalf("outbox: %v is not errRecord", err)
			}
		} else if data[0] == formatV1 {
			b1 := encodeOutbox(m)
			q, err := decodeOutbox(b1)
			if err != nil {
				t.Fatalf("outbox re-encoded: %v", err)
			}
			if b2 := encodeOutbox(q); !bytes.Equal(b1, b2) {
				t.Fatalf("outbox re-encoded differently:\n%x\n%x", b1, b2)
			}
		}
		if _, err := decodePaymentHead(data); err != nil && !errors.Is(err, errRecord) {
			t.Fatalf("payment head: %v is not errRecord", err)
		}
		if _, err := decodeOutboxHead(data); err != nil && !errors.Is(err, errRecord) {
			t.Fatalf("outbox head: %v is not errRecord", err)
		}
	})
}

// benchPayment is a payment as it is after step D.
func benchPayment() *Payment {
	now := time.Now().UTC()
	att := bytes.Repeat([]byte{0xa5}, 180)
	return &Payment{
		ID: "pay_3x7kq2m9v4b8n1c", MerchantID: "shop_0007", AcquirerID: "bank_b", IssuerID: "bank_a",
		AmountMinor: 129900, Currency: "EUR", Method: "card", OrderRef: "order-3x7kq2m9v4b8n1c",
		Description: "Two coffees and a croissant",
		Lines:       []Line{{Name: "Coffee", Quantity: 2, AmountMinor: 50000}, {Name: "Croissant", Quantity: 1, AmountMinor: 29900}},
		ReturnURL:   "https://shop.example/return", ExpiresAt: now.Add(15 * time.Minute), CreatedAt: now, UpdatedAt: now,
		State: "paid", Version: 7, TokenHash: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
		SellerSignature: bytes.Repeat([]byte{7}, 64), SellerKeyID: "k2026", SignedAtUnixMS: now.UnixMilli(),
		InstrumentToken: "tok_3x7kq2m9v4b8n1c", BIN: "400000", Last4: "0002", Display: "Visa •••• 0002",
		PayerRef: "payer-17", Digest: bytes.Repeat([]byte{3}, 32),
		Attestations:   map[string][]byte{"B": att, "C": att, "D": att},
		DebitReference: "dr-3x7kq2m9v4b8n1c", Pending: "credit", ConfigGeneration: 3,
	}
}

// BenchmarkPaymentCodec compares encoding/json (the format of earlier
// versions) with format 1 on a payment after step D. "head" is what
// PutPayment reads of the record it replaces.
//
//	go test -run '^$' -bench PaymentCodec -benchmem ./switchd/internal/store/
func BenchmarkPaymentCodec(b *testing.B) {
	p := benchPayment()
	js, err := json.Marshal(p)
	if err != nil {
		b.Fatal(err)
	}
	bin := encodePayment(p)
	b.Logf("record size: json %d bytes, format 1 %d bytes", len(js), len(bin))
	for _, c := range []struct {
		name string
		fn   func() error
	}{
		{"json/encode", func() error { _, err := json.Marshal(p); return err }},
		{"json/decode", func() error { _, err := decodePayment(js); return err }},
		{"json/head", func() error { _, err := decodePaymentHead(js); return err }},
		{"binary/encode", func() error { encodePayment(p); return nil }},
		{"binary/decode", func() error { _, err := decodePayment(bin); return err }},
		{"binary/head", func() error { _, err := decodePaymentHead(bin); return err }},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := c.fn(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
