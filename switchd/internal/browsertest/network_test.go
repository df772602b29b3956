package browsertest

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchd/switchd/config"
	"github.com/switchd/switchd/internal/testbin"
	"github.com/switchd/switchd/internal/testnet"
	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
	"github.com/switchd/switchd/plugins/sdk/order"
	"github.com/switchd/switchd/switchd/internal/daemon"
	"github.com/switchd/switchd/switchd/internal/pluginhost"
	"github.com/switchd/switchd/switchd/internal/store"
	"github.com/switchd/switchd/switchd/internal/store/storetest"
	"github.com/switchd/switchd/switchd/internal/webhook/webhooktest"
)

// The test network: one acquirer ("acq") with the shop, an OCRA bank
// (bank transfer and card) and a passkey bank (card). Alice is the payer
// at both.
const (
	ocraBankCode   = "1001"
	ocraBIN        = "4111"
	passkeyBIN     = "5444"
	aliceBalance   = 1000000
	shopName       = "Hanok Tea House"
	shopReturnURL  = "https://shop.example/thanks"
	merchantID     = "shop"
	currency       = "EUR"
	sellerKeyID    = "k1"
	webhookTypeOK  = "payment.approved"
	webhookTypeBad = "payment.failed"
)

// network is a generated switchd network: HCL files and secrets in dir,
// the daemon's data in dataDir, and a fixed loopback address so that the
// daemon can be restarted under the same origin (the passkey bank's
// rp_origins names it, and an open page keeps talking to it).
type network struct {
	dir, dataDir string
	addr         string // 127.0.0.1:port of the public listener
	seller       ed25519.PrivateKey
	apiKey       string
	settlement   string
	account      string // alice's account at the OCRA bank
	ocraPAN      string
	passkeyPAN   string
	passkeyCode  string // the activation code bank_p gave alice; bank_p holds its SHA-256
	ocraKey      []byte // alice's OCRA key at the OCRA bank
	hooks        *webhooktest.Receiver
	files        *testnet.Dir

	mu     sync.Mutex
	d      *daemon.Daemon
	logs   *testbin.SyncBuffer
	client *http.Client
}

// freeAddr returns a loopback address with a port that was free a moment
// ago. The daemon binds it right after; nothing else on the machine picks
// ports in that window but the kernel's ephemeral range.
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// plugins builds the plugin binaries (cached by testbin across tests).
func plugins(t testing.TB) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, name := range []string{"card", "banktransfer", "merchantsig", "ocra", "passkey"} {
		out[name] = testbin.MustBuild(t, "./plugins/"+name)
	}
	return out
}

// newNetwork writes the network's configuration and starts its daemon.
func newNetwork(t testing.TB) *network {
	t.Helper()
	_, seller, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	files, err := testnet.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	n := &network{dir: files.Path, dataDir: t.TempDir(), addr: freeAddr(t), seller: seller,
		apiKey: "sk_test_" + testnet.RandHex(16), settlement: testnet.Luhn("900000000"),
		account: testnet.Luhn("1" + ocraBankCode + "0000"), ocraPAN: testnet.Luhn(ocraBIN + "0012345678"),
		passkeyPAN: testnet.Luhn(passkeyBIN + "0087654321"), passkeyCode: "ACT-" + strings.ToUpper(testnet.RandHex(8)),
		ocraKey: testnet.RandBytes(32), files: files, client: &http.Client{Timeout: 30 * time.Second}}
	n.hooks = webhooktest.NewReceiver(t)
	n.writeConfig(t, plugins(t))
	n.start(t)
	t.Cleanup(func() { n.stop(t) })
	return n
}

func (n *network) file(t testing.TB, name, text string) {
	t.Helper()
	n.files.Write(name, text)
	if err := n.files.Err(); err != nil {
		t.Fatal(err)
	}
}

