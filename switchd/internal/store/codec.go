package store

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"
)

// Record encoding.
//
// Payments, events and outbox messages are stored in a compact binary
// form whose first byte names the format; idempotency records stay JSON.
// Records written by earlier versions are JSON objects (first byte '{')
// and are still read; they are rewritten in the binary form by the next
// Put of the same record. Versions before the binary form cannot read it:
// going back to one needs a snapshot taken before the upgrade.
//
// Format 1 (formatV1) is a sequence of fields without names or tags, in a
// fixed order per record type:
//
//	string, []byte  uvarint length, then the bytes
//	int64, int      zigzag varint
//	time.Time       varint Unix seconds, uvarint nanoseconds, varint
//	                zone offset in seconds (0: UTC)
//	[]Line          uvarint count, then per line Name, Quantity, AmountMinor
//	map[string][]byte  uvarint count, then key, value per entry (keys sorted)
//
// The fields that index keys are made of come first (see paymentHead and
// outboxHead), so that replacing a record reads only them. A record must
// end exactly after its last field. A change of layout gets a new format
// byte; the decoder keeps reading the older ones.
const (
	formatV1   = 0x01
	formatJSON = '{'
)

// errRecord is wrapped by every decoding error.
var errRecord = errors.New("malformed record")

// ---- encoding -----------------------------------------------------------------

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendBytes(b, v []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

func appendTime(b []byte, t time.Time) []byte {
	_, off := t.Zone()
	b = binary.AppendVarint(b, t.Unix())
	b = binary.AppendUvarint(b, uint64(t.Nanosecond()))
	return binary.AppendVarint(b, int64(off))
}

// maxVarint is the longest encoded varint.
const maxVarint = binary.MaxVarintLen64

// timeSize bounds an encoded time.
const timeSize = 3 * maxVarint

// encodePayment returns p in format 1.
func encodePayment(p *Payment) []byte {
	n := 1 + 5*timeSize + 40*maxVarint +
		len(p.MerchantID) + len(p.TokenHash) + len(p.State) + len(p.ID) + len(p.AcquirerID) +
		len(p.IssuerID) + len(p.Currency) + len(p.Method) + len(p.OrderRef) + len(p.Description) +
		len(p.ReturnURL) + len(p.DeclineCode) + len(p.SellerSignature) + len(p.SellerKeyID) +
		len(p.InstrumentToken) + len(p.BIN) + len(p.Last4) + len(p.Display) + len(p.PayerRef) +
		len(p.BankCode) + len(p.Digest) + len(p.DebitReference) + len(p.CreditReference) + len(p.Pending)
	for _, l := range p.Lines {
		n += len(l.Name) + 3*maxVarint
	}
	for k, v := range p.Attestations {
		n += len(k) + len(v) + 2*maxVarint
	}
	b := make([]byte, 0, n)
	b = append(b, formatV1)
	// Head: the inputs of the index keys (paymentHead).
	b = appendString(b, p.MerchantID)
	b = appendTime(b, p.CreatedAt)
	b = appendTime(b, p.ExpiresAt)
	b = appendString(b, p.TokenHash)
	b = appendString(b, p.State)
	// Body.
	b = appendString(b, p.ID)
	b = appendString(b, p.AcquirerID)
	b = appendString(b, p.IssuerID)
	b = binary.AppendVarint(b, p.AmountMinor)
	b = appendString(b, p.Currency)
	b = appendString(b, p.Method)
	b = appendString(b, p.OrderRef)
	b = appendString(b, p.Description)
	b = binary.AppendUvarint(b, uint64(len(p.Lines)))
	for _, l := range p.Lines {
		b = appendString(b, l.Name)
		b = binary.AppendVarint(b, l.Quantity)
		b = binary.AppendVarint(b, l.AmountMinor)
	}
	b = appendString(b, p.ReturnURL)
	b = appendTime(b, p.UpdatedAt)
	b = appendString(b, p.DeclineCode)
	b = binary.AppendVarint(b, p.Version)
	b = appendBytes(b, p.SellerSignature)
	b = appendString(b, p.SellerKeyID)
	b = binary.AppendVarint(b, p.SignedAtUnixMS)
	b = appendString(b, p.InstrumentToken)
	b = appendString(b, p.BIN)
	b = appendString(b, p.Last4)
	b = appendString(b, p.Display)
	b = appendString(b, p.PayerRef)
	b = appendString(b, p.BankCode)
	b = appendBytes(b, p.Digest)
	b = binary.AppendUvarint(b, uint64(len(p.Attestations)))
	if len(p.Attestations) > 0 {
		var arr [8]string
		keys := arr[:0]
		for k := range p.Attestations {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			b = appendString(b, k)
			b = appendBytes(b, p.Attestations[k])
		}
	}
	b = appendString(b, p.DebitReference)
	b = appendString(b, p.CreditReference)
	b = appendString(b, p.Pending)
	b = binary.AppendVarint(b, int64(p.PayerAuthFailures))
	b = binary.AppendVarint(b, p.ConfigGeneration)
	return b
}

// encodeEvent returns e in format 1.
func encodeEvent(e *Event) []byte {
	b := make([]byte, 0, 1+timeSize+6*maxVarint+len(e.PaymentID)+len(e.Type)+len(e.From)+len(e.To)+len(e.Detail))
	b = append(b, formatV1)
	b = appendString(b, e.PaymentID)
	b = binary.AppendVarint(b, e.Seq)
	b = appendTime(b, e.At)
	b = appendString(b, e.Type)
	b = appendString(b, e.From)
	b = appendString(b, e.To)
	return appendString(b, e.Detail)
}

// encodeOutbox returns m in format 1.
func encodeOutbox(m *OutboxMessage) []byte {
	b := make([]byte, 0, 1+4*timeSize+10*maxVarint+len(m.State)+len(m.Kind)+len(m.PaymentID)+
		len(m.ID)+len(m.MerchantID)+len(m.EventType)+len(m.Body)+len(m.LastError))
	b = append(b, formatV1)
	// Head: the inputs of the index keys (outboxHead).
	b = appendString(b, m.State)
	b = appendString(b, m.Kind)
	b = appendTime(b, m.NextAttempt)
	b = appendString(b, m.PaymentID)
	b = appendTime(b, m.CreatedAt)
	// Body.
	b = appendString(b, m.ID)
	b = appendString(b, m.MerchantID)
	b = appendString(b, m.EventType)
	b = appendBytes(b, m.Body)
	b = binary.AppendVarint(b, int64(m.Attempts))
	b = appendString(b, m.LastError)
	return appendTime(b, m.DeliveredAt)
}

// ---- decoding -----------------------------------------------------------------

// reader decodes format 1 fields from a record. Strings are cut from one
// copy of the record (s), byte slices from another (b), so that a record
// costs two allocations however many fields it has, and the result does
// not point into bbolt's memory. The first error sticks.
type reader struct {
	raw []byte // the record as stored (only valid in its transaction)
	s   string // copy of raw for strings; "" in head-only reads
	b   []byte // copy of raw for byte slices; nil until needed
	off int
	err error
}

// newReader reads record data; copy says whether fields must outlive
// the transaction.
func newReader(data []byte, copy bool) *reader {
	r := &reader{raw: data, off: 1}
	if copy {
		r.s = string(data)
	}
	return r
}

func (r *reader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s at byte %d", errRecord, what, r.off)
	}
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.raw[r.off:])
	if n <= 0 {
		r.fail("bad varint")
		return 0
	}
	r.off += n
	return v
}

