package store

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Bucket layout. Composite keys put variable-length parts behind a 2-byte
// length prefix (lp) so that one part can never run into the next, and
// times in a fixed 12-byte form (tkey) that sorts in time order. Record
// values are in the binary format of codec.go, or JSON when written by an
// earlier version (idempotency records are always JSON).
var (
	bPayments   = []byte("payments")          // id -> Payment; id 0x00 seq (8 bytes) -> Event, the payment's timeline beside it
	bByMerchant = []byte("payments_merchant") // lp(merchant) tkeyDesc(created) id -> nil
	bByToken    = []byte("payments_token")    // token hash -> id
	bActive     = []byte("payments_active")   // tkey(expires) id -> nil, non-final payments only
	bEvents     = []byte("events")            // payment id -> sub-bucket: seq (8 bytes) -> Event; read only (files of earlier versions)
	bIdem       = []byte("idempotency")       // lp(merchant) key -> Idempotency JSON
	bIdemByTime = []byte("idempotency_time")  // tkey(created) lp(merchant) key -> nil
	bOutbox     = []byte("outbox")            // id -> OutboxMessage
	bOutboxDue  = []byte("outbox_due")        // tkey(next attempt) id -> kind, pending only
	bOutboxPay  = []byte("outbox_payment")    // lp(payment) tkey(created) id -> nil
	bPlugState  = []byte("plugin_state")      // lp(plugin) lp(instance) -> sub-bucket: key -> value

	allBuckets = [][]byte{bPayments, bByMerchant, bByToken, bActive, bEvents, bIdem, bIdemByTime, bOutbox, bOutboxDue, bOutboxPay, bPlugState}
)

// finalStates are the payment states that leave the active index (they
// mirror flow.IsFinal).
var finalStates = map[string]bool{
	"approved": true, "refused": true, "declined": true,
	"expired": true, "cancelled": true, "failed": true,
}

// tkeyLen is the length of an encoded time.
const tkeyLen = 12

// tkey encodes t so that byte order is time order: the Unix seconds with
// the sign bit flipped, then the nanoseconds, both big-endian.
func tkey(t time.Time) []byte { return appendTkey(make([]byte, 0, tkeyLen), t) }

// appendTkey appends tkey(t) to b.
func appendTkey(b []byte, t time.Time) []byte {
	b = binary.BigEndian.AppendUint64(b, uint64(t.Unix())^(1<<63))
	return binary.BigEndian.AppendUint32(b, uint32(t.Nanosecond()))
}

// untkey decodes a tkey.
func untkey(b []byte) time.Time {
	sec := int64(binary.BigEndian.Uint64(b) ^ (1 << 63))
	return time.Unix(sec, int64(binary.BigEndian.Uint32(b[8:]))).UTC()
}

// appendTkeyDesc appends t encoded so that byte order is reverse time
// order.
func appendTkeyDesc(b []byte, t time.Time) []byte {
	b = binary.BigEndian.AppendUint64(b, ^(uint64(t.Unix()) ^ (1 << 63)))
	return binary.BigEndian.AppendUint32(b, ^uint32(t.Nanosecond()))
}

// lp is s behind its 2-byte length.
func lp(s string) []byte {
	b := make([]byte, 2, 2+len(s))
	binary.BigEndian.PutUint16(b, uint16(len(s)))
	return append(b, s...)
}

func cat(parts ...[]byte) []byte {
	return bytes.Join(parts, nil)
}

// boltTx implements Tx over one bbolt transaction.
type boltTx struct{ tx *bolt.Tx }

var _ Tx = (*boltTx)(nil)

func (t *boltTx) b(name []byte) *bolt.Bucket { return t.tx.Bucket(name) }

func getJSON(b *bolt.Bucket, key []byte, v any) error {
	data := b.Get(key)
	if data == nil {
		return ErrNotFound
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("store: decode record %q: %w", key, err)
	}
	return nil
}

func putJSON(b *bolt.Bucket, key []byte, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("store: encode: %w", err)
	}
	return b.Put(key, data)
}

func checkLen(what, s string) error {
	if s == "" {
		return fmt.Errorf("%w: %s is empty", ErrInvalid, what)
	}
	if len(s) > 1024 {
		return fmt.Errorf("%w: %s is longer than 1024 bytes", ErrInvalid, what)
	}
	return nil
}

