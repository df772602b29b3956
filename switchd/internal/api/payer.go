package api

import (
	"bytes"
	"encoding/json"
	"net/http"
	"time"

	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
	"github.com/switchd/switchd/switchd/internal/amount"
	"github.com/switchd/switchd/switchd/internal/api/resource"
	"github.com/switchd/switchd/switchd/internal/flow"
)

// payerView is GET /v1/pay/{token}: what the payment page shows. It holds
// the order fields the page needs to recompute the order digest, and
// nothing secret (no token, instrument token, payer reference, BIN).
type payerView struct {
	Payment      payerPayment `json:"payment"`
	MerchantName string       `json:"merchant_name"`
	AcquirerName string       `json:"acquirer_name,omitempty"`
	IssuerName   string       `json:"issuer_name,omitempty"`
	Methods      []string     `json:"methods"`
	Banks        []bank       `json:"banks"`
	Mechanism    string       `json:"mechanism,omitempty"`
	DigestHex    string       `json:"digest_hex,omitempty"`
}

type payerPayment struct {
	ID          string          `json:"id"`
	State       string          `json:"state"`
	DeclineCode string          `json:"decline_code,omitempty"`
	MerchantID  string          `json:"merchant_id"`
	AcquirerID  string          `json:"acquirer_id"`
	IssuerID    string          `json:"issuer_id,omitempty"`
	Amount      string          `json:"amount"`
	AmountMinor int64           `json:"amount_minor"`
	Currency    string          `json:"currency"`
	Method      string          `json:"method,omitempty"`
	Instrument  string          `json:"instrument,omitempty"`
	OrderRef    string          `json:"order_ref"`
	Description string          `json:"description,omitempty"`
	Lines       []resource.Line `json:"lines,omitempty"`
	ReturnURL   string          `json:"return_url,omitempty"`
	ExpiresAt   time.Time       `json:"expires_at"`
}

type bank struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	BankCode string `json:"bank_code"`
}

func newPayerView(v *flow.PayerView) payerView {
	p := v.Payment
	out := payerView{
		Payment: payerPayment{
			ID: p.ID, State: p.State, DeclineCode: p.DeclineCode, MerchantID: p.MerchantID,
			AcquirerID: p.AcquirerID, IssuerID: p.IssuerID, Amount: amount.Format(p.AmountMinor, p.Currency),
			AmountMinor: p.AmountMinor, Currency: p.Currency, Method: p.Method, Instrument: p.Display,
			OrderRef: p.OrderRef, Description: p.Description, ReturnURL: p.ReturnURL, ExpiresAt: p.ExpiresAt.UTC(),
		},
		MerchantName: v.MerchantName, AcquirerName: v.AcquirerName, IssuerName: v.IssuerName,
		Methods: v.Methods, Banks: make([]bank, 0, len(v.Banks)),
		Mechanism: v.Mechanism, DigestHex: v.DigestHex,
	}
	if out.Methods == nil {
		out.Methods = []string{}
	}
	for _, l := range p.Lines {
		out.Payment.Lines = append(out.Payment.Lines, resource.Line(l))
	}
	for _, b := range v.Banks {
		out.Banks = append(out.Banks, bank{ID: b.ID, Name: b.Name, BankCode: b.BankCode})
	}
	return out
}

// validToken rejects tokens no engine could have issued before looking
// them up; they get the same 404 as unknown ones.
func validToken(t string) bool {
	if len(t) < 16 || len(t) > 128 {
		return false
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func (s *Server) payerView(w http.ResponseWriter, r *http.Request) {
	token := r.PathValue("token")
	if !validToken(token) {
		writeProblem(w, notFound())
		return
	}
	v, err := s.opts.Engine.PayerView(r.Context(), token)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, newPayerView(v))
}

// payerHandler runs a payer step for a syntactically valid token.
type payerHandler func(w http.ResponseWriter, r *http.Request, token string)

// payerStep checks the token's shape (404) and the per-token attempt rate
// (429) before a step that calls an institution.
func (s *Server) payerStep(h payerHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		token := r.PathValue("token")
		if !validToken(token) {
			writeProblem(w, notFound())
			return
		}
		if ok, retry := s.payer.allow(tokenKey(token), s.opts.Now()); !ok {
			p := newProblem(CodeRateLimited, "Too many attempts for this payment; retry after the delay in Retry-After.")
			p.retryAfter = retry
			writeProblem(w, p)
			return
		}
		h(w, r, token)
	}
}

// chooseRequest is the body of POST /v1/pay/{token}/method.
type chooseRequest struct {
	Method  string          `json:"method"`
	Card    *cardRequest    `json:"card,omitempty"`
	Account *accountRequest `json:"account,omitempty"`
}

type cardRequest struct {
	Number      string `json:"number"`
	ExpiryMonth uint32 `json:"expiry_month"`
	ExpiryYear  uint32 `json:"expiry_year"`
}

type accountRequest struct {
	BankCode      string `json:"bank_code"`
	AccountNumber string `json:"account_number"`
}

// secrets are the values that must never appear in a response or log.
func (c *chooseRequest) secrets() []string {
	var s []string
	if c.Card != nil {
		s = append(s, c.Card.Number)
	}
	if c.Account != nil {
		s = append(s, c.Account.AccountNumber)
	}
	return s
}