func (r *reader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.raw[r.off:])
	if n <= 0 {
		r.fail("bad varint")
		return 0
	}
	r.off += n
	return v
}

// span reads a length and returns the bounds of the bytes it prefixes.
func (r *reader) span() (int, int) {
	n := r.uvarint()
	if r.err != nil {
		return 0, 0
	}
	if n > uint64(len(r.raw)-r.off) {
		r.fail("length beyond the end")
		return 0, 0
	}
	start := r.off
	r.off += int(n)
	return start, r.off
}

func (r *reader) string() string {
	i, j := r.span()
	return r.s[i:j]
}

// rawBytes returns a length-prefixed field as it is in the record (not a
// copy).
func (r *reader) rawBytes() []byte {
	i, j := r.span()
	return r.raw[i:j:j]
}

// bytes returns a copy of a length-prefixed field; empty is nil.
func (r *reader) bytes() []byte {
	i, j := r.span()
	if i == j {
		return nil
	}
	if r.b == nil {
		r.b = append([]byte(nil), r.raw...)
	}
	return r.b[i:j:j]
}

func (r *reader) int() int {
	v := r.varint()
	if int64(int(v)) != v {
		r.fail("integer out of range")
	}
	return int(v)
}

func (r *reader) time() time.Time {
	sec := r.varint()
	nsec := r.uvarint()
	off := r.varint()
	if r.err != nil {
		return time.Time{}
	}
	if nsec >= 1e9 || off <= -1<<31 || off >= 1<<31 {
		r.fail("bad time")
		return time.Time{}
	}
	t := time.Unix(sec, int64(nsec))
	if off == 0 {
		return t.UTC()
	}
	// As encoding/json (time.Parse) does: the local zone if its offset
	// matches, else a fixed zone.
	if _, local := t.Zone(); local == int(off) {
		return t
	}
	return t.In(time.FixedZone("", int(off)))
}

