package reliability

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/switchd/switchd/internal/servetest"
	"github.com/switchd/switchd/internal/testbin"
	"github.com/switchd/switchd/internal/testnet"
	"github.com/switchd/switchd/plugins/ledgerstate"
	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
	"github.com/switchd/switchd/plugins/sdk/order"
	"github.com/switchd/switchd/switchd/internal/pluginhost"
	"github.com/switchd/switchd/switchd/internal/store"
	"github.com/switchd/switchd/switchd/internal/store/storetest"
	"github.com/switchd/switchd/switchd/internal/webhook"
	"github.com/switchd/switchd/switchd/wallet"
)

// The harness is a trimmed copy of switchd/internal/e2e's (unexported
// there): a generated network, the seller's webhook receiver, an HTTP
// client playing merchant and payer, and the daemon as a subprocess.

var (
	luhn      = testnet.Luhn
	randHex   = testnet.RandHex
	randBytes = testnet.RandBytes
)

// pluginNames are the plugins the test network runs.
var pluginNames = []string{"card", "banktransfer", "merchantsig", "ocra"}

// network is a generated switchd network: HCL files and secrets in Dir,
// one issuer (bank_a), one acquirer (acq) and two merchants.
type network struct {
	Dir        string
	SellerKey  ed25519.PrivateKey // shop's signing key
	OtherKey   ed25519.PrivateKey // other's signing key
	APIKey     string             // shop's
	OtherAPI   string             // other's
	ClosedAPI  string             // closed's: its acquirer refuses every credit
	Settlement string
	WebhookSec string
	BankCode   string
	PAN        string
	Account    string // alice's, rich
	Poor       string // bob's, 100 cents
	OCRAKey    []byte // alice's
	BobKey     []byte
	PasskeyPAN string // alice's card at bank_p, once addPasskeyBank ran
	// EnrollCode is alice's passkey activation code at bank_p (its
	// SHA-256 is in bank_p's payer block), once addPasskeyBank ran.
	EnrollCode string
	Plugins    []string // the plugins in plugins.hcl
	// Secrets lists every secret value written to the network, for the
	// leak scan.
	Secrets map[string]string
	files   *testnet.Dir
}

