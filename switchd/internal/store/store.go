// Package store is switchd's durable state: payments, their append-only
// event log, idempotency records and the outbox of notices and webhooks.
//
// The flow sees only the Store and Tx interfaces, so a PostgreSQL backend
// can be added without touching it. The embedded default is bbolt (see
// Open). Every Update is durable (fsynced) when it returns; concurrent
// Updates are group-committed so that durability does not cap throughput.
package store

import (
	"context"
	"time"
)

// Store is a transactional store.
type Store interface {
	// Update runs fn in a read-write transaction and commits it durably.
	// If fn returns an error nothing is written and Update returns it.
	// fn may be called more than once (group commit retries a batch whose
	// other member failed), so it must not have side effects outside tx.
	Update(ctx context.Context, fn func(Tx) error) error
	// View runs fn in a read-only transaction.
	View(ctx context.Context, fn func(Tx) error) error
	// Close releases the store.
	Close() error
}

// Tx is one transaction. Getters return ErrNotFound when absent.
type Tx interface {
	GetPayment(id string) (*Payment, error)
	// PutPayment inserts or replaces a payment and maintains its indexes
	// (merchant listing, token lookup, non-final set by expiry).
	PutPayment(p *Payment) error
	// PaymentByToken finds a payment by its payer capability token hash.
	PaymentByToken(tokenHash string) (*Payment, error)
	// ListPayments lists one merchant's payments, newest first, starting
	// after cursor ("" for the first page). It returns the next cursor, or
	// "" when there are no more.
	ListPayments(merchantID, cursor string, limit int) ([]*Payment, string, error)
	// ActivePayments lists payments not in a final state, soonest expiry
	// first, at most limit.
	ActivePayments(limit int) ([]*Payment, error)

	// AppendEvent appends to a payment's event log; Seq is assigned.
	AppendEvent(e *Event) error
	// Events returns a payment's events in order.
	Events(paymentID string) ([]*Event, error)

	GetIdempotency(merchantID, key string) (*Idempotency, error)
	PutIdempotency(r *Idempotency) error
	// PruneIdempotency deletes records created before cutoff; returns how many.
	PruneIdempotency(cutoff time.Time) (int, error)

	// Enqueue adds a message to the outbox (ID must be unique and stable).
	Enqueue(m *OutboxMessage) error
	GetOutbox(id string) (*OutboxMessage, error)
	// PutOutbox updates a message (attempts, next attempt, state).
	PutOutbox(m *OutboxMessage) error
	// DueOutbox lists pending messages whose NextAttempt <= now, oldest first.
	DueOutbox(now time.Time, limit int) ([]*OutboxMessage, error)
	// DueOutboxRefs lists the same messages as DueOutbox, but only their
	// ID, kind and next attempt, read from the due index without decoding
	// the messages: the outbox worker scans it on every wake-up.
	DueOutboxRefs(now time.Time, limit int) ([]OutboxRef, error)
	// OutboxFor lists a payment's outbox messages.
	OutboxFor(paymentID string) ([]*OutboxMessage, error)

	// PutPluginState sets key to value in the state of one instance of a
	// plugin that keeps its durable state in the switch's database
	// (sdk.CapHostState); an empty value deletes key. Keys are 1 to
	// MaxStateKey bytes, values at most MaxStateValue.
	PutPluginState(plugin, instance string, key, value []byte) error
	// PluginState calls fn for each record of the instance's state, in key
	// order. key and value are valid only during fn.
	PluginState(plugin, instance string, fn func(key, value []byte) error) error
	// HasPluginState reports whether the instance's state holds a record.
	HasPluginState(plugin, instance string) (bool, error)
}

// Bounds of one plugin state record (see Tx.PutPluginState).
const (
	MaxStateKey   = 512
	MaxStateValue = 64 << 10
)