// count reads a number of entries each at least min bytes long.
func (r *reader) count(min int) int {
	n := r.uvarint()
	if r.err == nil && n > uint64((len(r.raw)-r.off)/min) {
		r.fail("count beyond the end")
		return 0
	}
	return int(n)
}

// end checks that the record was read to its last byte.
func (r *reader) end() error {
	if r.err == nil && r.off != len(r.raw) {
		r.fail("trailing bytes")
	}
	return r.err
}

// format checks data's leading format byte: true for format 1, false for
// JSON, an error for anything else.
func format(data []byte) (bool, error) {
	if len(data) == 0 {
		return false, fmt.Errorf("%w: empty", errRecord)
	}
	switch data[0] {
	case formatV1:
		return true, nil
	case formatJSON:
		return false, nil
	}
	return false, fmt.Errorf("%w: unknown format byte 0x%02x", errRecord, data[0])
}

// decodePayment decodes a stored payment (format 1 or JSON).
func decodePayment(data []byte) (*Payment, error) {
	bin, err := format(data)
	if err != nil {
		return nil, err
	}
	p := new(Payment)
	if !bin {
		if err := json.Unmarshal(data, p); err != nil {
			return nil, fmt.Errorf("%w: %w", errRecord, err)
		}
		return p, nil
	}
	r := newReader(data, true)
	p.MerchantID = r.string()
	p.CreatedAt = r.time()
	p.ExpiresAt = r.time()
	p.TokenHash = r.string()
	p.State = r.string()
	p.ID = r.string()
	p.AcquirerID = r.string()
	p.IssuerID = r.string()
	p.AmountMinor = r.varint()
	p.Currency = r.string()
	p.Method = r.string()
	p.OrderRef = r.string()
	p.Description = r.string()
	if n := r.count(3); n > 0 {
		p.Lines = make([]Line, n)
		for i := range p.Lines {
			l := &p.Lines[i]
			l.Name = r.string()
			l.Quantity = r.varint()
			l.AmountMinor = r.varint()
		}
	}
	p.ReturnURL = r.string()
	p.UpdatedAt = r.time()
	p.DeclineCode = r.string()
	p.Version = r.varint()
	p.SellerSignature = r.bytes()
	p.SellerKeyID = r.string()
	p.SignedAtUnixMS = r.varint()
	p.InstrumentToken = r.string()
	p.BIN = r.string()
	p.Last4 = r.string()
	p.Display = r.string()
	p.PayerRef = r.string()
	p.BankCode = r.string()
	p.Digest = r.bytes()
	if n := r.count(2); n > 0 {
		p.Attestations = make(map[string][]byte, n)
		for range n {
			k := r.string()
			p.Attestations[k] = r.bytes()
		}
	}
	p.DebitReference = r.string()
	p.CreditReference = r.string()
	p.Pending = r.string()
	p.PayerAuthFailures = r.int()
	p.ConfigGeneration = r.varint()
	if err := r.end(); err != nil {
		return nil, err
	}
	return p, nil
}

