package checkout

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
	"github.com/switchd/switchd/plugins/sdk/order"
)

// Store is the merchant side: what a store's backend holds.
type Store struct {
	// MerchantID and AcquirerID name the store and its bank as in the
	// network configuration; both are part of the signed terms.
	MerchantID, AcquirerID string
	// APIKey is the merchant API key (switchd keeps only its SHA-256).
	APIKey string
	// SigningKey signs the order terms; SigningKeyID names its public half
	// in the acquirer's merchantsig block.
	SigningKey   ed25519.PrivateKey
	SigningKeyID string
	// WebhookAddr is the listen address of the store's webhook endpoint
	// (host:port of the merchant's webhook_url); WebhookSecret verifies the
	// deliveries.
	WebhookAddr, WebhookSecret string
}

// SignedOrder returns the body of POST /v1/payments for the given terms,
// expiring at expires (whole seconds), with the store's Ed25519 signature
// over order.SellerMessage(order.TermsDigest(terms), signedAt in Unix ms).
func (s Store) SignedOrder(amountMinor int64, currency, orderRef string, expires, signedAt time.Time) map[string]any {
	expires = expires.Truncate(time.Second)
	ms := signedAt.UnixMilli()
	terms := order.TermsDigest(&pb.Order{MerchantId: s.MerchantID, AcquirerId: s.AcquirerID, AmountMinor: amountMinor,
		Currency: currency, OrderRef: orderRef, ExpiresAtUnix: expires.Unix()})
	sig := ed25519.Sign(s.SigningKey, order.SellerMessage(terms, ms))
	return map[string]any{
		"amount_minor": amountMinor, "currency": currency, "order_ref": orderRef,
		"expires_at":       expires.UTC().Format(time.RFC3339),
		"seller_signature": base64.StdEncoding.EncodeToString(sig), "seller_key_id": s.SigningKeyID,
		"signed_at_unix_ms": ms,
	}
}

// Payer is one payer with one instrument and the credential for its
// issuer's authenticator.
type Payer struct {
	// Name is shown in the output.
	Name string
	// Method is "card" or "bank_transfer".
	Method string
	// PAN, ExpiryMonth and ExpiryYear describe a card.
	PAN                     string
	ExpiryMonth, ExpiryYear int
	// BankCode and Account describe a bank account.
	BankCode, Account string
	// OCRAKey is the payer's OCRA key, for an issuer using ocra.
	OCRAKey []byte
	// Phone is the payer's passkey phone, for an issuer using passkeys.
	Phone *Phone
	// EnrollmentCode is the activation code the issuer gave the payer out
	// of band; a passkey can be enrolled only with it.
	EnrollmentCode string
}

// Payment is one demo payment: a payer paying an amount.
type Payment struct {
	Payer       Payer
	AmountMinor int64
	Currency    string
	OrderRef    string
}

// Config is everything Run needs.
type Config struct {
	// APIURL is switchd's public API base URL, e.g. http://127.0.0.1:8080.
	APIURL   string
	Store    Store
	Payments []Payment
	// Out receives the step-by-step report; nil discards it.
	Out io.Writer
	// WebhookTimeout bounds the wait for each webhook; zero means 30s.
	WebhookTimeout time.Duration
}

// Step is one step of a payment with its duration.
type Step struct {
	Name     string // "A" to "E"
	What     string
	Duration time.Duration
}

// Result is one payment's outcome.
type Result struct {
	PaymentID  string
	Method     string
	Issuer     string
	Mechanism  string
	Status     string
	Instrument string
	DigestHex  string
	// Enrolled reports that the payer enrolled a passkey during C.
	Enrolled bool
	// Webhook is the verified event type, e.g. "payment.approved".
	Webhook string
	Steps   []Step
	Total   time.Duration
}

// QuickstartDemoKey is the Tea Shop's published demo API key in
// examples/quickstart (DEMO ONLY; the network holds its SHA-256).
const QuickstartDemoKey = "sk_test_quickstart_tea_shop_0123456789"

