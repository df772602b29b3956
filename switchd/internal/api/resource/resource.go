// Package resource renders stored payments as the JSON the merchant API
// returns. It is its own package so that the flow engine can render the
// same JSON into webhook bodies without importing the API (which imports
// the flow).
//
// What is rendered is chosen field by field: never the capability token or
// its hash, the instrument token, the seller's signature, attestations or
// the payer reference.
package resource

import (
	"time"

	"github.com/switchd/switchd/switchd/internal/amount"
	"github.com/switchd/switchd/switchd/internal/store"
)

// Payment is a payment as the merchant API shows it.
type Payment struct {
	ID          string    `json:"id"`
	Object      string    `json:"object"` // always "payment"
	Status      string    `json:"status"`
	DeclineCode string    `json:"decline_code,omitempty"`
	Amount      string    `json:"amount"` // decimal, with the currency's minor-unit places
	AmountMinor int64     `json:"amount_minor"`
	Currency    string    `json:"currency"`
	MerchantID  string    `json:"merchant_id"`
	AcquirerID  string    `json:"acquirer_id"`
	IssuerID    string    `json:"issuer_id,omitempty"`
	Method      string    `json:"method,omitempty"`
	Instrument  string    `json:"instrument,omitempty"` // e.g. "Visa •••• 4242", from the issuer's plugin
	Last4       string    `json:"last4,omitempty"`
	OrderRef    string    `json:"order_ref"`
	Description string    `json:"description,omitempty"`
	Lines       []Line    `json:"lines,omitempty"`
	ReturnURL   string    `json:"return_url,omitempty"`
	ExpiresAt   time.Time `json:"expires_at"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
	// CreditReference is the acquirer's reference for the credit, once approved.
	CreditReference string `json:"credit_reference,omitempty"`
}

// Line is one order line.
type Line struct {
	Name        string `json:"name"`
	Quantity    int64  `json:"quantity"`
	AmountMinor int64  `json:"amount_minor"`
}

// NewPayment renders p.
func NewPayment(p *store.Payment) Payment {
	out := Payment{
		ID:              p.ID,
		Object:          "payment",
		Status:          p.State,
		DeclineCode:     p.DeclineCode,
		Amount:          amount.Format(p.AmountMinor, p.Currency),
		AmountMinor:     p.AmountMinor,
		Currency:        p.Currency,
		MerchantID:      p.MerchantID,
		AcquirerID:      p.AcquirerID,
		IssuerID:        p.IssuerID,
		Method:          p.Method,
		Instrument:      p.Display,
		Last4:           p.Last4,
		OrderRef:        p.OrderRef,
		Description:     p.Description,
		ReturnURL:       p.ReturnURL,
		ExpiresAt:       p.ExpiresAt.UTC(),
		CreatedAt:       p.CreatedAt.UTC(),
		UpdatedAt:       p.UpdatedAt.UTC(),
		CreditReference: p.CreditReference,
	}
	for _, l := range p.Lines {
		out.Lines = append(out.Lines, Line(l))
	}
	return out
}

// Event is one entry of a payment's timeline.
type Event struct {
	Seq    int64     `json:"seq"`
	At     time.Time `json:"at"`
	Type   string    `json:"type"`
	From   string    `json:"from,omitempty"`
	To     string    `json:"to,omitempty"`
	Detail string    `json:"detail,omitempty"`
}

// NewEvent renders e.
func NewEvent(e *store.Event) Event {
	return Event{Seq: e.Seq, At: e.At.UTC(), Type: e.Type, From: e.From, To: e.To, Detail: e.Detail}
}