func newNetwork(t testing.TB, webhookURL string) *network {
	t.Helper()
	_, seller, _ := ed25519.GenerateKey(rand.Reader)
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	sec, err := webhook.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	files, err := testnet.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	n := &network{Dir: files.Path, SellerKey: seller, OtherKey: other, APIKey: "sk_test_" + randHex(16),
		OtherAPI: "sk_test_" + randHex(16), ClosedAPI: "sk_test_" + randHex(16), Settlement: luhn("900000000"), WebhookSec: sec, BankCode: "1001",
		PAN: luhn("411100" + "12345678"), Account: luhn("110010000"), Poor: luhn("210010000"),
		OCRAKey: randBytes(32), BobKey: randBytes(32), Secrets: map[string]string{}, files: files}
	n.Secrets["shop api key"] = n.APIKey
	n.Secrets["other api key"] = n.OtherAPI
	n.Secrets["closed api key"] = n.ClosedAPI
	n.Secrets["webhook secret"] = sec
	n.Secrets["alice PAN"] = n.PAN
	n.Secrets["alice ocra key"] = hex.EncodeToString(n.OCRAKey)
	n.Secrets["bob ocra key"] = hex.EncodeToString(n.BobKey)
	n.Secrets["alice ocra key (raw)"] = string(n.OCRAKey)
	n.Secrets["alice ocra key (base64)"] = base64.StdEncoding.EncodeToString(n.OCRAKey)
	n.Secrets["seller private key"] = base64.StdEncoding.EncodeToString(seller.Seed())
	n.writePlugins(t, pluginNames)
	pub, opub := seller.Public().(ed25519.PublicKey), other.Public().(ed25519.PublicKey)
	f := n.files
	acq := testnet.Institution{ID: "acq", DisplayName: "Acquiring Bank", Role: "acquirer", BankCode: "7001",
		Authenticator: testnet.Authenticator{Plugin: "merchantsig", AttestationKey: f.Secret("acq_att", randHex(32)), AttestationKeyID: "acq-1",
			Body: testnet.SellerKey("shop", pub) + testnet.SellerKey("other", opub) + testnet.SellerKey("closed", pub)},
		Methods: []testnet.Method{
			{Name: "card", Plugin: "card", TokenKey: f.Secret("acq_token", randHex(32)), Body: testnet.MerchantAccount(n.Settlement, "EUR")},
			{Name: "bank_transfer", Plugin: "banktransfer", TokenKey: f.Secret("acq_bt_token", randHex(32)),
				Body: testnet.Account{Number: n.Settlement, Holder: "shop", Currency: "EUR"}.HCL()},
		}}
	merchants := []testnet.Merchant{
		{ID: "shop", DisplayName: "The Shop", APIKey: n.APIKey, Settlement: n.Settlement, WebhookSecret: f.Secret("whsec", sec)},
		{ID: "other", DisplayName: "Other Shop", APIKey: n.OtherAPI, Settlement: n.Settlement, WebhookSecret: f.Secret("whsec2", sec)},
		// closed's settlement account does not exist at the acquirer: every
		// credit is refused and the issuer's debit must be reversed.
		{ID: "closed", DisplayName: "Closed Shop", APIKey: n.ClosedAPI, Settlement: "8888888888", WebhookSecret: f.Secret("whsec3", sec)},
	}
	text := acq.HCL()
	for _, m := range merchants {
		m.Acquirer, m.WebhookURL = "acq", webhookURL
		text += m.HCL()
	}
	n.write(t, "acquirer.hcl", text)
	bank := testnet.Institution{ID: "bank_a", DisplayName: "Bank A", Role: "issuer", BankCode: n.BankCode, BINRange: "411100-411199",
		Authenticator: testnet.Authenticator{Plugin: "ocra", AttestationKey: f.Secret("bank_att", randHex(32)), AttestationKeyID: "bank_a-1",
			Body: testnet.OCRAPayer("alice", f.Secret("alice", hex.EncodeToString(n.OCRAKey))) +
				testnet.OCRAPayer("bob", f.Secret("bob", hex.EncodeToString(n.BobKey)))},
		Methods: []testnet.Method{
			{Name: "card", Plugin: "card", TokenKey: f.Secret("bank_token", randHex(32)),
				Body: testnet.Card{Label: "alice", PAN: f.Secret("pan", n.PAN), Holder: "alice", CreditLimit: 100000000, Currency: "EUR"}.HCL()},
			{Name: "bank_transfer", Plugin: "banktransfer", TokenKey: f.Secret("bank_bt_token", randHex(32)),
				Body: testnet.Account{Number: n.Account, Holder: "alice", Balance: 100000000, Currency: "EUR"}.HCL() +
					testnet.Account{Number: n.Poor, Holder: "bob", Balance: 100, Currency: "EUR"}.HCL()},
		}}
	n.write(t, "bank_a.hcl", bank.HCL())
	return n
}

// writePlugins writes plugins.hcl declaring the named plugins, each
// built once per test binary and pinned by its sha256.
func (n *network) writePlugins(t testing.TB, names []string) {
	t.Helper()
	paths := map[string]string{}
	for _, name := range names {
		paths[name] = testbin.MustBuild(t, "./plugins/"+name)
	}
	plug, err := pluginhost.PinnedBlocks(paths, names)
	if err != nil {
		t.Fatal(err)
	}
	n.Plugins = names
	n.write(t, "plugins.hcl", string(plug))
}

// addPasskeyBank adds the passkey plugin and bank_p, an issuer whose payer
// alice has a card (PasskeyPAN) and authenticates with a passkey for
// relying party pay.example.
func (n *network) addPasskeyBank(t testing.TB) {
	t.Helper()
	n.writePlugins(t, append(append([]string(nil), pluginNames...), "passkey"))
	n.PasskeyPAN = luhn("544400" + "12345678")
	n.Secrets["passkey bank PAN"] = n.PasskeyPAN
	n.EnrollCode = randHex(8)
	n.Secrets["passkey activation code"] = n.EnrollCode
	f := n.files
	bank := testnet.Institution{ID: "bank_p", DisplayName: "Passkey Bank", Role: "issuer", BankCode: "5005", BINRange: "544400-544499",
		Authenticator: testnet.Authenticator{Plugin: "passkey", AttestationKey: f.Secret("bank_p_att", randHex(32)), AttestationKeyID: "bank_p-1",
			Body: testnet.PasskeyRP("pay.example", "Passkey Bank", "https://pay.example") + testnet.PasskeyPayer("alice", "", f.Secret("bank_p_alice_code_sha256", testnet.SHA256Hex(n.EnrollCode)))},
		Methods: []testnet.Method{{Name: "card", Plugin: "card", TokenKey: f.Secret("bank_p_token", randHex(32)),
			Body: testnet.Card{Label: "alice", PAN: f.Secret("bank_p_pan", n.PasskeyPAN), Holder: "alice", CreditLimit: 100000000, Currency: "EUR"}.HCL()}}}
	n.write(t, "bank_p.hcl", bank.HCL())
}