// Payment is the stored form of a payment. It never holds a full card
// number or CVV: only BIN, last four and the issuer plugin's token.
type Payment struct {
	ID          string    `json:"id"`
	MerchantID  string    `json:"merchant_id"`
	AcquirerID  string    `json:"acquirer_id"`
	IssuerID    string    `json:"issuer_id,omitempty"`
	AmountMinor int64     `json:"amount_minor"`
	Currency    string    `json:"currency"`
	Method      string    `json:"method,omitempty"` // "card" | "bank_transfer" once chosen
	OrderRef    string    `json:"order_ref"`
	Description string    `json:"description,omitempty"`
	Lines       []Line    `json:"lines,omitempty"`
	ReturnURL   string    `json:"return_url,omitempty"`
	ExpiresAt   time.Time `json:"expires_at"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`

	// State is the flow state (see package flow). DeclineCode says why a
	// final failure state was reached.
	State       string `json:"state"`
	DeclineCode string `json:"decline_code,omitempty"`
	// Version increases by one on every PutPayment by the flow (optimistic
	// concurrency is the flow's job; the store just keeps it).
	Version int64 `json:"version"`

	// TokenHash is SHA-256 (hex) of the payer capability token; the token
	// itself is never stored.
	TokenHash string `json:"token_hash"`

	// Seller's signature over the terms (step B input).
	SellerSignature []byte `json:"seller_signature,omitempty"`
	SellerKeyID     string `json:"seller_key_id,omitempty"`
	SignedAtUnixMS  int64  `json:"signed_at_unix_ms,omitempty"`

	// Instrument, after step A.
	InstrumentToken string `json:"instrument_token,omitempty"`
	BIN             string `json:"bin,omitempty"`
	Last4           string `json:"last4,omitempty"`
	Display         string `json:"display,omitempty"`
	PayerRef        string `json:"payer_ref,omitempty"`
	BankCode        string `json:"bank_code,omitempty"`

	// Digest is the canonical order digest once the order is complete (A).
	Digest []byte `json:"digest,omitempty"`
	// Attestations by step ("B", "C", "D"), protobuf-encoded pb.Attestation.
	Attestations map[string][]byte `json:"attestations,omitempty"`
	// DebitReference / CreditReference are the banks' references at D.
	DebitReference  string `json:"debit_reference,omitempty"`
	CreditReference string `json:"credit_reference,omitempty"`
	// Pending names a step whose outbound call may have happened but whose
	// result is not yet recorded (e.g. "debit", "credit", "reverse_debit"),
	// so recovery knows to ask the plugin's status instead of guessing.
	Pending string `json:"pending,omitempty"`
	// PayerAuthFailures counts the payer's failed step-C answers in this
	// payment (see flow.MaxPayerAttempts).
	PayerAuthFailures int `json:"payer_auth_failures,omitempty"`
	// ConfigGeneration is the network config generation the payment runs
	// under (for reload semantics).
	ConfigGeneration int64 `json:"config_generation,omitempty"`
}

// Line is one order line shown on the payment page.
type Line struct {
	Name        string `json:"name"`
	Quantity    int64  `json:"quantity"`
	AmountMinor int64  `json:"amount_minor"`
}

// Event is one entry of a payment's append-only timeline.
type Event struct {
	PaymentID string    `json:"payment_id"`
	Seq       int64     `json:"seq"`
	At        time.Time `json:"at"`
	// Type is e.g. "payment.created", "payment.method_chosen",
	// "payment.seller_authenticated", "payment.approved".
	Type string `json:"type"`
	// From and To are the states around a transition, when it is one.
	From string `json:"from,omitempty"`
	To   string `json:"to,omitempty"`
	// Detail is a short, secret-free explanation (decline code, step).
	Detail string `json:"detail,omitempty"`
}

// Idempotency is a stored answer to a merchant request with an
// Idempotency-Key (Stripe semantics).
type Idempotency struct {
	MerchantID string    `json:"merchant_id"`
	Key        string    `json:"key"`
	BodyHash   string    `json:"body_hash"` // SHA-256 hex of method+path+body
	Status     int       `json:"status"`
	Response   []byte    `json:"response"`
	PaymentID  string    `json:"payment_id,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
}

// Outbox message kinds.
const (
	KindWebhook        = "webhook"         // Standard Webhooks POST to the merchant
	KindAcquirerNotice = "acquirer_notice" // issuer's notice of payment to the acquirer (step D)
)

// Outbox message states.
const (
	OutboxPending   = "pending"
	OutboxDelivered = "delivered"
	OutboxGaveUp    = "gave_up"
)

// OutboxRef names a pending outbox message in the due index.
type OutboxRef struct {
	ID          string
	Kind        string
	NextAttempt time.Time
}

// OutboxMessage is a notice or webhook written in the same transaction as
// the state change that causes it, and delivered after commit.
type OutboxMessage struct {
	// ID is stable and unique; for webhooks it is the webhook-id header, so
	// receivers can deduplicate.
	ID          string    `json:"id"`
	Kind        string    `json:"kind"`
	PaymentID   string    `json:"payment_id"`
	MerchantID  string    `json:"merchant_id"`
	EventType   string    `json:"event_type"`
	Body        []byte    `json:"body"`
	CreatedAt   time.Time `json:"created_at"`
	State       string    `json:"state"`
	Attempts    int       `json:"attempts"`
	NextAttempt time.Time `json:"next_attempt"`
	LastError   string    `json:"last_error,omitempty"`
	DeliveredAt time.Time `json:"delivered_at,omitempty"`
}
