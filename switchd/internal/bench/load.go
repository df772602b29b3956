package bench

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
	"github.com/switchd/switchd/plugins/sdk/order"
	"github.com/switchd/switchd/switchd/wallet"
)

// Client-side steps of one payment, in the order they happen.
const (
	stepCreate  = "A create"          // merchant: POST /v1/payments, signed order
	stepChoose  = "A+B choose"        // payer: POST /method (routing, instrument, then B)
	stepBegin   = "C begin"           // payer: POST /auth/begin
	stepFinish  = "C finish+D+E"      // payer: POST /auth/finish, answered once approved
	stepOverall = "overall"           // create until the payer sees approved
	stepSwitch  = "switch time"       // the four requests, without the phone's wallet work
	stepB       = "B seller (server)" // method_chosen → seller_authenticated, from the timeline
	stepD       = "D debit (server)"  // payer_authenticated → paid
	stepE       = "E credit (server)" // paid → approved
)

var clientSteps = []string{stepCreate, stepChoose, stepBegin, stepFinish}

// loadOptions bound one load run.
type loadOptions struct {
	Payers   int
	Count    int           // stop after this many payments were started (0: no limit)
	Duration time.Duration // stop starting payments after this long (0: no limit)
	Progress func(done int64, elapsed time.Duration)
}

// loadResult is what a load run measured.
type loadResult struct {
	Approved  int64
	Failed    int64
	Errors    map[string]int64 // failure kind → count
	Elapsed   time.Duration
	Latencies map[string][]time.Duration
	Paid      []paidRef // approved payments, for the timeline sample
}

type paidRef struct{ ID, Merchant string }

// driver plays the shops and the payers' phones against one server. Each
// payer index has its own keep-alive connection, kept from one run to the
// next (warm-up, load, unloaded).
type driver struct {
	addr  string
	net   *network
	conns []*httpConn
}

func newDriver(apiAddr string, n *network, conns int) *driver {
	d := &driver{addr: apiAddr, net: n}
	d.grow(conns)
	return d
}

// grow makes sure there is a connection for each of n payers.
func (d *driver) grow(n int) {
	for len(d.conns) < n {
		d.conns = append(d.conns, newHTTPConn(d.addr))
	}
}

func (d *driver) close() {
	for _, c := range d.conns {
		c.close()
	}
}

// post sends body as JSON on c and decodes a 2xx answer into out. A
// non-2xx answer is an error naming the step, status and problem code.
func post(c *httpConn, step, path, apiKey string, body []byte, out any) error {
	return exchange(c, step, http.MethodPost, path, apiKey, body, out)
}

func exchange(c *httpConn, step, method, path, apiKey string, body []byte, out any) error {
	status, b, err := c.do(method, path, apiKey, body)
	if errors.Is(err, errRequest) {
		return &stepError{step: step, kind: "unusable request"}
	}
	if err != nil {
		return &stepError{step: step, kind: "transport"}
	}
	if status/100 != 2 {
		var p struct {
			Code string `json:"code"`
		}
		_ = json.Unmarshal(b, &p)
		return &stepError{step: step, kind: strconv.Itoa(status) + " " + p.Code}
	}
	if err := json.Unmarshal(b, out); err != nil {
		return &stepError{step: step, kind: "bad json"}
	}
	return nil
}

// stepError is a failed request, by step and kind (status and problem
// code). It never holds a body: those can echo payer data.
type stepError struct{ step, kind string }

func (e *stepError) Error() string { return e.step + ": " + e.kind }

// createBody is the shop's POST /v1/payments.
type createBody struct {
	AmountMinor     int64  `json:"amount_minor"`
	Currency        string `json:"currency"`
	OrderRef        string `json:"order_ref"`
	ExpiresAt       string `json:"expires_at"`
	SellerSignature []byte `json:"seller_signature"` // standard base64
	SellerKeyID     string `json:"seller_key_id"`
	SignedAtUnixMS  int64  `json:"signed_at_unix_ms"`
}

// methodBody is the payer's POST /v1/pay/{token}/method.
type methodBody struct {
	Method  string       `json:"method"`
	Card    *cardBody    `json:"card,omitempty"`
	Account *accountBody `json:"account,omitempty"`
}

type cardBody struct {
	Number      string `json:"number"`
	ExpiryMonth int    `json:"expiry_month"`
	ExpiryYear  int    `json:"expiry_year"`
}

type accountBody struct {
	BankCode      string `json:"bank_code"`
	AccountNumber string `json:"account_number"`
}

