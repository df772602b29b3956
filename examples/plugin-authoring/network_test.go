package main

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
	"github.com/switchd/switchd/plugins/sdk/order"

	"example.com/acmebank-auth/acmeauth"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o700)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// call sends a JSON request to switchd and decodes the 2xx answer.
func call(t *testing.T, method, url, key string, body, out any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, ok := body.([]byte)
		if !ok {
			b, _ = json.Marshal(body)
		}
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, url, rd)
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode/100 != 2 {
		t.Fatalf("%s %s: %d %s", method, url, res.StatusCode, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s: %v: %s", url, err, b)
		}
	}
}

// TestLivePayment is the README's walkthrough as a test: Acme Bank joins
// the quickstart network with acmebank.hcl, switchd validates it, serves
// it, and Carol pays the Tea Shop by card with acme-hmac at step C.
func TestLivePayment(t *testing.T) {
	if testing.Short() {
		t.Skip("builds switchd and its plugins and runs the daemon")
	}
	bins := t.TempDir()
	for _, name := range []string{"card", "banktransfer", "merchantsig", "ocra", "passkey"} {
		mustBuild(t, "../..", "./plugins/"+name, bins, name)
	}
	mustBuild(t, ".", ".", bins, "acmeauth")
	switchd := mustBuild(t, "../..", "./switchd/cmd/switchd", t.TempDir(), "switchd")

	// The network: the quickstart plus acmebank.hcl, laid out as in the
	// repository so its ../plugin-authoring/secrets paths resolve.
	root := t.TempDir()
	network := filepath.Join(root, "quickstart")
	copyTree(t, filepath.Join("..", "quickstart"), network)
	copyTree(t, "secrets", filepath.Join(root, "plugin-authoring", "secrets"))
	hcl, err := os.ReadFile("acmebank.hcl")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(network, "acmebank.hcl"), hcl, 0o600)
	shop := filepath.Join(network, "tea_shop.hcl")
	b, _ := os.ReadFile(shop)
	os.WriteFile(shop, bytes.ReplaceAll(b, []byte("127.0.0.1:8090"), []byte(freeAddr(t))), 0o600)

	data := t.TempDir()
	run := func(args ...string) string {
		out, err := exec.Command(switchd, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("switchd %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	run("plugins", "lock", "--plugin-dir", bins, "--data-dir", data)
	if out := run("validate", "--no-color", "--plugin-dir", bins, "--lock-file", filepath.Join(data, "plugins.lock.hcl"), network); !strings.Contains(out, "valid") {
		t.Fatalf("validate: %s", out)
	}

	api, admin := freeAddr(t), freeAddr(t)
	logPath := filepath.Join(t.TempDir(), "switchd.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	readLog := func() string { b, _ := os.ReadFile(logPath); return string(b) }
	cmd := exec.Command(switchd, "serve", "--config", network, "--plugin-dir", bins, "--data-dir", data,
		"--api-addr", api, "--admin-addr", admin, "--public-url", "http://"+api)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
		if t.Failed() {
			t.Logf("switchd log:\n%s", readLog())
		}
	})
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if res, err := http.Get("http://" + admin + "/readyz"); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("switchd did not become ready")
		}
	}

	// The Tea Shop signs its terms and creates the payment.
	seedHex, _ := os.ReadFile(filepath.Join(network, "secrets", "tea_shop_ed25519.seed"))
	seed, _ := hex.DecodeString(strings.TrimSpace(string(seedHex)))
	expires := time.Now().Add(10 * time.Minute).Truncate(time.Second)
	signedAt := time.Now().UnixMilli()
	terms := order.TermsDigest(&pb.Order{MerchantId: "tea_shop", AcquirerId: "alpha", AmountMinor: 990, Currency: "EUR", OrderRef: "acme-1", ExpiresAtUnix: expires.Unix()})
	var created struct {
		ID       string `json:"id"`
		PayToken string `json:"pay_token"`
	}
	base := "http://" + api
	call(t, "POST", base+"/v1/payments", "sk_test_quickstart_tea_shop_0123456789", map[string]any{
		"amount_minor": 990, "currency": "EUR", "order_ref": "acme-1", "expires_at": expires.UTC().Format(time.RFC3339),
		"seller_signature":  base64.StdEncoding.EncodeToString(ed25519.Sign(ed25519.NewKeyFromSeed(seed), order.SellerMessage(terms, signedAt))),
		"seller_key_id":     "k1",
		"signed_at_unix_ms": signedAt,
	}, &created)

	// Carol: A (card routed to Acme Bank by its BIN), then C with her app.
	pay := base + "/v1/pay/" + created.PayToken
	var view struct {
		Payment struct {
			State    string `json:"state"`
			IssuerID string `json:"issuer_id"`
		} `json:"payment"`
		Mechanism string `json:"mechanism"`
		DigestHex string `json:"digest_hex"`
	}
	call(t, "POST", pay+"/method", "", map[string]any{"method": "card", "card": map[string]any{"number": "4242424242424242", "expiry_month": 12, "expiry_year": 2039}}, &view)
	// Before C the payer's view names the mechanism only for the built-in
	// ones (ocra, webauthn); for any other it is the plugin's name.
	if view.Payment.IssuerID != "acme" || view.Mechanism != acmeauth.Name {
		t.Fatalf("after A and B: issuer %q mechanism %q", view.Payment.IssuerID, view.Mechanism)
	}
	key, _ := os.ReadFile(filepath.Join("secrets", "carol_acme.key"))
	k, _ := hex.DecodeString(strings.TrimSpace(string(key)))
	w := &acmeauth.Wallet{Key: k}
	hello, _ := w.Hello()
	var ch struct {
		Mechanism     string          `json:"mechanism"`
		ChallengeData json.RawMessage `json:"challenge_data"`
		DigestHex     string          `json:"digest_hex"`
	}
	call(t, "POST", pay+"/auth/begin", "", hello, &ch)
	if ch.Mechanism != acmeauth.Mechanism || ch.DigestHex != view.DigestHex {
		t.Fatalf("auth/begin: mechanism %q digest %q, view digest %q", ch.Mechanism, ch.DigestHex, view.DigestHex)
	}
	digest, _ := hex.DecodeString(ch.DigestHex)
	answer, err := w.Answer(ch.ChallengeData, digest)
	if err != nil {
		t.Fatal(err)
	}
	call(t, "POST", pay+"/auth/finish", "", answer, &view)
	if view.Payment.State != "approved" {
		t.Fatalf("payment %s is %s", created.ID, view.Payment.State)
	}
	var p struct {
		Status     string `json:"status"`
		Instrument string `json:"instrument"`
	}
	call(t, "GET", base+"/v1/payments/"+created.ID, "sk_test_quickstart_tea_shop_0123456789", nil, &p)
	if p.Status != "approved" {
		t.Fatalf("the store sees %s", p.Status)
	}
	if strings.Contains(readLog(), "4242424242424242") {
		t.Error("the card number is in switchd's log")
	}
}