// write writes a file of the network, fails t if it (or a secret written
// since the last write) could not be written, and adds every secret file's
// value to the leak scan's list.
func (n *network) write(t testing.TB, name, text string) {
	t.Helper()
	n.files.Write(name, text)
	if err := n.files.Err(); err != nil {
		t.Fatal(err)
	}
	for name, value := range n.files.Secrets() {
		if _, ok := n.Secrets["file "+name]; !ok && len(value) >= 16 {
			n.Secrets["file "+name] = value
		}
	}
}

// client drives the HTTP API as a merchant and as the payer's phone.
type client struct {
	base string
	http *http.Client
}

func newClient(api string) *client {
	return &client{base: "http://" + api, http: &http.Client{Timeout: 20 * time.Second}}
}

func (c *client) do(method, path, key string, body any, hdr map[string]string) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		var b []byte
		switch v := body.(type) {
		case json.RawMessage:
			b = v
		case []byte:
			b = v
		default:
			var err error
			if b, err = json.Marshal(body); err != nil {
				return 0, nil, err
			}
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := c.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return res.StatusCode, b, err
}

type created struct {
	ID       string `json:"id"`
	Status   string `json:"status"`
	PayToken string `json:"pay_token"`
}

type problem struct {
	Code   string `json:"code"`
	Status int    `json:"status"`
}

// createReq is a create-payment body signed with key.
func createReq(merchant string, amount int64, ref string, expires time.Time, key ed25519.PrivateKey) map[string]any {
	signedAt := time.Now().UnixMilli()
	o := &pb.Order{MerchantId: merchant, AcquirerId: "acq", AmountMinor: amount, Currency: "EUR", OrderRef: ref, ExpiresAtUnix: expires.Unix()}
	sig := ed25519.Sign(key, order.SellerMessage(order.TermsDigest(o), signedAt))
	return map[string]any{"amount_minor": amount, "currency": "EUR", "order_ref": ref,
		"expires_at": expires.UTC().Format(time.RFC3339), "seller_signature": base64.StdEncoding.EncodeToString(sig),
		"seller_key_id": "k1", "signed_at_unix_ms": signedAt}
}

func (c *client) create(key string, body any, idem string) (int, *created, []byte, error) {
	hdr := map[string]string{}
	if idem != "" {
		hdr["Idempotency-Key"] = idem
	}
	st, b, err := c.do("POST", "/v1/payments", key, body, hdr)
	if err != nil {
		return st, nil, b, err
	}
	var cr created
	if st == http.StatusCreated || st == http.StatusOK {
		if err := json.Unmarshal(b, &cr); err != nil {
			return st, nil, b, err
		}
	}
	return st, &cr, b, nil
}

func (c *client) payer(token, step string, body any) (int, []byte, error) {
	return c.do("POST", "/v1/pay/"+token+step, "", body, nil)
}

func (c *client) status(key, id string) (string, error) {
	st, b, err := c.do("GET", "/v1/payments/"+id, key, nil, nil)
	if err != nil {
		return "", err
	}
	if st != http.StatusOK {
		return "", fmt.Errorf("GET payment %s: %d %s", id, st, b)
	}
	var p struct {
		Status string `json:"status"`
	}
	err = json.Unmarshal(b, &p)
	return p.Status, err
}

func cardChoice(pan string) map[string]any {
	return map[string]any{"method": "card", "card": map[string]any{"number": pan, "expiry_month": 12, "expiry_year": 2039}}
}

func accountChoice(code, number string) map[string]any {
	return map[string]any{"method": "bank_transfer", "account": map[string]any{"bank_code": code, "account_number": number}}
}