// payment runs one complete payment as payer p at shop m, by card or by
// bank transfer, and returns its id and the time of each step.
func (d *driver) payment(c *httpConn, p *payer, m *merchant, card bool, seq int64) (string, [4]time.Duration, time.Duration, error) {
	var lat [4]time.Duration
	start := time.Now()
	amount := 100 + rand.Int64N(9900)
	exp := time.Now().Add(10 * time.Minute).UTC().Truncate(time.Second)
	ref := "bench-" + strconv.FormatInt(seq, 10)
	signedAt := time.Now().UnixMilli()
	o := &pb.Order{MerchantId: m.ID, AcquirerId: acquirerID, AmountMinor: amount, Currency: currency, OrderRef: ref, ExpiresAtUnix: exp.Unix()}
	sig := ed25519.Sign(m.SigningKey, order.SellerMessage(order.TermsDigest(o), signedAt))
	body, _ := json.Marshal(createBody{AmountMinor: amount, Currency: currency, OrderRef: ref,
		ExpiresAt: exp.Format(time.RFC3339), SellerSignature: sig, SellerKeyID: "k1", SignedAtUnixMS: signedAt})
	var created struct {
		ID       string `json:"id"`
		PayToken string `json:"pay_token"`
	}
	t := time.Now()
	if err := post(c, stepCreate, "/v1/payments", m.APIKey, body, &created); err != nil {
		return "", lat, 0, err
	}
	lat[0] = time.Since(t)
	if created.PayToken == "" {
		return "", lat, 0, &stepError{step: stepCreate, kind: "no pay_token"}
	}
	pay := "/v1/pay/" + created.PayToken
	choice := methodBody{Method: "card", Card: &cardBody{Number: p.PAN, ExpiryMonth: 12, ExpiryYear: 2039}}
	if !card {
		choice = methodBody{Method: "bank_transfer", Account: &accountBody{BankCode: issuerCode, AccountNumber: p.Account}}
	}
	body, _ = json.Marshal(choice)
	var view struct {
		Payment struct {
			IssuerID string `json:"issuer_id"`
		} `json:"payment"`
	}
	t = time.Now()
	if err := post(c, stepChoose, pay+"/method", "", body, &view); err != nil {
		return created.ID, lat, 0, err
	}
	lat[1] = time.Since(t)
	w := &wallet.OCRA{Key: p.OCRAKey}
	w.Begin()
	var ch struct {
		ChallengeData json.RawMessage `json:"challenge_data"`
		DigestHex     string          `json:"digest_hex"`
	}
	t = time.Now()
	if err := post(c, stepBegin, pay+"/auth/begin", "", w.BeginPayerData(), &ch); err != nil {
		return created.ID, lat, 0, err
	}
	lat[2] = time.Since(t)
	// As the payment page does, the phone recomputes the order digest from
	// the order it agreed to and the issuer it was routed to, refuses a
	// different one, and answers only an issuer whose proof over that
	// digest verifies (wallet.Answer).
	o.PaymentId, o.IssuerId = created.ID, view.Payment.IssuerID
	o.Method = pb.Method_METHOD_BANK_TRANSFER
	if card {
		o.Method = pb.Method_METHOD_CARD
	}
	digest := order.Digest(o)
	if ch.DigestHex != hex.EncodeToString(digest[:]) {
		return created.ID, lat, 0, &stepError{step: stepBegin, kind: "order digest differs from the agreed order"}
	}
	answer, err := w.Answer(ch.ChallengeData, digest[:])
	if err != nil {
		return created.ID, lat, 0, &stepError{step: stepBegin, kind: "wallet refused the issuer"}
	}
	var final struct {
		Payment struct {
			State       string `json:"state"`
			DeclineCode string `json:"decline_code"`
		} `json:"payment"`
	}
	t = time.Now()
	if err := post(c, stepFinish, pay+"/auth/finish", "", answer, &final); err != nil {
		return created.ID, lat, 0, err
	}
	lat[3] = time.Since(t)
	if final.Payment.State != "approved" {
		return created.ID, lat, 0, &stepError{step: stepFinish, kind: "ended " + final.Payment.State + " " + final.Payment.DeclineCode}
	}
	return created.ID, lat, time.Since(start), nil
}