func (n *network) writeConfig(t testing.TB, bins map[string]string) {
	t.Helper()
	plug, err := pluginhost.PinnedBlocks(bins, []string{"card", "banktransfer", "merchantsig", "ocra", "passkey"})
	if err != nil {
		t.Fatal(err)
	}
	n.file(t, "plugins.hcl", string(plug))

	f := n.files
	acq := testnet.Institution{ID: "acq", DisplayName: "Acquiring Bank", Role: "acquirer", BankCode: "7001",
		Authenticator: testnet.Authenticator{Plugin: "merchantsig", AttestationKey: f.Secret("acq_att", testnet.RandHex(32)), AttestationKeyID: "acq-1",
			Body: testnet.SellerKey(merchantID, n.seller.Public().(ed25519.PublicKey))},
		Methods: []testnet.Method{
			{Name: "card", Plugin: "card", TokenKey: f.Secret("acq_token", testnet.RandHex(32)), Body: testnet.MerchantAccount(n.settlement, currency)},
			{Name: "bank_transfer", Plugin: "banktransfer", TokenKey: f.Secret("acq_bt_token", testnet.RandHex(32)),
				Body: testnet.Account{Number: n.settlement, Holder: merchantID, Currency: currency}.HCL()},
		}}
	shop := testnet.Merchant{ID: merchantID, DisplayName: shopName, Acquirer: "acq", APIKey: n.apiKey, Settlement: n.settlement,
		WebhookURL: n.hooks.URL(), WebhookSecret: f.Secret("whsec", n.hooks.Secret())}
	n.file(t, "acquirer.hcl", acq.HCL()+shop.HCL())

	bankO := testnet.Institution{ID: "bank_o", DisplayName: "Hana OCRA Bank", Role: "issuer", BankCode: ocraBankCode, BINRange: ocraBIN + "00-" + ocraBIN + "99",
		Authenticator: testnet.Authenticator{Plugin: "ocra", AttestationKey: f.Secret("bank_o_att", testnet.RandHex(32)), AttestationKeyID: "bank_o-1",
			Body: testnet.OCRAPayer("alice", f.Secret("bank_o_alice", hex.EncodeToString(n.ocraKey)))},
		Methods: []testnet.Method{
			{Name: "card", Plugin: "card", TokenKey: f.Secret("bank_o_token", testnet.RandHex(32)),
				Body: testnet.Card{Label: "alice", PAN: f.Secret("bank_o_pan", n.ocraPAN), Holder: "alice", CreditLimit: 1000000, Currency: currency}.HCL()},
			{Name: "bank_transfer", Plugin: "banktransfer", TokenKey: f.Secret("bank_o_bt_token", testnet.RandHex(32)),
				Body: testnet.Account{Number: n.account, Holder: "alice", Balance: aliceBalance, Currency: currency}.HCL()},
		}}
	n.file(t, "bank_o.hcl", bankO.HCL())

	// The page runs the WebAuthn ceremony on the switch's origin:
	// http://localhost:<port> is a secure context, 127.0.0.1 is not an
	// allowed RP ID.
	_, port, _ := net.SplitHostPort(n.addr)
	bankP := testnet.Institution{ID: "bank_p", DisplayName: "Passkey Savings Bank", Role: "issuer", BankCode: "5005", BINRange: passkeyBIN + "00-" + passkeyBIN + "99",
		Authenticator: testnet.Authenticator{Plugin: "passkey", AttestationKey: f.Secret("bank_p_att", testnet.RandHex(32)), AttestationKeyID: "bank_p-1",
			Body: testnet.PasskeyRP("localhost", "Passkey Savings Bank", "http://localhost:"+port) +
				testnet.PasskeyPayer("alice", "Alice Kim", f.Secret("bank_p_alice_code.sha256", testnet.SHA256Hex(n.passkeyCode)))},
		Methods: []testnet.Method{{Name: "card", Plugin: "card", TokenKey: f.Secret("bank_p_token", testnet.RandHex(32)),
			Body: testnet.Card{Label: "alice", PAN: f.Secret("bank_p_pan", n.passkeyPAN), Holder: "alice", CreditLimit: 1000000, Currency: currency}.HCL()}}}
	n.file(t, "bank_p.hcl", bankP.HCL())
}

// pageURL is the payment page of token as the payer's phone opens it.
func (n *network) pageURL(token string) string {
	_, port, _ := net.SplitHostPort(n.addr)
	return "http://localhost:" + port + "/pay/" + token
}

func (n *network) start(t testing.TB) {
	t.Helper()
	n.mu.Lock()
	defer n.mu.Unlock()
	set := &config.Settings{APIAddr: n.addr, AdminAddr: "127.0.0.1:0", PublicURL: "http://" + n.addr,
		DataDir: n.dataDir, ConfigPath: n.dir, PluginDir: n.dir, LogLevel: "warn", LogFormat: "text",
		DefaultExpiry: 15 * time.Minute, WebhookMaxAttempts: 12, WebhookInitialBackoff: 50 * time.Millisecond,
		WebhookMaxBackoff: time.Second, PluginCallTimeout: 10 * time.Second}
	if n.logs == nil {
		n.logs = &testbin.SyncBuffer{}
	}
	d := daemon.New(set, slog.New(slog.NewTextHandler(n.logs, &slog.HandlerOptions{Level: slog.LevelInfo})))
	if err := d.Start(context.Background()); err != nil {
		d.Close()
		t.Fatalf("start daemon: %v\n%s", err, n.logs.Bytes())
	}
	n.d = d
}