// paymentHead is what a stored payment's index keys are made of. Its
// byte slices point into the stored record: use them before the
// transaction writes.
type paymentHead struct {
	merchant  []byte
	created   time.Time
	expires   time.Time
	tokenHash []byte
	state     []byte
}

// decodePaymentHead reads the head of a stored payment without decoding
// the rest (a JSON record is decoded whole).
func decodePaymentHead(data []byte) (paymentHead, error) {
	bin, err := format(data)
	if err != nil {
		return paymentHead{}, err
	}
	if !bin {
		p, err := decodePayment(data)
		if err != nil {
			return paymentHead{}, err
		}
		return paymentHead{[]byte(p.MerchantID), p.CreatedAt, p.ExpiresAt, []byte(p.TokenHash), []byte(p.State)}, nil
	}
	r := newReader(data, false)
	var h paymentHead
	h.merchant = r.rawBytes()
	h.created = r.time()
	h.expires = r.time()
	h.tokenHash = r.rawBytes()
	h.state = r.rawBytes()
	return h, r.err
}

// decodeEvent decodes a stored event (format 1 or JSON).
func decodeEvent(data []byte) (*Event, error) {
	bin, err := format(data)
	if err != nil {
		return nil, err
	}
	e := new(Event)
	if !bin {
		if err := json.Unmarshal(data, e); err != nil {
			return nil, fmt.Errorf("%w: %w", errRecord, err)
		}
		return e, nil
	}
	r := newReader(data, true)
	e.PaymentID = r.string()
	e.Seq = r.varint()
	e.At = r.time()
	e.Type = r.string()
	e.From = r.string()
	e.To = r.string()
	e.Detail = r.string()
	if err := r.end(); err != nil {
		return nil, err
	}
	return e, nil
}

// decodeOutbox decodes a stored outbox message (format 1 or JSON).
func decodeOutbox(data []byte) (*OutboxMessage, error) {
	bin, err := format(data)
	if err != nil {
		return nil, err
	}
	m := new(OutboxMessage)
	if !bin {
		if err := json.Unmarshal(data, m); err != nil {
			return nil, fmt.Errorf("%w: %w", errRecord, err)
		}
		return m, nil
	}
	r := newReader(data, true)
	m.State = r.string()
	m.Kind = r.string()
	m.NextAttempt = r.time()
	m.PaymentID = r.string()
	m.CreatedAt = r.time()
	m.ID = r.string()
	m.MerchantID = r.string()
	m.EventType = r.string()
	m.Body = r.bytes()
	m.Attempts = r.int()
	m.LastError = r.string()
	m.DeliveredAt = r.time()
	if err := r.end(); err != nil {
		return nil, err
	}
	return m, nil
}

// outboxHead is what a stored message's index keys are made of (see
// paymentHead).
type outboxHead struct {
	state       []byte
	kind        []byte
	nextAttempt time.Time
	paymentID   []byte
	created     time.Time
}

// decodeOutboxHead reads the head of a stored outbox message.
func decodeOutboxHead(data []byte) (outboxHead, error) {
	bin, err := format(data)
	if err != nil {
		return outboxHead{}, err
	}
	if !bin {
		m, err := decodeOutbox(data)
		if err != nil {
			return outboxHead{}, err
		}
		return outboxHead{[]byte(m.State), []byte(m.Kind), m.NextAttempt, []byte(m.PaymentID), m.CreatedAt}, nil
	}
	r := newReader(data, false)
	var h outboxHead
	h.state = r.rawBytes()
	h.kind = r.rawBytes()
	h.nextAttempt = r.time()
	h.paymentID = r.rawBytes()
	h.created = r.time()
	return h, r.err
}