// run drives complete payments from o.Payers concurrent payers until the
// count or the duration is reached (or ctx ends). Payer i always pays at
// shop i mod merchants and alternates card and bank transfer.
func (d *driver) run(ctx context.Context, o loadOptions) *loadResult {
	res := &loadResult{Errors: map[string]int64{}, Latencies: map[string][]time.Duration{}}
	var started, done atomic.Int64
	var mu sync.Mutex
	var deadline time.Time
	begin := time.Now()
	if o.Duration > 0 {
		deadline = begin.Add(o.Duration)
	}
	stopProgress := make(chan struct{})
	progressDone := make(chan struct{})
	go func() {
		defer close(progressDone)
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stopProgress:
				if o.Progress != nil {
					o.Progress(done.Load(), time.Since(begin))
				}
				return
			case <-tick.C:
				if o.Progress != nil {
					o.Progress(done.Load(), time.Since(begin))
				}
			}
		}
	}()
	d.grow(o.Payers)
	var wg sync.WaitGroup
	for i := range o.Payers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := d.conns[i]
			p := d.net.Payers[i%len(d.net.Payers)]
			m := d.net.Merchants[i%len(d.net.Merchants)]
			lats := map[string][]time.Duration{}
			var paid []paidRef
			errs := map[string]int64{}
			var approved, failed int64
			for k := 0; ; k++ {
				if ctx.Err() != nil || (!deadline.IsZero() && time.Now().After(deadline)) {
					break
				}
				seq := started.Add(1)
				if o.Count > 0 && seq > int64(o.Count) {
					break
				}
				id, lat, overall, err := d.payment(c, p, m, (i+k)%2 == 0, seq)
				done.Add(1)
				if err != nil {
					failed++
					errs[err.Error()]++
					if se, ok := err.(*stepError); ok && se.kind == "429 rate_limited" {
						time.Sleep(100 * time.Millisecond)
					}
					continue
				}
				approved++
				var sw time.Duration
				for s, l := range lat {
					lats[clientSteps[s]] = append(lats[clientSteps[s]], l)
					sw += l
				}
				lats[stepOverall] = append(lats[stepOverall], overall)
				lats[stepSwitch] = append(lats[stepSwitch], sw)
				paid = append(paid, paidRef{ID: id, Merchant: m.ID})
			}
			mu.Lock()
			defer mu.Unlock()
			res.Approved += approved
			res.Failed += failed
			for k, v := range errs {
				res.Errors[k] += v
			}
			for k, v := range lats {
				res.Latencies[k] = append(res.Latencies[k], v...)
			}
			res.Paid = append(res.Paid, paid...)
		}()
	}
	wg.Wait()
	res.Elapsed = time.Since(begin)
	close(stopProgress)
	<-progressDone
	return res
}

// timelines reads the events of up to n approved payments (spread over
// the run) and adds the server-side times of steps B, D and E.
func (d *driver) timelines(ctx context.Context, paid []paidRef, n int, lat map[string][]time.Duration) error {
	keys := map[string]string{}
	for _, m := range d.net.Merchants {
		keys[m.ID] = m.APIKey
	}
	if len(paid) == 0 || n <= 0 {
		return nil
	}
	stride := max(1, len(paid)/n)
	for i := 0; i < len(paid); i += stride {
		if err := ctx.Err(); err != nil {
			return err
		}
		var evs struct {
			Data []struct {
				At time.Time `json:"at"`
				To string    `json:"to"`
			} `json:"data"`
		}
		if err := exchange(d.conns[0], "events", http.MethodGet, "/v1/payments/"+paid[i].ID+"/events", keys[paid[i].Merchant], nil, &evs); err != nil {
			return err
		}
		at := map[string]time.Time{}
		for _, e := range evs.Data {
			if _, seen := at[e.To]; !seen && e.To != "" {
				at[e.To] = e.At
			}
		}
		for _, s := range []struct{ name, from, to string }{
			{stepB, "method_chosen", "seller_authenticated"},
			{stepD, "payer_authenticated", "paid"},
			{stepE, "paid", "approved"},
		} {
			if a, ok := at[s.from]; ok {
				if b, ok := at[s.to]; ok {
					lat[s.name] = append(lat[s.name], b.Sub(a))
				}
			}
		}
	}
	return nil
}

// Percentiles summarizes a latency sample, in milliseconds.
type Percentiles struct {
	N    int     `json:"n"`
	P50  float64 `json:"p50_ms"`
	P95  float64 `json:"p95_ms"`
	P99  float64 `json:"p99_ms"`
	Max  float64 `json:"max_ms"`
	Mean float64 `json:"mean_ms"`
}

// percentiles returns the nearest-rank percentiles of d (sorted in place).
func percentiles(d []time.Duration) Percentiles {
	if len(d) == 0 {
		return Percentiles{}
	}
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	at := func(q float64) float64 {
		i := int(q*float64(len(d))+0.999999) - 1
		return ms(d[min(max(i, 0), len(d)-1)])
	}
	var sum time.Duration
	for _, x := range d {
		sum += x
	}
	return Percentiles{N: len(d), P50: at(0.50), P95: at(0.95), P99: at(0.99), Max: ms(d[len(d)-1]), Mean: ms(sum / time.Duration(len(d)))}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