// Quickstart returns the demo configuration for the quickstart network in
// dir (examples/quickstart): the Tea Shop, Bob paying by card at Beta Bank
// with a passkey kept in phoneFile (enrolled on first use, from a page at
// origin, with his activation code), and Alice paying by bank transfer at Alpha Bank with OCRA. The
// keys are read from dir/secrets.
func Quickstart(dir, apiURL, phoneFile, origin string) (*Config, error) {
	read := func(name string) (string, error) {
		b, err := os.ReadFile(filepath.Join(dir, "secrets", name))
		if err != nil {
			return "", fmt.Errorf("checkout: quickstart secret: %w", err)
		}
		return strings.TrimSpace(string(b)), nil
	}
	seedHex, err := read("tea_shop_ed25519.seed")
	if err != nil {
		return nil, err
	}
	seed, err := hex.DecodeString(seedHex)
	if err != nil || len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("checkout: tea_shop_ed25519.seed is not a 32-byte hex seed")
	}
	whsec, err := read("tea_shop_webhook.secret")
	if err != nil {
		return nil, err
	}
	bobCode, err := read("bob_enrollment_code")
	if err != nil {
		return nil, err
	}
	ocraHex, err := read("alice_ocra.key")
	if err != nil {
		return nil, err
	}
	ocraKey, err := hex.DecodeString(ocraHex)
	if err != nil {
		return nil, fmt.Errorf("checkout: alice_ocra.key is not hex")
	}
	ref := time.Now().UTC().Format("20060102-150405.000")
	return &Config{
		APIURL: apiURL,
		Store: Store{MerchantID: "tea_shop", AcquirerID: "alpha", APIKey: QuickstartDemoKey,
			SigningKey: ed25519.NewKeyFromSeed(seed), SigningKeyID: "k1",
			WebhookAddr: "127.0.0.1:8090", WebhookSecret: whsec},
		Payments: []Payment{
			{Payer: Payer{Name: "Bob", Method: "card", PAN: "5555555555554444", ExpiryMonth: 12, ExpiryYear: 2039,
				Phone: &Phone{Path: phoneFile, Origin: origin}, EnrollmentCode: bobCode},
				AmountMinor: 1250, Currency: "EUR", OrderRef: "demo-" + ref + "-card"},
			{Payer: Payer{Name: "Alice", Method: "bank_transfer", BankCode: "1001", Account: "1001000015", OCRAKey: ocraKey},
				AmountMinor: 4200, Currency: "EUR", OrderRef: "demo-" + ref + "-transfer"},
		},
	}, nil
}

// Run starts the store's webhook listener and runs every payment of cfg in
// turn, printing each step. It stops at the first payment that is not
// approved with a verified webhook, and returns the results so far.
func Run(ctx context.Context, cfg *Config) ([]Result, error) {
	out := cfg.Out
	if out == nil {
		out = io.Discard
	}
	hooks, err := ListenWebhooks(cfg.Store.WebhookAddr, cfg.Store.WebhookSecret)
	if err != nil {
		return nil, err
	}
	defer hooks.Close()
	fmt.Fprintf(out, "switchd demo: store %s at %s, webhooks on http://%s\n", cfg.Store.MerchantID, cfg.APIURL, hooks.Addr())
	c := &client{base: strings.TrimRight(cfg.APIURL, "/"), http: &http.Client{Timeout: 30 * time.Second}}
	wait := cfg.WebhookTimeout
	if wait <= 0 {
		wait = 30 * time.Second
	}
	var results []Result
	for _, p := range cfg.Payments {
		r, err := runOne(ctx, c, cfg.Store, p, hooks, wait, out)
		if r != nil {
			results = append(results, *r)
		}
		if err != nil {
			return results, err
		}
	}
	if bad := hooks.Rejected(); bad > 0 {
		fmt.Fprintf(out, "warning: %d webhook deliveries failed verification and were refused\n", bad)
	}
	return results, nil
}

// payerView is GET /v1/pay/{token} (and the answer of the payer steps).
type payerView struct {
	Payment struct {
		ID          string    `json:"id"`
		State       string    `json:"state"`
		DeclineCode string    `json:"decline_code"`
		MerchantID  string    `json:"merchant_id"`
		AcquirerID  string    `json:"acquirer_id"`
		IssuerID    string    `json:"issuer_id"`
		AmountMinor int64     `json:"amount_minor"`
		Amount      string    `json:"amount"`
		Currency    string    `json:"currency"`
		Method      string    `json:"method"`
		Instrument  string    `json:"instrument"`
		OrderRef    string    `json:"order_ref"`
		ExpiresAt   time.Time `json:"expires_at"`
	} `json:"payment"`
	MerchantName string `json:"merchant_name"`
	AcquirerName string `json:"acquirer_name"`
	IssuerName   string `json:"issuer_name"`
	Mechanism    string `json:"mechanism"`
	DigestHex    string `json:"digest_hex"`
}