// challenge runs step A-B and begins C; it returns the OCRA answer body
// the wallet computed (the payer's proof over the order digest).
func (c *client) challenge(token string, choice map[string]any, key []byte) ([]byte, error) {
	st, b, err := c.payer(token, "/method", choice)
	if err != nil {
		return nil, err
	}
	if st != http.StatusOK {
		return nil, fmt.Errorf("choose: %d %s", st, b)
	}
	w := &wallet.OCRA{Key: key}
	w.Begin()
	st, b, err = c.payer(token, "/auth/begin", json.RawMessage(w.BeginPayerData()))
	if err != nil {
		return nil, err
	}
	if st != http.StatusOK {
		return nil, fmt.Errorf("auth/begin: %d %s", st, b)
	}
	var ch struct {
		ChallengeData json.RawMessage `json:"challenge_data"`
		DigestHex     string          `json:"digest_hex"`
	}
	if err := json.Unmarshal(b, &ch); err != nil {
		return nil, err
	}
	digest, err := hex.DecodeString(ch.DigestHex)
	if err != nil {
		return nil, err
	}
	answer, err := w.Answer(ch.ChallengeData, digest)
	if err != nil {
		return nil, fmt.Errorf("wallet refused the issuer: %w", err)
	}
	return answer, nil
}

// finish sends the payer's answer (C, then D and E) and returns the state
// the payment page sees.
func (c *client) finish(token string, answer []byte) (string, int, error) {
	st, b, err := c.payer(token, "/auth/finish", json.RawMessage(answer))
	if err != nil {
		return "", st, err
	}
	if st != http.StatusOK {
		return "", st, fmt.Errorf("auth/finish: %d %s", st, b)
	}
	var v struct {
		Payment struct {
			State string `json:"state"`
		} `json:"payment"`
	}
	err = json.Unmarshal(b, &v)
	return v.Payment.State, st, err
}

func (c *client) pay(token string, choice map[string]any, key []byte) (string, error) {
	answer, err := c.challenge(token, choice, key)
	if err != nil {
		return "", err
	}
	state, _, err := c.finish(token, answer)
	return state, err
}

// proc is `switchd serve` running as a subprocess.
type proc struct {
	cmd        *exec.Cmd
	api, admin string // the bound addresses, from the daemon's log
	exited     chan struct{}
	log        string
}

// publicURL is the daemons' --public-url: the base of the payment page
// links (pay_url) in create answers. The harness never follows those
// links (the payer drives /v1/pay/<pay_token> on the bound API address),
// so it does not need the API's port; it is the origin the passkey bank's
// relying party expects (rp_origins), as in a deployment.
const publicURL = "https://pay.example"

// skipUnlessSubprocesses skips t under -short and -race (see raceEnabled).
func skipUnlessSubprocesses(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("runs the daemon and plugins as subprocesses")
	}
	if raceEnabled {
		t.Skip("the race detector cannot see into the daemon and plugin subprocesses")
	}
}

// daemonBin builds the switchd command, with extra build flags.
func daemonBin(t testing.TB, flags ...string) string {
	return testbin.MustBuild(t, "./switchd/cmd/switchd", flags...)
}

// startDaemon runs `switchd serve` on n with data in dataDir, extra
// environment env and extra flags, and waits until /readyz answers 200.
func startDaemon(t testing.TB, bin string, n *network, dataDir string, env []string, flags ...string) *proc {
	t.Helper()
	p, err := tryStartDaemon(t, bin, n, dataDir, env, flags...)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// errExited is returned (wrapped) by tryStartDaemon when the daemon exits
// before it is ready: servetest.WaitReady's sentinel.
var errExited = servetest.ErrExited

// tryStartDaemon is startDaemon returning errExited (with the tail of
// this start's log) when the daemon exits before it is ready.
//
// The daemon listens on 127.0.0.1:0 for both the API and the admin API:
// the kernel picks free ports at bind time, so no other process (go test
// runs packages, and their daemons, in parallel) can take them between a
// choice and the bind. The harness learns them from the "switchd serving"
// line the daemon logs once it listens (servetest.WaitReady), reading
// only what this start appended to dataDir's daemon.log. A restarted
// daemon gets new ports: every caller makes a new client from p.api after
// each start.
func tryStartDaemon(t testing.TB, bin string, n *network, dataDir string, env []string, flags ...string) (*proc, error) {
	t.Helper()
	p := &proc{exited: make(chan struct{}), log: filepath.Join(dataDir, "daemon.log")}
	logf, err := os.OpenFile(p.log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, err
	}
	fi, err := logf.Stat()
	if err != nil {
		logf.Close()
		return nil, err
	}
	from := fi.Size() // earlier starts' lines end here (those daemons have exited)
	args := append([]string{"serve", "--api-addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0", "--public-url", publicURL,
		"--data-dir", dataDir, "--config", n.Dir, "--plugin-dir", n.Dir, "--log-level", "info", "--log-format", "text",
		"--webhook-initial-backoff", "50ms", "--webhook-max-backoff", "500ms"}, flags...)
	p.cmd = exec.Command(bin, args...)
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	p.cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, env...)
	if err := p.cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	go func() { p.cmd.Wait(); logf.Close(); close(p.exited) }()
	t.Cleanup(p.kill)
	startLog := func() string {
		b, _ := os.ReadFile(p.log)
		if int64(len(b)) < from {
			return ""
		}
		return string(b[from:])
	}
	p.api, p.admin, err = servetest.WaitReady(startLog, p.exited, 60*time.Second)
	if errors.Is(err, servetest.ErrExited) {
		return p, fmt.Errorf("%w:\n%s", err, tail(startLog()))
	}
	if err != nil {
		return nil, fmt.Errorf("%w:\n%s", err, tail(startLog()))
	}
	return p, nil
}

