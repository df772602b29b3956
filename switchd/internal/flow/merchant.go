package flow

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/switchd/switchd/switchd/internal/amount"
	"github.com/switchd/switchd/switchd/internal/store"
)

// CreateInput is a merchant's request to create a payment.
type CreateInput struct {
	AmountMinor int64
	Currency    string
	OrderRef    string
	Description string
	Lines       []store.Line
	ReturnURL   string
	// ExpiresAt zero means now + default expiry (then no seller signature
	// is possible, since the signature covers the expiry).
	ExpiresAt time.Time
	// SellerSignature is Ed25519 over order.SellerMessage(TermsDigest, SignedAtUnixMS).
	SellerSignature []byte
	SellerKeyID     string
	SignedAtUnixMS  int64
}

// CreateResult is the outcome of CreatePayment.
type CreateResult struct {
	Payment *store.Payment
	// Token is the payer capability token; only returned on the first
	// create, "" on a replay.
	Token    string
	PageURL  string
	Replayed bool
	// Response and Status are the stored answer on a replay.
	Response []byte
	Status   int
}

// idEncoding is base32 with the "extended hex" alphabet (0-9, a-v once
// lowered), whose order is the order of the bytes encoded.
var idEncoding = base32.HexEncoding.WithPadding(base32.NoPadding)

// newPaymentID returns "pay_" and 24 base32 characters: the creation time
// in milliseconds (6 bytes, big-endian) and 9 random bytes (72 bits). IDs
// made later sort after earlier ones, so the payments created together,
// whose steps follow each other within seconds, share the store's B+tree
// pages (and so do the outbox messages named after them): a commit then
// rewrites a few pages instead of one per payment. IDs of earlier versions
// ("pay_" and 24 random characters of a-z, 2-7) stay valid.
func newPaymentID(now time.Time) string {
	var b [15]byte
	ms := uint64(now.UnixMilli())
	for i := 5; i >= 0; i-- {
		b[i] = byte(ms)
		ms >>= 8
	}
	rand.Read(b[6:])
	return "pay_" + strings.ToLower(idEncoding.EncodeToString(b[:]))
}

// TokenHash returns the stored form of a payer capability token.
func TokenHash(token string) string {
	s := sha256.Sum256([]byte(token))
	return hex.EncodeToString(s[:])
}

func (e *Engine) validateCreate(in *CreateInput, now time.Time) error {
	if _, err := amount.Exponent(in.Currency); err != nil {
		return &Error{Code: CodeInvalidRequest, Field: "currency", Msg: "must be an ISO 4217 currency code", Err: err}
	}
	switch {
	case in.AmountMinor <= 0:
		return invalid("amount_minor", "must be positive")
	case in.OrderRef == "" || len(in.OrderRef) > 128 || !utf8.ValidString(in.OrderRef):
		return invalid("order_ref", "must be 1 to 128 bytes of UTF-8")
	case len(in.Description) > 1024 || !utf8.ValidString(in.Description):
		return invalid("description", "must be at most 1024 bytes of UTF-8")
	case len(in.Lines) > 100:
		return invalid("lines", "at most 100 lines")
	case len(in.ReturnURL) > 2048:
		return invalid("return_url", "too long")
	}
	for _, l := range in.Lines {
		if l.Name == "" || len(l.Name) > 256 || l.Quantity <= 0 || l.AmountMinor < 0 {
			return invalid("lines", "each line needs a name (at most 256 bytes), a positive quantity and a non-negative amount")
		}
	}
	if in.ExpiresAt.IsZero() {
		if len(in.SellerSignature) > 0 {
			return invalid("expires_at", "a signed payment must name its expiry, since the signature covers it")
		}
		in.ExpiresAt = now.Add(e.opts.DefaultExpiry)
	}
	in.ExpiresAt = in.ExpiresAt.UTC().Truncate(time.Second)
	if !in.ExpiresAt.After(now) {
		return invalid("expires_at", "must be in the future")
	}
	if in.ExpiresAt.After(now.Add(e.opts.MaxExpiry)) {
		return invalid("expires_at", "must be within %s", e.opts.MaxExpiry)
	}
	if len(in.SellerSignature) > 256 || len(in.SellerKeyID) > 256 {
		return invalid("seller_signature", "too long")
	}
	return nil
}

