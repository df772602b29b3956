package reliability

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/switchd/switchd/switchd/internal/webhook/webhooktest"
)

// payment is one payment the daemon acknowledged (201 to the merchant).
type payment struct {
	id, token string
	key       string // the merchant's API key ("" for shop's)
	amount    int64
	card      bool
}

// listStates lists every payment of the merchant with key through the
// API, 100 a page, waiting out the merchant rate limit when it is hit,
// and returns the states by id.
func listStates(c *client, key string) (map[string]string, error) {
	out := map[string]string{}
	cursor := ""
	for {
		path := "/v1/payments?limit=100"
		if cursor != "" {
			path += "&cursor=" + url.QueryEscape(cursor)
		}
		st, b, err := c.do("GET", path, key, nil, nil)
		if err != nil {
			return nil, err
		}
		if st == http.StatusTooManyRequests {
			// A big soak lists many pages: wait for the merchant's
			// bucket as a client should, and ask again.
			time.Sleep(time.Second)
			continue
		}
		if st != http.StatusOK {
			return nil, fmt.Errorf("list payments: %d %s", st, b)
		}
		var page struct {
			Data []struct {
				ID     string `json:"id"`
				Status string `json:"status"`
			} `json:"data"`
			NextCursor string `json:"next_cursor"`
		}
		if err := json.Unmarshal(b, &page); err != nil {
			return nil, err
		}
		for _, p := range page.Data {
			out[p.ID] = p.Status
		}
		if page.NextCursor == "" {
			return out, nil
		}
		cursor = page.NextCursor
	}
}

