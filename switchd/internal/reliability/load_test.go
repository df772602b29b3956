package reliability

import (
	"context"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// rounds is SWITCHD_RELIABILITY_ROUNDS, or def.
func rounds(t testing.TB, def int) int {
	if v := os.Getenv("SWITCHD_RELIABILITY_ROUNDS"); v != "" {
		k, err := strconv.Atoi(v)
		if err != nil || k < 1 {
			t.Fatalf("SWITCHD_RELIABILITY_ROUNDS=%q: want a positive integer", v)
		}
		return k
	}
	return def
}

// load is concurrent merchant and payer traffic against one daemon.
type load struct {
	n      *network
	expiry time.Duration

	mu       sync.Mutex
	acked    []payment
	seq      atomic.Int64
	approved atomic.Int64
	refused  map[int]int // creates answered with a status other than 201, by status
}

// run starts workers that create and pay payments against c until ctx
// ends; it returns when they all stopped. The mix: card and bank transfer
// by the rich payer; one in eight by the poor payer (declined); one in
// sixteen cancelled by the merchant before the payer acts; one in sixteen
// to the closed shop, whose acquirer refuses the credit so the debit is
// reversed.
func (l *load) run(ctx context.Context, c *client, workers int) {
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				l.one(c)
			}
		}()
	}
	wg.Wait()
}

func (l *load) one(c *client) {
	i := l.seq.Add(1)
	amount := 100 + rand.Int64N(900)
	ref := "rel-" + strconv.FormatInt(i, 10) + "-" + randHex(3)
	merchant, key, pkey := "shop", l.n.APIKey, ""
	if i%16 == 4 {
		merchant, key, pkey = "closed", l.n.ClosedAPI, l.n.ClosedAPI
	}
	st, cr, _, err := c.create(key, createReq(merchant, amount, ref, time.Now().Add(l.expiry), l.n.SellerKey), ref)
	if err != nil || st != http.StatusCreated {
		if err == nil {
			l.mu.Lock()
			if l.refused == nil {
				l.refused = map[int]int{}
			}
			l.refused[st]++
			l.mu.Unlock()
		}
		time.Sleep(20 * time.Millisecond)
		return
	}
	p := payment{id: cr.ID, token: cr.PayToken, key: pkey, amount: amount, card: i%2 == 0}
	l.mu.Lock()
	l.acked = append(l.acked, p)
	l.mu.Unlock()
	switch {
	case i%16 == 0:
		c.do("POST", "/v1/payments/"+cr.ID+"/cancel", l.n.APIKey, nil, nil)
		return
	case i%8 == 0:
		c.pay(cr.PayToken, accountChoice(l.n.BankCode, l.n.Poor), l.n.BobKey)
		return
	}
	choice := accountChoice(l.n.BankCode, l.n.Account)
	if p.card {
		choice = cardChoice(l.n.PAN)
	}
	if state, err := c.pay(cr.PayToken, choice, l.n.OCRAKey); err == nil && state == "approved" {
		l.approved.Add(1)
	}
}

// refusals returns the non-201 answers to creates, by status.
func (l *load) refusals() map[int]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[int]int{}
	for k, v := range l.refused {
		out[k] = v
	}
	return out
}

func (l *load) payments() []payment {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]payment(nil), l.acked...)
}