func tail(s string) string {
	if len(s) > 4000 {
		return s[len(s)-4000:]
	}
	return s
}

// kill sends SIGKILL and waits for the exit; the plugins die with the
// daemon (Pdeathsig).
func (p *proc) kill() {
	select {
	case <-p.exited:
		return
	default:
	}
	p.cmd.Process.Kill()
	<-p.exited
}

func (p *proc) stop(t testing.TB) {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		t.Error("daemon did not stop on SIGTERM")
		p.kill()
	}
}

// alive reports whether the daemon process still runs.
func (p *proc) alive() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// pluginPID returns the pid of the named plugin from the admin status.
func (p *proc) pluginPID(t testing.TB, name string) int {
	t.Helper()
	res, err := http.Get("http://" + p.admin + "/v1/admin/status")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var st struct {
		Plugins []pluginhost.Status `json:"plugins"`
	}
	if err := json.NewDecoder(res.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	for _, pl := range st.Plugins {
		if pl.Name == name {
			return pl.PID
		}
	}
	t.Fatalf("plugin %s not in the admin status", name)
	return 0
}

// ledger is what a plugin's ledger holds. The built-in plugins keep it in
// the switch's database (host_state), in the record format of
// plugins/ledgerstate.
type ledger struct {
	Balances map[string]int64
	Ops      []ledgerstate.Result
}

// readLedger reads the ledger that plugin keeps for institution inst from
// the daemon's store (the daemon must have stopped) and checks the
// ledger's own invariants (ledgerstate.View.Check): every journal entry
// sums to zero, balances sum to zero per currency, no account is below its
// floor, and every operation has exactly the entries its state calls for.
func readLedger(st store.Store, plugin, inst string) (*ledger, error) {
	v, err := storetest.LedgerIn(st, plugin, inst)
	if err != nil {
		return nil, err
	}
	return &ledger{Balances: v.Balances(), Ops: v.Operations()}, nil
}

// moved returns, by payment id, the amount an operation kind (debit,
// credit) moved and kept (approved, not reversed), and counts the
// payments with more than one kept operation of that kind.
func (l *ledger) moved(operation string) (map[string]int64, int) {
	out := map[string]int64{}
	twice := 0
	for _, op := range l.Ops {
		if op.Operation != operation || op.State != "approved" {
			continue
		}
		if _, ok := out[op.PaymentID]; ok {
			twice++
		}
		out[op.PaymentID] += op.Amount
	}
	return out, twice
}

// openStore opens the daemon's database (the daemon must have stopped),
// runs bbolt's consistency check and returns the store.
func openStore(t testing.TB, dataDir string) *store.BoltStore {
	t.Helper()
	st, err := store.Open(filepath.Join(dataDir, "switchd.db"), store.Options{LockTimeout: 10 * time.Second})
	if err != nil {
		t.Fatalf("store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Check(); err != nil {
		t.Errorf("store.Check: %v", err)
	}
	return st
}

// storedPayments reads payments by id from the store.
func storedPayments(t testing.TB, st store.Store, ids []string) map[string]*store.Payment {
	t.Helper()
	out := map[string]*store.Payment{}
	err := st.View(context.Background(), func(tx store.Tx) error {
		for _, id := range ids {
			p, err := tx.GetPayment(id)
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			out[id] = p
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// finalStates are the flow's final states.
var finalStates = map[string]bool{"approved": true, "refused": true, "declined": true, "expired": true, "cancelled": true, "failed": true}