// getRecord reads and decodes the record at key id of bucket b (what
// names it in errors), or returns ErrNotFound.
func getRecord[T any](b *bolt.Bucket, id, what string, decode func([]byte) (*T, error)) (*T, error) {
	data := b.Get([]byte(id))
	if data == nil {
		return nil, ErrNotFound
	}
	r, err := decode(data)
	if err != nil {
		return nil, fmt.Errorf("store: decode %s %q: %w", what, id, err)
	}
	return r, nil
}

// GetPayment returns the payment with that id, or ErrNotFound.
func (t *boltTx) GetPayment(id string) (*Payment, error) {
	return getRecord(t.b(bPayments), id, "payment", decodePayment)
}

func merchantKey(merchantID string, created time.Time, id string) []byte {
	b := make([]byte, 0, 2+len(merchantID)+tkeyLen+len(id))
	b = binary.BigEndian.AppendUint16(b, uint16(len(merchantID)))
	b = append(b, merchantID...)
	b = appendTkeyDesc(b, created)
	return append(b, id...)
}

func activeKey(expires time.Time, id string) []byte {
	b := make([]byte, 0, tkeyLen+len(id))
	b = appendTkey(b, expires)
	return append(b, id...)
}

// PutPayment inserts or replaces p and moves its index entries. Of the
// record it replaces it reads only the head (the index keys' inputs), and
// an index entry whose key does not change is left alone.
func (t *boltTx) PutPayment(p *Payment) error {
	if err := checkLen("payment id", p.ID); err != nil {
		return err
	}
	if err := checkLen("payment merchant_id", p.MerchantID); err != nil {
		return err
	}
	if bytes.IndexByte([]byte(p.ID), 0) >= 0 {
		return fmt.Errorf("%w: payment id contains a NUL byte", ErrInvalid) // it separates a payment from its events
	}
	payments, byToken := t.b(bPayments), t.b(bByToken)
	id := []byte(p.ID)
	// Everything read from the old record is used before the first write.
	var (
		oldMerchantKey, oldToken, oldActiveKey []byte
		putMerchant, putToken                  = true, p.TokenHash != ""
		putActive                              = !finalStates[p.State]
	)
	if data := payments.Get(id); data != nil {
		h, err := decodePaymentHead(data)
		if err != nil {
			return fmt.Errorf("store: decode payment %q: %w", p.ID, err)
		}
		if string(h.merchant) == p.MerchantID && h.created.Equal(p.CreatedAt) {
			putMerchant = false
		} else {
			oldMerchantKey = merchantKey(string(h.merchant), h.created, p.ID)
		}
		if string(h.tokenHash) == p.TokenHash {
			putToken = false
		} else if len(h.tokenHash) > 0 {
			oldToken = bytes.Clone(h.tokenHash)
		}
		if !finalStates[string(h.state)] {
			if putActive && h.expires.Equal(p.ExpiresAt) {
				putActive = false
			} else {
				oldActiveKey = activeKey(h.expires, p.ID)
			}
		}
	}
	if putToken {
		if owner := byToken.Get([]byte(p.TokenHash)); owner != nil && string(owner) != p.ID {
			return fmt.Errorf("%w: token hash of payment %s belongs to another payment", ErrExists, p.ID)
		}
	}
	if oldMerchantKey != nil {
		if err := t.b(bByMerchant).Delete(oldMerchantKey); err != nil {
			return err
		}
	}
	if oldToken != nil {
		if err := byToken.Delete(oldToken); err != nil {
			return err
		}
	}
	if oldActiveKey != nil {
		if err := t.b(bActive).Delete(oldActiveKey); err != nil {
			return err
		}
	}
	if err := payments.Put(id, encodePayment(p)); err != nil {
		return err
	}
	if putMerchant {
		if err := t.b(bByMerchant).Put(merchantKey(p.MerchantID, p.CreatedAt, p.ID), nil); err != nil {
			return err
		}
	}
	if putToken {
		if err := byToken.Put([]byte(p.TokenHash), id); err != nil {
			return err
		}
	}
	if putActive {
		if err := t.b(bActive).Put(activeKey(p.ExpiresAt, p.ID), nil); err != nil {
			return err
		}
	}
	return nil
}

