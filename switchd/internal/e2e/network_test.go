package e2e

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/switchd/switchd/config"
	"github.com/switchd/switchd/internal/testbin"
	"github.com/switchd/switchd/internal/testnet"
	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
	"github.com/switchd/switchd/plugins/sdk/order"
	"github.com/switchd/switchd/switchd/internal/daemon"
	"github.com/switchd/switchd/switchd/internal/pluginhost"
	"github.com/switchd/switchd/switchd/internal/store/storetest"
	"github.com/switchd/switchd/switchd/internal/webhook"
	"github.com/switchd/switchd/switchd/wallet"
)

var (
	withLuhn  = testnet.Luhn
	randHex   = testnet.RandHex
	randBytes = testnet.RandBytes
)

// bank is an issuer in the test network with one card and two accounts.
type bank struct {
	ID, Name, BankCode, BINStart, BINEnd string
	PAN                                  string
	Account, PoorAccount                 string // payer "alice" (rich) and "bob" (poor)
	OCRAKeys                             map[string][]byte
	CreditLimit                          int64 // of the card, minor units
	// EnrollCode is alice's passkey activation code at a passkey bank
	// (writePasskeyBank puts its SHA-256 in the payer block).
	EnrollCode string
}

func newBank(id, name, code, bin string) *bank {
	return &bank{ID: id, Name: name, BankCode: code, BINStart: bin + "00", BINEnd: bin + "99",
		PAN: withLuhn(bin + "00" + "12345678"), Account: withLuhn("1" + code + "0000"), PoorAccount: withLuhn("2" + code + "0000"),
		OCRAKeys: map[string][]byte{"alice": randBytes(32), "bob": randBytes(32)}, CreditLimit: 1000000}
}

// network is a generated switchd network: HCL files and secrets in Dir.
type network struct {
	Dir         string
	Banks       []*bank
	SellerKey   ed25519.PrivateKey
	APIKey      string
	Settlement  string // the shop's account at the acquirer
	WebhookURL  string
	WebhookSec  string
	pluginPaths map[string]string
	files       *testnet.Dir
}

// plugins builds the four plugin binaries once per test binary.
func plugins(t testing.TB) map[string]string {
	t.Helper()
	return map[string]string{
		"card":         testbin.MustBuild(t, "./plugins/card"),
		"banktransfer": testbin.MustBuild(t, "./plugins/banktransfer"),
		"merchantsig":  testbin.MustBuild(t, "./plugins/merchantsig"),
		"ocra":         testbin.MustBuild(t, "./plugins/ocra"),
		"passkey":      testbin.MustBuild(t, "./plugins/passkey"),
	}
}

func newNetwork(t testing.TB, webhookURL string) *network {
	t.Helper()
	_, seller, _ := ed25519.GenerateKey(rand.Reader)
	sec, err := webhook.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	files, err := testnet.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	n := &network{Dir: files.Path, SellerKey: seller, APIKey: "sk_test_" + randHex(16), Settlement: withLuhn("900000000"),
		WebhookURL: webhookURL, WebhookSec: sec, pluginPaths: plugins(t), files: files}
	n.Banks = []*bank{newBank("bank_a", "Bank A", "1001", "4111")}
	n.writeBase(t)
	n.writeBank(t, n.Banks[0])
	return n
}

// write writes a file of the network and fails t if it (or a secret
// written since the last write) could not be written.
func (n *network) write(t testing.TB, name, text string) {
	t.Helper()
	n.files.Write(name, text)
	if err := n.files.Err(); err != nil {
		t.Fatal(err)
	}
}