// digest recomputes the order digest from what the payer was shown, as the
// payment page does, and checks it against switchd's.
func (v *payerView) digest() ([]byte, error) {
	m, ok := order.ParseMethod(v.Payment.Method)
	if !ok {
		return nil, fmt.Errorf("%w: unknown method %q", ErrDigestMismatch, v.Payment.Method)
	}
	d := order.Digest(&pb.Order{PaymentId: v.Payment.ID, MerchantId: v.Payment.MerchantID, AcquirerId: v.Payment.AcquirerID,
		IssuerId: v.Payment.IssuerID, AmountMinor: v.Payment.AmountMinor, Currency: v.Payment.Currency, Method: m,
		OrderRef: v.Payment.OrderRef, ExpiresAtUnix: v.Payment.ExpiresAt.Unix()})
	if hex.EncodeToString(d[:]) != v.DigestHex {
		return nil, fmt.Errorf("%w: computed %x, switchd sent %q", ErrDigestMismatch, d, v.DigestHex)
	}
	return d[:], nil
}

type challenge struct {
	Mechanism     string          `json:"mechanism"`
	ChallengeData json.RawMessage `json:"challenge_data"`
	DigestHex     string          `json:"digest_hex"`
}

func runOne(ctx context.Context, c *client, s Store, p Payment, hooks *Webhooks, wait time.Duration, out io.Writer) (*Result, error) {
	start := time.Now()

	// The store signs its terms and creates the payment.
	body := s.SignedOrder(p.AmountMinor, p.Currency, p.OrderRef, time.Now().Add(15*time.Minute), time.Now())
	var created struct {
		ID       string `json:"id"`
		Amount   string `json:"amount"`
		PayToken string `json:"pay_token"`
		PageURL  string `json:"payment_page_url"`
	}
	err := c.do(ctx, "POST", "/v1/payments", s.APIKey, body, &created)
	if err != nil {
		return nil, fmt.Errorf("create payment: %w", err)
	}
	r := &Result{PaymentID: created.ID, Method: p.Payer.Method}
	fmt.Fprintf(out, "\n%s pays %s %s by %s (order %s)\n", p.Payer.Name, p.Currency, created.Amount, p.Payer.Method, p.OrderRef)
	fmt.Fprintf(out, "   payment %s created; payment page %s\n", created.ID, created.PageURL)
	hooks.Expect(created.ID)

	// A (and B inside the same request): the payer chooses the method.
	choice := map[string]any{"method": p.Payer.Method}
	switch p.Payer.Method {
	case "card":
		choice["card"] = map[string]any{"number": p.Payer.PAN, "expiry_month": p.Payer.ExpiryMonth, "expiry_year": p.Payer.ExpiryYear}
	default:
		choice["account"] = map[string]any{"bank_code": p.Payer.BankCode, "account_number": p.Payer.Account}
	}
	var v payerView
	pay := "/v1/pay/" + created.PayToken
	if err := c.do(ctx, "POST", pay+"/method", "", choice, &v); err != nil {
		return r, fmt.Errorf("A, choose %s: %w", p.Payer.Method, err)
	}
	r.Issuer, r.Mechanism, r.Instrument, r.Status = v.IssuerName, v.Mechanism, v.Payment.Instrument, v.Payment.State
	digest, err := v.digest()
	if err != nil {
		return r, err
	}
	r.DigestHex = v.DigestHex

	// C: payer and issuer authenticate each other over the digest.
	var answer []byte
	switch v.Mechanism {
	case "ocra":
		answer, err = ocraAuth(ctx, c, pay, p.Payer, digest)
	case "webauthn":
		answer, r.Enrolled, err = passkeyAuth(ctx, c, pay, p.Payer, digest)
	default:
		err = fmt.Errorf("%w: %q", ErrNoCredential, v.Mechanism)
	}
	if err != nil {
		return r, fmt.Errorf("C at %s: %w", v.IssuerName, err)
	}
	// Finishing C runs D: switchd answers once the payment has left paid.
	if err := c.do(ctx, "POST", pay+"/auth/finish", "", json.RawMessage(answer), &v); err != nil {
		return r, fmt.Errorf("C at %s, finish: %w", v.IssuerName, err)
	}
	r.Status = v.Payment.State
	// E: the signed webhook reaches the store.
	ev, err := hooks.Wait(ctx, created.ID, wait)
	if err != nil {
		return r, err
	}
	r.Webhook = ev.Type
	r.Total = time.Since(start)
	if ev.Type != "payment.approved" || r.Status != "approved" {
		return r, fmt.Errorf("%w: %s is %s (decline code %q), webhook %s", ErrNotApproved, created.ID, r.Status, v.Payment.DeclineCode, ev.Type)
	}
	r.Steps, err = timeline(ctx, c, s.APIKey, created.ID, ev.Received, r, v)
	if err != nil {
		return r, err
	}
	for _, st := range r.Steps {
		fmt.Fprintf(out, "   %s  %-84s %8s\n", st.Name, st.What, st.Duration.Round(100*time.Microsecond))
	}
	fmt.Fprintf(out, "   => %s in %s\n", r.Status, r.Total.Round(time.Millisecond))
	return r, nil
}