// PaymentByToken finds a payment by its token hash, or ErrNotFound.
func (t *boltTx) PaymentByToken(tokenHash string) (*Payment, error) {
	if tokenHash == "" {
		return nil, ErrNotFound
	}
	id := t.b(bByToken).Get([]byte(tokenHash))
	if id == nil {
		return nil, ErrNotFound
	}
	return t.GetPayment(string(id))
}

// ListPayments lists a merchant's payments newest first (equal creation
// times in ID order). The cursor is the
// ID of the last payment of the previous page; limit <= 0 means 100.
func (t *boltTx) ListPayments(merchantID, cursor string, limit int) ([]*Payment, string, error) {
	if limit <= 0 {
		limit = 100
	}
	prefix := lp(merchantID)
	c := t.b(bByMerchant).Cursor()
	var k []byte
	if cursor == "" {
		k, _ = c.Seek(prefix)
	} else {
		after, err := t.GetPayment(cursor)
		if err == ErrNotFound || (err == nil && after.MerchantID != merchantID) {
			return nil, "", ErrInvalidCursor
		}
		if err != nil {
			return nil, "", err
		}
		start := merchantKey(after.MerchantID, after.CreatedAt, after.ID)
		k, _ = c.Seek(start)
		if bytes.Equal(k, start) {
			k, _ = c.Next()
		}
	}
	var out []*Payment
	for ; k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		if len(out) == limit {
			return out, out[len(out)-1].ID, nil
		}
		id := string(k[len(prefix)+tkeyLen:])
		p, err := t.GetPayment(id)
		if err != nil {
			return nil, "", fmt.Errorf("store: merchant index names payment %s: %w", id, err)
		}
		out = append(out, p)
	}
	return out, "", nil
}

// ActivePayments lists non-final payments, soonest expiry first.
func (t *boltTx) ActivePayments(limit int) ([]*Payment, error) {
	if limit <= 0 {
		limit = 100
	}
	var out []*Payment
	c := t.b(bActive).Cursor()
	for k, _ := c.First(); k != nil && len(out) < limit; k, _ = c.Next() {
		id := string(k[tkeyLen:])
		p, err := t.GetPayment(id)
		if err != nil {
			return nil, fmt.Errorf("store: active index names payment %s: %w", id, err)
		}
		out = append(out, p)
	}
	return out, nil
}

// eventPrefix is where a payment's events live in the payments bucket:
// right after the payment's own record, so that a transition's event
// lands in the leaf page its payment update already dirties.
func eventPrefix(paymentID string) []byte {
	return append([]byte(paymentID), 0)
}

// AppendEvent appends e to its payment's log and sets e.Seq (1, 2, ...).
func (t *boltTx) AppendEvent(e *Event) error {
	if err := checkLen("event payment_id", e.PaymentID); err != nil {
		return err
	}
	payments := t.b(bPayments)
	prefix := eventPrefix(e.PaymentID)
	var seq uint64
	c := payments.Cursor()
	k, _ := c.Seek(binary.BigEndian.AppendUint64(bytes.Clone(prefix), ^uint64(0)))
	if k == nil {
		k, _ = c.Last()
	} else {
		k, _ = c.Prev()
	}
	if k != nil && bytes.HasPrefix(k, prefix) && len(k) == len(prefix)+8 {
		seq = binary.BigEndian.Uint64(k[len(prefix):])
	} else if old := t.b(bEvents).Bucket([]byte(e.PaymentID)); old != nil {
		seq = old.Sequence() // events of a file written before the move
	}
	seq++
	ev := *e
	ev.Seq = int64(seq)
	if err := payments.Put(binary.BigEndian.AppendUint64(prefix, seq), encodeEvent(&ev)); err != nil {
		return err
	}
	e.Seq = ev.Seq
	return nil
}