// writeBase writes the plugins, the acquirer and the merchants.
func (n *network) writeBase(t testing.TB) {
	t.Helper()
	plug, err := pluginhost.PinnedBlocks(n.pluginPaths, []string{"card", "banktransfer", "merchantsig", "ocra", "passkey"})
	if err != nil {
		t.Fatal(err)
	}
	n.write(t, "plugins.hcl", string(plug))
	pub := n.SellerKey.Public().(ed25519.PublicKey)
	f := n.files
	acq := testnet.Institution{ID: "acq", DisplayName: "Acquiring Bank", Role: "acquirer", BankCode: "7001",
		Authenticator: testnet.Authenticator{Plugin: "merchantsig", AttestationKey: f.Secret("acq_att", randHex(32)), AttestationKeyID: "acq-1",
			Body: testnet.SellerKey("shop", pub) + testnet.SellerKey("closed_shop", pub)},
		Methods: []testnet.Method{
			{Name: "card", Plugin: "card", TokenKey: f.Secret("acq_token", randHex(32)), Body: testnet.MerchantAccount(n.Settlement, "EUR")},
			{Name: "bank_transfer", Plugin: "banktransfer", TokenKey: f.Secret("acq_bt_token", randHex(32)),
				Body: testnet.Account{Number: n.Settlement, Holder: "shop", Currency: "EUR"}.HCL()},
		}}
	shop := testnet.Merchant{ID: "shop", DisplayName: "The Shop", Acquirer: "acq", APIKey: n.APIKey, Settlement: n.Settlement,
		WebhookURL: n.WebhookURL, WebhookSecret: f.Secret("whsec", n.WebhookSec)}
	// closed_shop's settlement account does not exist at the acquirer, so
	// the acquirer refuses every credit.
	closed := testnet.Merchant{ID: "closed_shop", Acquirer: "acq", APIKey: "closed_" + n.APIKey, Settlement: "8888888888",
		WebhookURL: n.WebhookURL, WebhookSecret: f.Secret("whsec2", n.WebhookSec)}
	n.write(t, "acquirer.hcl", acq.HCL()+shop.HCL()+closed.HCL())
}

// writeBank writes an issuer's file.
func (n *network) writeBank(t testing.TB, bk *bank) {
	t.Helper()
	f := n.files
	in := testnet.Institution{ID: bk.ID, DisplayName: bk.Name, Role: "issuer", BankCode: bk.BankCode, BINRange: bk.BINStart + "-" + bk.BINEnd,
		Authenticator: testnet.Authenticator{Plugin: "ocra", AttestationKey: f.Secret(bk.ID+"_att", randHex(32)), AttestationKeyID: bk.ID + "-1",
			Body: testnet.OCRAPayer("alice", f.Secret(bk.ID+"_alice", hex.EncodeToString(bk.OCRAKeys["alice"]))) +
				testnet.OCRAPayer("bob", f.Secret(bk.ID+"_bob", hex.EncodeToString(bk.OCRAKeys["bob"])))},
		Methods: []testnet.Method{
			{Name: "card", Plugin: "card", TokenKey: f.Secret(bk.ID+"_token", randHex(32)),
				Body: testnet.Card{Label: "alice", PAN: f.Secret(bk.ID+"_pan", bk.PAN), Holder: "alice", CreditLimit: bk.CreditLimit, Currency: "EUR"}.HCL()},
			{Name: "bank_transfer", Plugin: "banktransfer", TokenKey: f.Secret(bk.ID+"_bt_token", randHex(32)),
				Body: testnet.Account{Number: bk.Account, Holder: "alice", Balance: 1000000, Currency: "EUR"}.HCL() +
					testnet.Account{Number: bk.PoorAccount, Holder: "bob", Balance: 100, Currency: "EUR"}.HCL()},
		}}
	n.write(t, bk.ID+".hcl", in.HCL())
}

// settings returns daemon settings for the network with data in dataDir.
func (n *network) settings(dataDir string) *config.Settings {
	return &config.Settings{APIAddr: "127.0.0.1:0", AdminAddr: "127.0.0.1:0", PublicURL: "http://127.0.0.1",
		DataDir: dataDir, ConfigPath: n.Dir, PluginDir: n.Dir, LogLevel: "warn", LogFormat: "text",
		DefaultExpiry: 15 * time.Minute, WebhookMaxAttempts: 12, WebhookInitialBackoff: 50 * time.Millisecond,
		WebhookMaxBackoff: time.Second, PluginCallTimeout: 10 * time.Second, PluginGOMAXPROCS: 2}
}

// client drives the HTTP API as the merchant and as the payer's phone.
type client struct {
	base, apiKey string
	http         *http.Client
}

