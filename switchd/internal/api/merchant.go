package api

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/switchd/switchd/switchd/internal/amount"
	"github.com/switchd/switchd/switchd/internal/api/resource"
	"github.com/switchd/switchd/switchd/internal/flow"
	"github.com/switchd/switchd/switchd/internal/page"
	"github.com/switchd/switchd/switchd/internal/store"
)

// Bounds on merchant input.
const (
	maxOrderRef       = 200
	maxDescription    = 1000
	maxLines          = 100
	maxLineName       = 200
	maxURL            = 2048
	maxIdempotencyKey = 255
	defaultListLimit  = 20
	maxListLimit      = 100
)

// merchantHandler is a handler that runs for an authenticated merchant.
type merchantHandler func(w http.ResponseWriter, r *http.Request, merchantID string)

// merchantOnly authenticates "Authorization: Bearer <api key>" (401
// otherwise) and applies the merchant's rate limit (429).
func (s *Server) merchantOnly(h merchantHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		key, ok := bearer(r.Header.Get("Authorization"))
		if !ok {
			writeProblem(w, newProblem(CodeUnauthorized, "Send your API key as Authorization: Bearer <key>."))
			return
		}
		merchantID, ok := s.opts.MerchantByKeyHash(sum256(key))
		if !ok {
			writeProblem(w, newProblem(CodeUnauthorized, "Send your API key as Authorization: Bearer <key>."))
			return
		}
		setMerchant(w, merchantID)
		if ok, retry := s.merchant.allow(merchantID, s.opts.Now()); !ok {
			p := newProblem(CodeRateLimited, "Too many requests for this merchant; retry after the delay in Retry-After.")
			p.retryAfter = retry
			writeProblem(w, p)
			return
		}
		h(w, r, merchantID)
	}
}

// bearer extracts the credential of a Bearer authorization header.
func bearer(h string) (string, bool) {
	scheme, cred, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	cred = strings.TrimSpace(cred)
	return cred, cred != ""
}

// createRequest is the body of POST /v1/payments.
type createRequest struct {
	Amount          *string       `json:"amount,omitempty"`
	AmountMinor     *int64        `json:"amount_minor,omitempty"`
	Currency        string        `json:"currency"`
	OrderRef        string        `json:"order_ref"`
	Description     string        `json:"description,omitempty"`
	Lines           []lineRequest `json:"lines,omitempty"`
	ReturnURL       string        `json:"return_url,omitempty"`
	ExpiresAt       string        `json:"expires_at,omitempty"`
	SellerSignature string        `json:"seller_signature,omitempty"`
	SellerKeyID     string        `json:"seller_key_id,omitempty"`
	SignedAtUnixMS  int64         `json:"signed_at_unix_ms,omitempty"`
}

type lineRequest struct {
	Name        string `json:"name"`
	Quantity    int64  `json:"quantity"`
	AmountMinor int64  `json:"amount_minor"`
}

// createResponse is the 201 body: the payment plus, on the first create
// only, the payer's capability token and the payment page URL.
type createResponse struct {
	resource.Payment
	PaymentPageURL string `json:"payment_page_url,omitempty"`
	PayToken       string `json:"pay_token,omitempty"`
}