// timeline reads the payment's events and turns them into steps A to E.
func timeline(ctx context.Context, c *client, key, id string, hookAt time.Time, r *Result, v payerView) ([]Step, error) {
	var evs struct {
		Data []struct {
			At time.Time `json:"at"`
			To string    `json:"to"`
		} `json:"data"`
	}
	if err := c.do(ctx, "GET", "/v1/payments/"+id+"/events", key, nil, &evs); err != nil {
		return nil, fmt.Errorf("events: %w", err)
	}
	at := map[string]time.Time{}
	for _, e := range evs.Data {
		if _, seen := at[e.To]; !seen {
			at[e.To] = e.At
		}
	}
	for _, s := range []string{"created", "method_chosen", "seller_authenticated", "payer_authenticated", "paid", "approved"} {
		if at[s].IsZero() {
			return nil, fmt.Errorf("events of %s: no %s event", id, s)
		}
	}
	cAuth := fmt.Sprintf("payer and %s authenticated each other over digest %.12s… (%s)", v.IssuerName, r.DigestHex, r.Mechanism)
	if r.Enrolled {
		cAuth = fmt.Sprintf("payer enrolled a passkey, then payer and %s authenticated each other (%s)", v.IssuerName, r.Mechanism)
	}
	e := hookAt.Sub(at["approved"])
	if e < 0 { // the two clocks differ
		e = 0
	}
	return []Step{
		{"A", fmt.Sprintf("payer chose %s %s, routed to issuer %s", r.Method, r.Instrument, v.IssuerName), at["method_chosen"].Sub(at["created"])},
		{"B", fmt.Sprintf("%s checked %s's signature over the terms, attested the order", v.AcquirerName, v.MerchantName), at["seller_authenticated"].Sub(at["method_chosen"])},
		{"C", cAuth, at["payer_authenticated"].Sub(at["seller_authenticated"])},
		{"D", fmt.Sprintf("%s debited the payer, %s credited %s", v.IssuerName, v.AcquirerName, v.MerchantName), at["approved"].Sub(at["payer_authenticated"])},
		{"E", "signed webhook " + r.Webhook + " received and verified by the store", e},
	}, nil
}

// client speaks JSON to switchd.
type client struct {
	base string
	http *http.Client
}

// do sends body (JSON, or a json.RawMessage as is) and decodes a 2xx answer
// into out; any other status is an error wrapping ErrAPI with the
// problem's code.
func (c *client) do(ctx context.Context, method, path, key string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, ok := body.(json.RawMessage)
		if !ok {
			var err error
			if b, err = json.Marshal(body); err != nil {
				return err
			}
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	res, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return err
	}
	if res.StatusCode/100 != 2 {
		var p struct {
			Code        string `json:"code"`
			Detail      string `json:"detail"`
			DeclineCode string `json:"decline_code"`
		}
		_ = json.Unmarshal(b, &p)
		if p.DeclineCode != "" {
			p.Detail += " (decline_code " + p.DeclineCode + ")"
		}
		return fmt.Errorf("%w: %s %s: %d %s: %s", ErrAPI, method, strings.SplitN(path, "/pay/", 2)[0]+redactToken(path), res.StatusCode, p.Code, p.Detail)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%s: decoding the answer: %w", method, err)
	}
	return nil
}

// redactToken keeps pay tokens (capabilities) out of error messages.
func redactToken(path string) string {
	if _, rest, ok := strings.Cut(path, "/pay/"); ok {
		if _, step, ok := strings.Cut(rest, "/"); ok {
			return "/pay/{token}/" + step
		}
		return "/pay/{token}"
	}
	return ""
}