// CreatePayment validates, creates and stores the payment and, when
// idemKey != "", the idempotency record, in one transaction. render
// produces the HTTP response stored for replays. A repeated idemKey with the
// same bodyHash returns the stored response (Replayed); with another
// bodyHash it fails with ErrIdempotencyConflict and changes nothing.
func (e *Engine) CreatePayment(ctx context.Context, merchantID, idemKey, bodyHash string, in CreateInput,
	render func(p *store.Payment, token, pageURL string) (status int, body []byte)) (*CreateResult, error) {
	cfg := e.cur.Load()
	m, ok := cfg.Network.Merchants[merchantID]
	if !ok {
		return nil, ErrNotFound
	}
	if len(idemKey) > 255 {
		return nil, invalid("idempotency_key", "at most 255 bytes")
	}
	now := e.now()
	if err := e.validateCreate(&in, now); err != nil {
		return nil, err
	}
	id := newPaymentID(now)
	token, pageURL := e.payToken(id)
	p := &store.Payment{
		ID: id, MerchantID: merchantID, AcquirerID: m.Acquirer,
		AmountMinor: in.AmountMinor, Currency: in.Currency, OrderRef: in.OrderRef, Description: in.Description,
		Lines: in.Lines, ReturnURL: in.ReturnURL, ExpiresAt: in.ExpiresAt, CreatedAt: now, UpdatedAt: now,
		State: StateCreated, Version: 1, TokenHash: TokenHash(token),
		SellerSignature: in.SellerSignature, SellerKeyID: in.SellerKeyID, SignedAtUnixMS: in.SignedAtUnixMS,
		ConfigGeneration: cfg.Generation,
	}
	if p.ReturnURL == "" {
		p.ReturnURL = m.ReturnURL
	}
	var res *CreateResult
	err := e.st.Update(ctx, func(tx store.Tx) error {
		res = nil
		if idemKey != "" {
			r, err := tx.GetIdempotency(merchantID, idemKey)
			switch {
			case err == nil:
				if r.BodyHash != bodyHash {
					return ErrIdempotencyConflict
				}
				prev, err := tx.GetPayment(r.PaymentID)
				if err != nil {
					return err
				}
				res = &CreateResult{Payment: prev, Replayed: true, Response: r.Response, Status: r.Status}
				return nil
			case !errors.Is(err, store.ErrNotFound):
				return err
			}
		}
		q := *p
		if err := tx.PutPayment(&q); err != nil {
			return err
		}
		if err := tx.AppendEvent(&store.Event{PaymentID: q.ID, At: now, Type: "payment.created", To: StateCreated}); err != nil {
			return err
		}
		res = &CreateResult{Payment: &q, Token: token, PageURL: pageURL}
		if render != nil {
			res.Status, res.Response = render(&q, token, pageURL)
		}
		if idemKey != "" {
			return tx.PutIdempotency(&store.Idempotency{MerchantID: merchantID, Key: idemKey, BodyHash: bodyHash,
				Status: res.Status, Response: res.Response, PaymentID: q.ID, CreatedAt: now})
		}
		return nil
	})
	if err != nil {
		if errors.Is(err, ErrIdempotencyConflict) {
			return nil, ErrIdempotencyConflict
		}
		return nil, internal(err)
	}
	return res, nil
}

// payToken derives payment id's payer capability token and page URL.
func (e *Engine) payToken(id string) (token, pageURL string) {
	mac := hmac.New(sha256.New, e.opts.TokenKey)
	mac.Write([]byte("switchd-pay-token-v1:"))
	mac.Write([]byte(id))
	token = base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
	return token, strings.TrimRight(e.opts.PublicURL, "/") + "/pay/" + token
}

// PageURL returns the payment page URL of p, with its capability token,
// for a merchant that needs it again (the QR code of an offline store).
func (e *Engine) PageURL(p *store.Payment) string {
	_, u := e.payToken(p.ID)
	return u
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// GetPayment returns the merchant's payment id, or ErrNotFound when it does
// not exist or belongs to another merchant.
func (e *Engine) GetPayment(ctx context.Context, merchantID, id string) (*store.Payment, error) {
	p, err := e.get(ctx, id)
	if err != nil {
		return nil, err
	}
	if p.MerchantID != merchantID {
		return nil, ErrNotFound
	}
	return p, nil
}

// ListPayments lists the merchant's payments, newest first.
func (e *Engine) ListPayments(ctx context.Context, merchantID, cursor string, limit int) ([]*store.Payment, string, error) {
	if limit <= 0 || limit > 100 {
		limit = 100
	}
	var ps []*store.Payment
	var next string
	err := e.st.View(ctx, func(tx store.Tx) error {
		var err error
		ps, next, err = tx.ListPayments(merchantID, cursor, limit)
		return err
	})
	if errors.Is(err, store.ErrInvalidCursor) {
		return nil, "", invalid("cursor", "not a cursor of this merchant's listing")
	}
	if err != nil {
		return nil, "", internal(err)
	}
	return ps, next, nil
}

// CancelPayment cancels the merchant's payment. It is allowed before the
// payer authenticated (states created, method_chosen,
// seller_authenticated), when no money can have moved.
func (e *Engine) CancelPayment(ctx context.Context, merchantID, id string) (*store.Payment, error) {
	unlock := e.lock(id)
	defer unlock()
	p, err := e.GetPayment(ctx, merchantID, id)
	if err != nil {
		return nil, err
	}
	if IsFinal(p.State) {
		return nil, newErr(CodePaymentFinal, "", "payment is already %s", p.State)
	}
	if _, ok := Next(p.State, EvCancel); !ok {
		return nil, newErr(CodeInvalidState, "", "a payment in state %s can no longer be cancelled", p.State)
	}
	p, err = e.transition(ctx, id, change{ev: EvCancel, expect: p.State, mutate: func(p *store.Payment) { p.DeclineCode = "cancelled" }})
	if err != nil {
		return nil, internal(err)
	}
	return p, nil
}

// Events returns the merchant's payment's timeline.
func (e *Engine) Events(ctx context.Context, merchantID, id string) ([]*store.Event, error) {
	if _, err := e.GetPayment(ctx, merchantID, id); err != nil {
		return nil, err
	}
	var evs []*store.Event
	err := e.st.View(ctx, func(tx store.Tx) error {
		var err error
		evs, err = tx.Events(id)
		return err
	})
	if err != nil {
		return nil, internal(err)
	}
	return evs, nil
}

// ResendWebhook puts a delivered or abandoned webhook back in the outbox.
func (e *Engine) ResendWebhook(ctx context.Context, outboxID string) error {
	var m *store.OutboxMessage
	err := e.st.View(ctx, func(tx store.Tx) error {
		var err error
		m, err = tx.GetOutbox(outboxID)
		return err
	})
	if errors.Is(err, store.ErrNotFound) || (err == nil && m.Kind != store.KindWebhook) {
		return ErrNotFound
	}
	if err != nil {
		return internal(err)
	}
	if e.opts.Resend == nil {
		return &Error{Code: CodeInternal, Msg: "no outbox worker"}
	}
	if err := e.opts.Resend(ctx, outboxID); err != nil {
		return internal(err)
	}
	return nil
}