// toInput validates the choice. Messages never quote the values.
func (c *chooseRequest) toInput(now time.Time) (flow.ChooseInput, []FieldError) {
	var errs []FieldError
	bad := func(field, msg string) { errs = append(errs, FieldError{Field: field, Message: msg}) }
	in := flow.ChooseInput{Method: c.Method}
	switch c.Method {
	case "card":
		if c.Account != nil {
			bad("account", "not allowed with method card")
		}
		if c.Card == nil {
			bad("card", "required for method card")
			break
		}
		n := c.Card.Number
		if len(n) < 12 || len(n) > 19 || !allDigits(n) {
			bad("card.number", "must be 12 to 19 digits")
		} else if !luhn(n) {
			bad("card.number", "is not a valid card number (check digit)")
		}
		y, m := now.UTC().Year(), int(now.UTC().Month())
		switch {
		case c.Card.ExpiryMonth < 1 || c.Card.ExpiryMonth > 12:
			bad("card.expiry_month", "must be 1 to 12")
		case c.Card.ExpiryYear < 2000 || c.Card.ExpiryYear > 2099:
			bad("card.expiry_year", "must be a four-digit year")
		case int(c.Card.ExpiryYear) < y || int(c.Card.ExpiryYear) == y && int(c.Card.ExpiryMonth) < m:
			bad("card.expiry_year", "the card has expired")
		}
		in.Card = &pb.CardInstrument{Pan: n, ExpiryMonth: c.Card.ExpiryMonth, ExpiryYear: c.Card.ExpiryYear}
	case "bank_transfer":
		if c.Card != nil {
			bad("card", "not allowed with method bank_transfer")
		}
		if c.Account == nil {
			bad("account", "required for method bank_transfer")
			break
		}
		if bc := c.Account.BankCode; bc == "" || len(bc) > 32 || !alnum(bc) {
			bad("account.bank_code", "must be 1 to 32 letters or digits")
		}
		if an := c.Account.AccountNumber; an == "" || len(an) > 34 || !alnum(an) {
			bad("account.account_number", "must be 1 to 34 letters or digits")
		}
		in.Account = &pb.AccountInstrument{BankCode: c.Account.BankCode, AccountNumber: c.Account.AccountNumber}
	case "":
		bad("method", "required: card or bank_transfer")
	default:
		bad("method", "must be card or bank_transfer")
	}
	return in, errs
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

func alnum(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

// luhn checks a card number's check digit.
func luhn(n string) bool {
	sum, alt := 0, false
	for i := len(n) - 1; i >= 0; i-- {
		d := int(n[i] - '0')
		if alt {
			if d *= 2; d > 9 {
				d -= 9
			}
		}
		sum += d
		alt = !alt
	}
	return sum%10 == 0
}

func (s *Server) chooseMethod(w http.ResponseWriter, r *http.Request, token string) {
	body, p := readJSON(w, r, s.limits.MaxBodyBytes, s.limits.MaxJSONDepth)
	if p != nil {
		writeProblem(w, p)
		return
	}
	var req chooseRequest
	if p := decodeStrict(body, &req); p != nil {
		writeProblem(w, p)
		return
	}
	in, errs := req.toInput(s.opts.Now())
	if len(errs) > 0 {
		writeProblem(w, invalidFields(errs))
		return
	}
	v, err := s.opts.Engine.ChooseMethod(r.Context(), token, in)
	if err != nil {
		s.fail(w, r, err, req.secrets()...)
		return
	}
	writeJSON(w, http.StatusOK, newPayerView(v))
}

// payerData reads an auth or enrolment body: a JSON object passed to the
// institution's authenticator as is.
func (s *Server) payerData(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	body, p := readJSON(w, r, s.limits.MaxBodyBytes, s.limits.MaxJSONDepth)
	if p == nil && bytes.TrimSpace(body)[0] != '{' {
		p = newProblem(CodeInvalidRequest, "The request body must be a JSON object.")
	}
	if p != nil {
		writeProblem(w, p)
		return nil, false
	}
	return body, true
}

// challenge is the answer of auth/begin and enroll/begin.
type challenge struct {
	Mechanism string `json:"mechanism"`
	// ChallengeData is the authenticator's JSON, embedded as is; if an
	// authenticator ever returns non-JSON it is sent as a base64 string.
	ChallengeData json.RawMessage `json:"challenge_data"`
	DigestHex     string          `json:"digest_hex,omitempty"`
}

func newChallenge(c *flow.AuthChallenge) challenge {
	data := json.RawMessage(c.ChallengeData)
	if len(data) == 0 {
		data = json.RawMessage("{}")
	} else if !json.Valid(data) {
		data, _ = json.Marshal(c.ChallengeData) // []byte marshals as base64
	}
	return challenge{Mechanism: c.Mechanism, ChallengeData: data, DigestHex: c.DigestHex}
}

func (s *Server) beginAuth(w http.ResponseWriter, r *http.Request, token string) {
	data, ok := s.payerData(w, r)
	if !ok {
		return
	}
	c, err := s.opts.Engine.BeginAuth(r.Context(), token, data)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, newChallenge(c))
}

func (s *Server) finishAuth(w http.ResponseWriter, r *http.Request, token string) {
	data, ok := s.payerData(w, r)
	if !ok {
		return
	}
	v, err := s.opts.Engine.FinishAuth(r.Context(), token, data)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, newPayerView(v))
}

func (s *Server) beginEnroll(w http.ResponseWriter, r *http.Request, token string) {
	data, ok := s.payerData(w, r)
	if !ok {
		return
	}
	c, err := s.opts.Engine.BeginEnrollment(r.Context(), token, data)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, newChallenge(c))
}

func (s *Server) finishEnroll(w http.ResponseWriter, r *http.Request, token string) {
	data, ok := s.payerData(w, r)
	if !ok {
		return
	}
	if err := s.opts.Engine.FinishEnrollment(r.Context(), token, data); err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]bool{"enrolled": true})
}