// waitFinal polls the API until every acknowledged payment is in a final
// state or timeout passes, and returns the states by id (a payment left
// non-final or missing is reported by verify, which reads the store).
func waitFinal(t testing.TB, c *client, key string, acked []payment, timeout time.Duration) map[string]string {
	t.Helper()
	keys := map[string]bool{key: true}
	for _, p := range acked {
		if p.key != "" {
			keys[p.key] = true
		}
	}
	for end := time.Now().Add(timeout); ; {
		states := map[string]string{}
		for k := range keys {
			m, err := listStates(c, k)
			if err != nil {
				t.Fatal(err)
			}
			for id, s := range m {
				states[id] = s
			}
		}
		pending := 0
		for _, p := range acked {
			if !finalStates[states[p.id]] {
				pending++
			}
		}
		if pending == 0 || time.Now().After(end) {
			return states
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// outcome is what verify found.
type outcome struct {
	States       map[string]int // final state -> payments
	Approved     int
	Lost         int // acknowledged but not in the store
	Stuck        int // not final after the sweeper ran
	DoublePaid   int // a payment with two kept debits or credits
	Mismatched   int // ledger movement disagreeing with the final state
	WebhookDupes int // (payment, event type) received under more than one id
	Missing      int // final payment without its webhook
	Reversed     int // debits put back (issuer ledgers)
}

// verify stops nothing: the daemon must have been stopped by the caller
// (bbolt locks the files). It checks, for the acknowledged payments:
// every one is in the store and final; bbolt's check passes on the store
// and every ledger; each ledger balances; an approved payment was debited
// once and credited once for its amount, any other had nothing kept; the
// payer side and the seller side moved the same total; each final state
// reached the seller under exactly one webhook id.
func verify(t testing.TB, n *network, dataDir string, r *webhooktest.Receiver, acked []payment) outcome {
	t.Helper()
	o := outcome{States: map[string]int{}}
	st := openStore(t, dataDir)
	ids := make([]string, len(acked))
	for i, p := range acked {
		ids[i] = p.id
	}
	stored := storedPayments(t, st, ids)
	ledgers := map[string]*ledger{}
	issuers := []string{"card/bank_a", "banktransfer/bank_a"}
	if n.PasskeyPAN != "" {
		issuers = append(issuers, "card/bank_p")
	}
	for _, k := range append(issuers, "card/acq", "banktransfer/acq") {
		plugin, inst, _ := strings.Cut(k, "/")
		l, err := readLedger(st, plugin, inst)
		if err != nil {
			t.Fatal(err)
		}
		ledgers[k] = l
	}
	debits := map[string]int64{}
	credits := map[string]int64{}
	for _, k := range issuers {
		for _, op := range ledgers[k].Ops {
			if op.Operation == "debit" && op.State == "reversed" {
				o.Reversed++
			}
		}
		m, twice := ledgers[k].moved("debit")
		o.DoublePaid += twice
		for id, v := range m {
			debits[id] += v
		}
	}
	for _, k := range []string{"card/acq", "banktransfer/acq"} {
		m, twice := ledgers[k].moved("credit")
		o.DoublePaid += twice
		for id, v := range m {
			credits[id] += v
		}
	}
	var totalDebit, totalCredit int64
	for _, v := range debits {
		totalDebit += v
	}
	for _, v := range credits {
		totalCredit += v
	}
	if totalDebit != totalCredit {
		t.Errorf("money not conserved: payers debited %d, sellers credited %d", totalDebit, totalCredit)
	}
	webhooks := map[string]map[string]int{} // payment -> type -> distinct ids
	for _, h := range r.Hooks() {
		if webhooks[h.PaymentID] == nil {
			webhooks[h.PaymentID] = map[string]int{}
		}
		webhooks[h.PaymentID][h.Type]++
	}
	if bad := r.Bad(); bad != 0 {
		t.Errorf("%d webhooks failed signature verification", bad)
	}
	for _, p := range acked {
		sp := stored[p.id]
		if sp == nil {
			o.Lost++
			t.Errorf("acknowledged payment %s is not in the store", p.id)
			continue
		}
		o.States[sp.State]++
		if !finalStates[sp.State] {
			o.Stuck++
			t.Errorf("payment %s stuck in %s (expired at %s)", p.id, sp.State, sp.ExpiresAt.Format(time.RFC3339))
			continue
		}
		want := int64(0)
		if sp.State == "approved" {
			o.Approved++
			want = p.amount
		}
		if debits[p.id] != want || credits[p.id] != want {
			o.Mismatched++
			t.Errorf("payment %s %s: debited %d, credited %d, want %d each", p.id, sp.State, debits[p.id], credits[p.id], want)
		}
		for typ, k := range webhooks[p.id] {
			if k != 1 {
				o.WebhookDupes++
				t.Errorf("payment %s: %s received under %d event ids", p.id, typ, k)
			}
		}
		if sp.State == "approved" && webhooks[p.id]["payment.approved"] == 0 {
			o.Missing++
			t.Errorf("approved payment %s: no payment.approved webhook", p.id)
		}
	}
	// A debit or credit of a payment nobody acknowledged would be money
	// moved for an order the merchant never saw.
	known := map[string]bool{}
	for _, p := range acked {
		known[p.id] = true
	}
	for id := range debits {
		if !known[id] {
			t.Errorf("ledger debit for unknown payment %s", id)
		}
	}
	if o.DoublePaid != 0 {
		t.Errorf("%d payments paid twice", o.DoublePaid)
	}
	return o
}

// waitWebhooks waits until every approved payment's webhook arrived.
func waitWebhooks(r *webhooktest.Receiver, states map[string]string, timeout time.Duration) {
	for end := time.Now().Add(timeout); time.Now().Before(end); {
		got := r.EventIDs("payment.approved")
		missing := 0
		for id, s := range states {
			if s == "approved" && len(got[id]) == 0 {
				missing++
			}
		}
		if missing == 0 {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// leakScan runs findLeaks and reports each leak as an error.
func leakScan(t testing.TB, n *network, r *webhooktest.Receiver, extra map[string]string, dirs ...string) (files, bodies, hits int) {
	t.Helper()
	files, bodies, leaks, err := findLeaks(n, r.Bodies(), extra, dirs...)
	if err != nil {
		t.Errorf("leak scan: %v", err)
	}
	for _, l := range leaks {
		t.Errorf("leak: %s", l)
	}
	return files, bodies, len(leaks)
}

// findLeaks searches every file under dirs and every webhook body in
// received for the network's secrets and the extra ones, and returns how
// many files and bodies it scanned and each hit. The network's own
// configuration directory is never passed: it holds the secrets by design.
func findLeaks(n *network, received [][]byte, extra map[string]string, dirs ...string) (files, bodies int, leaks []string, err error) {
	secrets := map[string]string{}
	for k, v := range n.Secrets {
		secrets[k] = v
	}
	for k, v := range extra {
		secrets[k] = v
	}
	check := func(where string, b []byte) {
		for _, name := range sortedKeys(secrets) {
			if s := secrets[name]; s != "" && bytes.Contains(b, []byte(s)) {
				leaks = append(leaks, name+" in "+where)
			}
		}
	}
	for _, d := range dirs {
		err = filepath.WalkDir(d, func(path string, de os.DirEntry, err error) error {
			if err != nil || de.IsDir() {
				return err
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			files++
			check(path, b)
			return nil
		})
		if err != nil {
			return files, bodies, leaks, err
		}
	}
	for i, b := range received {
		check("webhook body "+strconv.Itoa(i), b)
	}
	return files, len(received), leaks, nil
}

// sortedKeys returns m's keys in order, for stable logs.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