// do sends one request. Like a well-behaved merchant it waits and retries
// when rate limited (429 with Retry-After), for up to a minute.
func (c *client) do(method, path, key string, body any, hdr map[string]string) (int, []byte, error) {
	var raw []byte
	if body != nil {
		var err error
		if r, ok := body.(json.RawMessage); ok {
			raw = r
		} else if raw, err = json.Marshal(body); err != nil {
			return 0, nil, err
		}
	}
	for end := time.Now().Add(time.Minute); ; {
		st, b, wait, err := c.once(method, path, key, raw, body != nil, hdr)
		if err != nil || st != http.StatusTooManyRequests || time.Now().After(end) {
			return st, b, err
		}
		time.Sleep(wait)
	}
}

func (c *client) once(method, path, key string, raw []byte, hasBody bool, hdr map[string]string) (int, []byte, time.Duration, error) {
	var rd io.Reader
	if hasBody {
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		return 0, nil, 0, err
	}
	if hasBody {
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
		return 0, nil, 0, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	wait := 100 * time.Millisecond
	if s, err := strconv.Atoi(res.Header.Get("Retry-After")); err == nil && s > 0 {
		wait = time.Duration(s) * time.Second
	}
	return res.StatusCode, b, wait, err
}

type created struct {
	ID       string `json:"id"`
	Status   string `json:"status"`
	PayToken string `json:"pay_token"`
	PageURL  string `json:"payment_page_url"`
}

// createReq is a signed (when key != nil) create-payment body.
func createReq(merchant string, amount int64, ref string, expires time.Time, key ed25519.PrivateKey) map[string]any {
	body := map[string]any{"amount_minor": amount, "currency": "EUR", "order_ref": ref,
		"expires_at": expires.UTC().Format(time.RFC3339)}
	if key != nil {
		signedAt := time.Now().UnixMilli()
		o := &pb.Order{MerchantId: merchant, AcquirerId: "acq", AmountMinor: amount, Currency: "EUR", OrderRef: ref, ExpiresAtUnix: expires.Unix()}
		sig := ed25519.Sign(key, order.SellerMessage(order.TermsDigest(o), signedAt))
		body["seller_signature"] = base64.StdEncoding.EncodeToString(sig)
		body["seller_key_id"] = "k1"
		body["signed_at_unix_ms"] = signedAt
	}
	return body
}

func (c *client) create(merchant, key string, body map[string]any, idem string) (int, *created, []byte, error) {
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

type view struct {
	Payment struct {
		ID          string `json:"id"`
		State       string `json:"state"`
		DeclineCode string `json:"decline_code"`
	} `json:"payment"`
	Mechanism string `json:"mechanism"`
	DigestHex string `json:"digest_hex"`
}

type problem struct {
	Code   string `json:"code"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
}

func (c *client) payer(token, step string, body any) (int, []byte, error) {
	return c.do("POST", "/v1/pay/"+token+step, "", body, nil)
}

func (c *client) getPayment(key, id string) (string, string, error) {
	st, b, err := c.do("GET", "/v1/payments/"+id, key, nil, nil)
	if err != nil {
		return "", "", err
	}
	if st != http.StatusOK {
		return "", "", fmt.Errorf("GET payment: %d %s", st, b)
	}
	var p struct {
		Status      string `json:"status"`
		DeclineCode string `json:"decline_code"`
	}
	err = json.Unmarshal(b, &p)
	return p.Status, p.DeclineCode, err
}

func cardChoice(pan string) map[string]any {
	return map[string]any{"method": "card", "card": map[string]any{"number": pan, "expiry_month": 12, "expiry_year": 2039}}
}

func accountChoice(code, number string) map[string]any {
	return map[string]any{"method": "bank_transfer", "account": map[string]any{"bank_code": code, "account_number": number}}
}

// pay runs the payer's side: choose (A, B), then OCRA mutual
// authentication computed with the wallet (C), finishing with D and E. It
// returns the state the payment page sees at the end and the decline code.
func (c *client) pay(token string, choice map[string]any, ocraKey []byte) (string, string, error) {
	st, b, err := c.payer(token, "/method", choice)
	if err != nil {
		return "", "", err
	}
	if st != http.StatusOK {
		var p problem
		json.Unmarshal(b, &p)
		return "", p.Code, fmt.Errorf("choose: %d %s", st, b)
	}
	w := &wallet.OCRA{Key: ocraKey}
	w.Begin()
	st, b, err = c.payer(token, "/auth/begin", json.RawMessage(w.BeginPayerData()))
	if err != nil {
		return "", "", err
	}
	if st != http.StatusOK {
		return "", "", fmt.Errorf("auth/begin: %d %s", st, b)
	}
	var ch struct {
		ChallengeData json.RawMessage `json:"challenge_data"`
		DigestHex     string          `json:"digest_hex"`
	}
	if err := json.Unmarshal(b, &ch); err != nil {
		return "", "", err
	}
	digest, err := hex.DecodeString(ch.DigestHex)
	if err != nil {
		return "", "", err
	}
	answer, err := w.Answer(ch.ChallengeData, digest)
	if err != nil {
		return "", "", fmt.Errorf("wallet refused the issuer: %w", err)
	}
	return c.finish(token, answer)
}

func (c *client) finish(token string, answer []byte) (string, string, error) {
	st, b, err := c.payer(token, "/auth/finish", json.RawMessage(answer))
	if err != nil {
		return "", "", err
	}
	if st != http.StatusOK {
		var p problem
		json.Unmarshal(b, &p)
		return "", p.Code, fmt.Errorf("auth/finish: %d %s", st, b)
	}
	var v view
	if err := json.Unmarshal(b, &v); err != nil {
		return "", "", err
	}
	return v.Payment.State, v.Payment.DeclineCode, nil
}

// runDaemon starts an in-process daemon for n with data in dataDir,
// logging at debug level into logs.
func runDaemon(t testing.TB, n *network, dataDir string, logs io.Writer) (*daemon.Daemon, *client) {
	t.Helper()
	set := n.settings(dataDir)
	set.LogLevel = "debug"
	d := daemon.New(set, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err := d.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d, &client{base: "http://" + d.APIAddr(), apiKey: n.APIKey, http: &http.Client{Timeout: 30 * time.Second}}
}

// hookWait is how long a test waits for a webhook it expects.
const hookWait = 10 * time.Second

// balances reads every account balance of the ledger that plugin keeps
// for institution inst in the switch's database, and checks the ledger's
// invariants (the daemon must have stopped: bbolt locks the file while it
// is open).
func balances(t testing.TB, dataDir, plugin, inst string) map[string]int64 {
	t.Helper()
	v, err := storetest.Ledger(filepath.Join(dataDir, "switchd.db"), plugin, inst)
	if err != nil {
		t.Fatal(err)
	}
	return v.Balances()
}

// sumPrefix adds the balances of accounts whose id starts with prefix.
func sumPrefix(m map[string]int64, prefix string) int64 {
	var s int64
	for k, v := range m {
		if strings.HasPrefix(k, prefix) {
			s += v
		}
	}
	return s
}

// writePasskeyBank writes an issuer whose payers authenticate with
// passkeys (WebAuthn) for relying party pay.example.
func (n *network) writePasskeyBank(t testing.TB, bk *bank) {
	t.Helper()
	bk.EnrollCode = randHex(8)
	f := n.files
	in := testnet.Institution{ID: bk.ID, DisplayName: bk.Name, Role: "issuer", BankCode: bk.BankCode, BINRange: bk.BINStart + "-" + bk.BINEnd,
		Authenticator: testnet.Authenticator{Plugin: "passkey", AttestationKey: f.Secret(bk.ID+"_att", randHex(32)), AttestationKeyID: bk.ID + "-1",
			Body: testnet.PasskeyRP("pay.example", bk.Name, "https://pay.example") +
				testnet.PasskeyPayer("alice", "", f.Secret(bk.ID+"_alice_code_sha256", testnet.SHA256Hex(bk.EnrollCode)))},
		Methods: []testnet.Method{{Name: "card", Plugin: "card", TokenKey: f.Secret(bk.ID+"_token", randHex(32)),
			Body: testnet.Card{Label: "alice", PAN: f.Secret(bk.ID+"_pan", bk.PAN), Holder: "alice", CreditLimit: 1000000, Currency: "EUR"}.HCL()}}}
	n.write(t, bk.ID+".hcl", in.HCL())
}