// stop shuts the daemon down gracefully; the plugins release their files.
func (n *network) stop(t testing.TB) {
	t.Helper()
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.d == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := n.d.Shutdown(ctx); err != nil {
		t.Errorf("shutdown: %v", err)
	}
	n.d.Close()
	n.d = nil
}

// do sends one request to the public API; key is the merchant's API key
// or "" for the payer endpoints.
func (n *network) do(t testing.TB, method, path, key string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, "http://"+n.addr+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	res, err := n.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, b
}

type line struct {
	Name        string `json:"name"`
	Quantity    int    `json:"quantity"`
	AmountMinor int64  `json:"amount_minor"`
}

// payment is a created payment: its id and the payer's token.
type payment struct {
	ID       string `json:"id"`
	PayToken string `json:"pay_token"`
}

// create makes a payment signed by the seller, as the shop's server does.
func (n *network) create(t testing.TB, ref string, lines []line, expires time.Time) payment {
	t.Helper()
	var amount int64
	for _, l := range lines {
		amount += int64(l.Quantity) * l.AmountMinor
	}
	expires = expires.UTC().Truncate(time.Second)
	signedAt := time.Now().UnixMilli()
	o := &pb.Order{MerchantId: merchantID, AcquirerId: "acq", AmountMinor: amount, Currency: currency, OrderRef: ref, ExpiresAtUnix: expires.Unix()}
	sig := ed25519.Sign(n.seller, order.SellerMessage(order.TermsDigest(o), signedAt))
	st, b := n.do(t, "POST", "/v1/payments", n.apiKey, map[string]any{
		"amount_minor": amount, "currency": currency, "order_ref": ref, "lines": lines,
		"return_url": shopReturnURL, "expires_at": expires.Format(time.RFC3339),
		"seller_signature": base64.StdEncoding.EncodeToString(sig), "seller_key_id": sellerKeyID, "signed_at_unix_ms": signedAt})
	if st != http.StatusCreated {
		t.Fatalf("create payment: %d %s", st, b)
	}
	var p payment
	if err := json.Unmarshal(b, &p); err != nil || p.PayToken == "" {
		t.Fatalf("create payment: %v %s", err, b)
	}
	return p
}

// status returns the payment's status and decline code as the merchant
// sees them.
func (n *network) status(t testing.TB, id string) (string, string) {
	t.Helper()
	st, b := n.do(t, "GET", "/v1/payments/"+id, n.apiKey, nil)
	if st != http.StatusOK {
		t.Fatalf("GET payment: %d %s", st, b)
	}
	var p struct {
		Status      string `json:"status"`
		DeclineCode string `json:"decline_code"`
	}
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatal(err)
	}
	return p.Status, p.DeclineCode
}

// tamperAmount rewrites the stored amount of payment id in the daemon's
// database, through the store as an intruder with write access to the
// file would (the record format is the store's business). The daemon must
// be stopped (bbolt locks the file).
func (n *network) tamperAmount(t testing.TB, id string, amount int64) {
	t.Helper()
	st, err := store.Open(filepath.Join(n.dataDir, "switchd.db"), store.Options{LockTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	err = st.Update(context.Background(), func(tx store.Tx) error {
		p, err := tx.GetPayment(id)
		if err != nil {
			return err
		}
		p.AmountMinor = amount
		return tx.PutPayment(p)
	})
	if err != nil {
		t.Fatalf("tamper with payment: %v", err)
	}
}

// balances reads every account balance of a plugin's ledger (the daemon
// must be stopped).
func (n *network) balances(t testing.TB, plugin, inst string) map[string]int64 {
	t.Helper()
	v, err := storetest.Ledger(filepath.Join(n.dataDir, "switchd.db"), plugin, inst)
	if err != nil {
		t.Fatal(err)
	}
	return v.Balances()
}

// waitHook waits until a verified webhook of type typ arrived for payment
// id, and checks that no delivery failed its signature check.
func (n *network) waitHook(t testing.TB, id, typ string) {
	t.Helper()
	n.hooks.WaitFor(t, id, typ, 15*time.Second)
	if bad := n.hooks.Bad(); bad != 0 {
		t.Errorf("%d webhooks failed signature verification", bad)
	}
}