// toInput validates the request and converts it, reporting every bad field
// at once.
func (c *createRequest) toInput(now time.Time) (flow.CreateInput, []FieldError) {
	var errs []FieldError
	bad := func(field, msg string) { errs = append(errs, FieldError{Field: field, Message: msg}) }
	in := flow.CreateInput{
		Currency: c.Currency, OrderRef: c.OrderRef, Description: c.Description,
		ReturnURL: c.ReturnURL, SellerKeyID: c.SellerKeyID, SignedAtUnixMS: c.SignedAtUnixMS,
	}

	if _, err := amount.Exponent(c.Currency); err != nil {
		bad("currency", "must be an upper-case ISO 4217 currency code, e.g. EUR")
	}
	switch {
	case c.Amount != nil && c.AmountMinor != nil:
		bad("amount", "give either amount or amount_minor, not both")
	case c.Amount != nil:
		v, err := amount.Parse(*c.Amount, c.Currency)
		switch {
		case errors.Is(err, amount.ErrUnknownCurrency):
			// Reported on currency.
		case err != nil:
			bad("amount", amountMessage(err))
		default:
			in.AmountMinor = v
		}
	case c.AmountMinor != nil:
		if err := amount.Check(*c.AmountMinor, c.Currency); err != nil && !errors.Is(err, amount.ErrUnknownCurrency) {
			bad("amount_minor", amountMessage(err))
		}
		in.AmountMinor = *c.AmountMinor
	default:
		bad("amount", "required: give amount (a decimal string) or amount_minor (an integer)")
	}

	switch {
	case strings.TrimSpace(c.OrderRef) == "":
		bad("order_ref", "required")
	case len(c.OrderRef) > maxOrderRef || !printable(c.OrderRef):
		bad("order_ref", "must be at most 200 bytes of printable text")
	}
	if len(c.Description) > maxDescription || !printable(c.Description) {
		bad("description", "must be at most 1000 bytes of printable text")
	}
	if len(c.Lines) > maxLines {
		bad("lines", "at most 100 lines")
	}
	for i, l := range c.Lines {
		f := "lines[" + strconv.Itoa(i) + "]"
		if strings.TrimSpace(l.Name) == "" || len(l.Name) > maxLineName || !printable(l.Name) {
			bad(f+".name", "required, at most 200 bytes of printable text")
		}
		if l.Quantity <= 0 || l.Quantity > 1_000_000 {
			bad(f+".quantity", "must be between 1 and 1000000")
		}
		if l.AmountMinor <= 0 {
			bad(f+".amount_minor", "must be greater than zero")
		}
		in.Lines = append(in.Lines, store.Line(l))
	}
	if c.ReturnURL != "" {
		u, err := url.Parse(c.ReturnURL)
		if err != nil || len(c.ReturnURL) > maxURL || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
			bad("return_url", "must be an absolute http(s) URL without credentials, at most 2048 bytes")
		}
	}
	if c.ExpiresAt != "" {
		t, err := time.Parse(time.RFC3339, c.ExpiresAt)
		switch {
		case err != nil:
			bad("expires_at", "must be an RFC 3339 timestamp, e.g. 2026-01-02T15:04:05Z")
		case !t.After(now):
			bad("expires_at", "must be in the future")
		default:
			in.ExpiresAt = t.UTC()
		}
	}
	if c.SellerSignature != "" {
		sig, err := base64.StdEncoding.DecodeString(c.SellerSignature)
		if err != nil {
			sig, err = base64.RawURLEncoding.DecodeString(c.SellerSignature)
		}
		if err != nil {
			bad("seller_signature", "must be base64")
		}
		in.SellerSignature = sig
	}
	if (c.SellerSignature != "") != (c.SellerKeyID != "") {
		bad("seller_key_id", "seller_signature and seller_key_id go together")
	}
	if c.SignedAtUnixMS < 0 {
		bad("signed_at_unix_ms", "must not be negative")
	}
	return in, errs
}

func amountMessage(err error) string {
	switch {
	case errors.Is(err, amount.ErrTooManyDecimals):
		return "has more decimal places than the currency allows"
	case errors.Is(err, amount.ErrNotPositive):
		return "must be greater than zero"
	case errors.Is(err, amount.ErrOverflow):
		return "is too large"
	default:
		return `must be a plain decimal string such as "12.34"`
	}
}

// printable reports whether s is valid UTF-8 without control characters.
func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

// validIdempotencyKey accepts 1-255 printable ASCII characters.
func validIdempotencyKey(k string) bool {
	if k == "" || len(k) > maxIdempotencyKey {
		return false
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x21 || k[i] > 0x7e {
			return false
		}
	}
	return true
}

func (s *Server) createPayment(w http.ResponseWriter, r *http.Request, merchantID string) {
	idemKey := r.Header.Get("Idempotency-Key")
	if _, present := r.Header["Idempotency-Key"]; present && !validIdempotencyKey(idemKey) {
		writeProblem(w, newProblem(CodeIdempotencyKeyInvalid, "Idempotency-Key must be 1 to 255 printable ASCII characters."))
		return
	}
	body, p := readJSON(w, r, s.limits.MaxBodyBytes, s.limits.MaxJSONDepth)
	if p != nil {
		writeProblem(w, p)
		return
	}
	var req createRequest
	if p := decodeStrict(body, &req); p != nil {
		writeProblem(w, p)
		return
	}
	in, errs := req.toInput(s.opts.Now())
	if len(errs) > 0 {
		writeProblem(w, invalidFields(errs))
		return
	}
	// The canonical body is the decoded request re-encoded: key order and
	// whitespace do not change the hash.
	sum, err := requestHash(r, &req)
	if err != nil {
		s.fail(w, r, err)
		return
	}

	// The stored (replayable) response never holds the token or the page
	// URL: tokens are never stored.
	render := func(p *store.Payment, _, _ string) (int, []byte) {
		b, _ := marshalLine(createResponse{Payment: resource.NewPayment(p)})
		return http.StatusCreated, b
	}
	res, err := s.opts.Engine.CreatePayment(r.Context(), merchantID, idemKey, hex.EncodeToString(sum[:]), in, render)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if res.Replayed {
		w.Header().Set("Idempotent-Replayed", "true")
		if len(res.Response) == 0 || res.Status == 0 {
			writeJSON(w, http.StatusCreated, createResponse{Payment: resource.NewPayment(res.Payment)})
			return
		}
		writeRaw(w, res.Status, res.Response)
		return
	}
	w.Header().Set("Location", "/v1/payments/"+url.PathEscape(res.Payment.ID))
	writeJSON(w, http.StatusCreated, createResponse{
		Payment:        resource.NewPayment(res.Payment),
		PaymentPageURL: res.PageURL,
		PayToken:       res.Token,
	})
}