// Events returns a payment's events in Seq order (none is not an error):
// those a file written before the move keeps in the events bucket, then
// those beside the payment.
func (t *boltTx) Events(paymentID string) ([]*Event, error) {
	if paymentID == "" {
		return nil, nil
	}
	var out []*Event
	add := func(k, v []byte) error {
		e, err := decodeEvent(v)
		if err != nil {
			return fmt.Errorf("store: decode event of %s: %w", paymentID, err)
		}
		out = append(out, e)
		return nil
	}
	if b := t.b(bEvents).Bucket([]byte(paymentID)); b != nil {
		if err := b.ForEach(add); err != nil {
			return nil, err
		}
	}
	prefix := eventPrefix(paymentID)
	c := t.b(bPayments).Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		if len(k) != len(prefix)+8 {
			continue
		}
		if err := add(k, v); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func idemKey(merchantID, key string) []byte { return cat(lp(merchantID), []byte(key)) }

// GetIdempotency returns the record for merchantID and key, or ErrNotFound.
func (t *boltTx) GetIdempotency(merchantID, key string) (*Idempotency, error) {
	r := new(Idempotency)
	if err := getJSON(t.b(bIdem), idemKey(merchantID, key), r); err != nil {
		return nil, err
	}
	return r, nil
}

// PutIdempotency inserts or replaces a record.
func (t *boltTx) PutIdempotency(r *Idempotency) error {
	if err := checkLen("idempotency merchant_id", r.MerchantID); err != nil {
		return err
	}
	if err := checkLen("idempotency key", r.Key); err != nil {
		return err
	}
	k := idemKey(r.MerchantID, r.Key)
	if old, err := t.GetIdempotency(r.MerchantID, r.Key); err == nil {
		if err := t.b(bIdemByTime).Delete(cat(tkey(old.CreatedAt), k)); err != nil {
			return err
		}
	} else if err != ErrNotFound {
		return err
	}
	if err := putJSON(t.b(bIdem), k, r); err != nil {
		return err
	}
	return t.b(bIdemByTime).Put(cat(tkey(r.CreatedAt), k), nil)
}

// PruneIdempotency deletes the records created before cutoff.
func (t *boltTx) PruneIdempotency(cutoff time.Time) (int, error) {
	end := tkey(cutoff)
	var keys [][]byte
	c := t.b(bIdemByTime).Cursor()
	for k, _ := c.First(); k != nil && bytes.Compare(k[:tkeyLen], end) < 0; k, _ = c.Next() {
		keys = append(keys, bytes.Clone(k))
	}
	for _, k := range keys {
		if err := t.b(bIdem).Delete(k[tkeyLen:]); err != nil {
			return 0, err
		}
		if err := t.b(bIdemByTime).Delete(k); err != nil {
			return 0, err
		}
	}
	return len(keys), nil
}

func dueKey(next time.Time, id string) []byte {
	b := make([]byte, 0, tkeyLen+len(id))
	b = appendTkey(b, next)
	return append(b, id...)
}

func outboxPayKey(paymentID string, created time.Time, id string) []byte {
	b := make([]byte, 0, 2+len(paymentID)+tkeyLen+len(id))
	b = binary.BigEndian.AppendUint16(b, uint16(len(paymentID)))
	b = append(b, paymentID...)
	b = appendTkey(b, created)
	return append(b, id...)
}

// Enqueue adds m to the outbox. An empty State becomes OutboxPending; a
// zero NextAttempt makes it due at once. A duplicate ID is ErrExists.
func (t *boltTx) Enqueue(m *OutboxMessage) error {
	if err := checkLen("outbox id", m.ID); err != nil {
		return err
	}
	if err := checkLen("outbox kind", m.Kind); err != nil {
		return err
	}
	if t.b(bOutbox).Get([]byte(m.ID)) != nil {
		return fmt.Errorf("%w: outbox message %s", ErrExists, m.ID)
	}
	if m.State == "" {
		m.State = OutboxPending
	}
	return t.writeOutbox(m)
}

func (t *boltTx) writeOutbox(m *OutboxMessage) error {
	if err := t.b(bOutbox).Put([]byte(m.ID), encodeOutbox(m)); err != nil {
		return err
	}
	if m.State == OutboxPending {
		if err := t.b(bOutboxDue).Put(dueKey(m.NextAttempt, m.ID), []byte(m.Kind)); err != nil {
			return err
		}
	}
	return t.b(bOutboxPay).Put(outboxPayKey(m.PaymentID, m.CreatedAt, m.ID), nil)
}

// GetOutbox returns the message with that id, or ErrNotFound.
func (t *boltTx) GetOutbox(id string) (*OutboxMessage, error) {
	return getRecord(t.b(bOutbox), id, "outbox message", decodeOutbox)
}

// PutOutbox replaces an existing message (ErrNotFound if there is none)
// and moves its index entries. Of the record it replaces it reads only the
// head (the index keys' inputs), and an index entry whose key does not
// change is left alone.
func (t *boltTx) PutOutbox(m *OutboxMessage) error {
	outbox := t.b(bOutbox)
	data := outbox.Get([]byte(m.ID))
	if data == nil {
		return ErrNotFound
	}
	h, err := decodeOutboxHead(data)
	if err != nil {
		return fmt.Errorf("store: decode outbox message %q: %w", m.ID, err)
	}
	// Everything read from the old record is used before the first write.
	oldPending := string(h.state) == OutboxPending
	newPending := m.State == OutboxPending
	sameDue := oldPending && newPending && h.nextAttempt.Equal(m.NextAttempt) && string(h.kind) == m.Kind
	var oldDueKey, oldPayKey []byte
	if oldPending && !sameDue {
		oldDueKey = dueKey(h.nextAttempt, m.ID)
	}
	samePay := string(h.paymentID) == m.PaymentID && h.created.Equal(m.CreatedAt)
	if !samePay {
		oldPayKey = outboxPayKey(string(h.paymentID), h.created, m.ID)
	}
	if oldDueKey != nil {
		if err := t.b(bOutboxDue).Delete(oldDueKey); err != nil {
			return err
		}
	}
	if oldPayKey != nil {
		if err := t.b(bOutboxPay).Delete(oldPayKey); err != nil {
			return err
		}
	}
	if err := outbox.Put([]byte(m.ID), encodeOutbox(m)); err != nil {
		return err
	}
	if newPending && !sameDue {
		if err := t.b(bOutboxDue).Put(dueKey(m.NextAttempt, m.ID), []byte(m.Kind)); err != nil {
			return err
		}
	}
	if !samePay {
		return t.b(bOutboxPay).Put(outboxPayKey(m.PaymentID, m.CreatedAt, m.ID), nil)
	}
	return nil
}

// DueOutbox lists pending messages with NextAttempt <= now, earliest
// NextAttempt first. limit <= 0 means 100.
func (t *boltTx) DueOutbox(now time.Time, limit int) ([]*OutboxMessage, error) {
	if limit <= 0 {
		limit = 100
	}
	end := tkey(now)
	var out []*OutboxMessage
	c := t.b(bOutboxDue).Cursor()
	for k, _ := c.First(); k != nil && len(out) < limit && bytes.Compare(k[:tkeyLen], end) <= 0; k, _ = c.Next() {
		m, err := t.GetOutbox(string(k[tkeyLen:]))
		if err != nil {
			return nil, fmt.Errorf("store: due index names message %s: %w", k[tkeyLen:], err)
		}
		out = append(out, m)
	}
	return out, nil
}

// DueOutboxRefs lists pending messages with NextAttempt <= now, earliest
// first, at most limit (<= 0 means 100), from the due index alone. An
// index entry written before the index held the kind (value empty) is
// completed by reading its message.
func (t *boltTx) DueOutboxRefs(now time.Time, limit int) ([]OutboxRef, error) {
	if limit <= 0 {
		limit = 100
	}
	end := tkey(now)
	var out []OutboxRef
	c := t.b(bOutboxDue).Cursor()
	for k, v := c.First(); k != nil && len(out) < limit && bytes.Compare(k[:tkeyLen], end) <= 0; k, v = c.Next() {
		r := OutboxRef{ID: string(k[tkeyLen:]), Kind: string(v), NextAttempt: untkey(k[:tkeyLen])}
		if r.Kind == "" {
			m, err := t.GetOutbox(r.ID)
			if err != nil {
				return nil, fmt.Errorf("store: due index names message %s: %w", r.ID, err)
			}
			r.Kind = m.Kind
		}
		out = append(out, r)
	}
	return out, nil
}

// OutboxFor lists a payment's messages in the order they were created.
func (t *boltTx) OutboxFor(paymentID string) ([]*OutboxMessage, error) {
	prefix := lp(paymentID)
	var out []*OutboxMessage
	c := t.b(bOutboxPay).Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		id := string(k[len(prefix)+tkeyLen:])
		m, err := t.GetOutbox(id)
		if err != nil {
			return nil, fmt.Errorf("store: payment index names message %s: %w", id, err)
		}
		out = append(out, m)
	}
	return out, nil
}