// requestHash is the SHA-256 of "METHOD\npath\n" and json.Marshal(req),
// the body an idempotency key is bound to.
func requestHash(r *http.Request, req *createRequest) ([32]byte, error) {
	buf := bufPool.Get().(*bytes.Buffer)
	defer putBuf(buf)
	buf.Reset()
	buf.WriteString(r.Method)
	buf.WriteByte('\n')
	buf.WriteString(r.URL.Path)
	buf.WriteByte('\n')
	if err := json.NewEncoder(buf).Encode(req); err != nil {
		return [32]byte{}, err
	}
	buf.Truncate(buf.Len() - 1) // Encode's newline
	return sha256.Sum256(buf.Bytes()), nil
}

func (s *Server) getPayment(w http.ResponseWriter, r *http.Request, merchantID string) {
	p, err := s.opts.Engine.GetPayment(r.Context(), merchantID, r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, resource.NewPayment(p))
}

// paymentQR answers GET /v1/payments/{id}/qr.png: a PNG QR code of the
// payment page URL, for an offline store to show at the counter. Like every
// merchant endpoint it answers not_found for another merchant's payment, and
// payment_final once the payment can no longer be paid.
func (s *Server) paymentQR(w http.ResponseWriter, r *http.Request, merchantID string) {
	p, err := s.opts.Engine.GetPayment(r.Context(), merchantID, r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if flow.IsFinal(p.State) {
		writeProblem(w, newProblem(CodePaymentFinal, "The payment is "+p.State+"; there is nothing left to pay."))
		return
	}
	png, err := page.QRCode(s.opts.Engine.PageURL(p))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "image/png")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", strconv.Itoa(len(png)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(png)
}

// listResponse is a page of payments, newest first.
type listResponse struct {
	Data       []resource.Payment `json:"data"`
	NextCursor string             `json:"next_cursor,omitempty"`
}

func (s *Server) listPayments(w http.ResponseWriter, r *http.Request, merchantID string) {
	q := r.URL.Query()
	limit := defaultListLimit
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxListLimit {
			writeProblem(w, invalidFields([]FieldError{{Field: "limit", Message: "must be an integer from 1 to 100"}}))
			return
		}
		limit = n
	}
	cursor := q.Get("cursor")
	if len(cursor) > 256 || !printable(cursor) {
		writeProblem(w, invalidFields([]FieldError{{Field: "cursor", Message: "is not a cursor this API returned"}}))
		return
	}
	ps, next, err := s.opts.Engine.ListPayments(r.Context(), merchantID, cursor, limit)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := listResponse{Data: make([]resource.Payment, 0, len(ps)), NextCursor: next}
	for _, p := range ps {
		out.Data = append(out.Data, resource.NewPayment(p))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) cancelPayment(w http.ResponseWriter, r *http.Request, merchantID string) {
	p, err := s.opts.Engine.CancelPayment(r.Context(), merchantID, r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, resource.NewPayment(p))
}

// eventsResponse is a payment's timeline, oldest first.
type eventsResponse struct {
	Data []resource.Event `json:"data"`
}

func (s *Server) paymentEvents(w http.ResponseWriter, r *http.Request, merchantID string) {
	evs, err := s.opts.Engine.Events(r.Context(), merchantID, r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := eventsResponse{Data: make([]resource.Event, 0, len(evs))}
	for _, e := range evs {
		out.Data = append(out.Data, resource.NewEvent(e))
	}
	writeJSON(w, http.StatusOK, out)
}
