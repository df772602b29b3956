package testnet

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/switchd/switchd/config"
)

func TestLuhn(t *testing.T) {
	// Well-known test card numbers and the textbook example, each split
	// into its digits and its check digit.
	for _, number := range []string{
		"4111111111111111", // Visa
		"5555555555554444", // Mastercard
		"378282246310005",  // American Express
		"6011111111111117", // Discover
		"79927398713",
		"00",
	} {
		t.Run(number, func(t *testing.T) {
			if got := Luhn(number[:len(number)-1]); got != number {
				t.Fatalf("Luhn(%s) = %s, want %s", number[:len(number)-1], got, number)
			}
		})
	}
}

func TestRand(t *testing.T) {
	for _, n := range []int{1, 16, 32} {
		a, b := RandHex(n), RandHex(n)
		if len(a) != 2*n {
			t.Fatalf("RandHex(%d) = %q: %d characters, want %d", n, a, len(a), 2*n)
		}
		if _, err := hex.DecodeString(a); err != nil {
			t.Fatalf("RandHex(%d) = %q: %v", n, a, err)
		}
		if n >= 16 && a == b {
			t.Fatalf("RandHex(%d) returned %q twice", n, a)
		}
		if got := len(RandBytes(n)); got != n {
			t.Fatalf("RandBytes(%d): %d bytes", n, got)
		}
	}
	sum := sha256.Sum256([]byte("sk_test_1"))
	if got, want := SHA256Hex("sk_test_1"), hex.EncodeToString(sum[:]); got != want {
		t.Fatalf("SHA256Hex = %s, want %s", got, want)
	}
}

// TestDirSecret checks that a secret lands in a 0600 file, is remembered,
// and that switchd's own config parser reads the returned expression back
// to the value.
func TestDirSecret(t *testing.T) {
	d, err := NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	digest, path := RandHex(32), "/opt/plugins/"+RandHex(4)
	pathExpr, digestExpr := d.Secret("plugin_path", path), d.Secret("plugin_sha", digest)
	if pathExpr != `file("secrets/plugin_path")` {
		t.Fatalf("expression = %s", pathExpr)
	}
	d.Write("plugins.hcl", "plugin \"x\" {\n  path   = "+pathExpr+"\n  sha256 = "+digestExpr+"\n}\n")
	if err := d.Err(); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"secrets/plugin_path", "secrets/plugin_sha", "plugins.hcl"} {
		fi, err := os.Stat(filepath.Join(d.Path, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", name, fi.Mode().Perm())
		}
	}
	if fi, err := os.Stat(filepath.Join(d.Path, "secrets")); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("secrets dir: %v %v, want mode 0700", fi.Mode().Perm(), err)
	}
	files, diags := config.Parse(d.Path)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if p := files.Plugins(); len(p) != 1 || p[0].Path != path || p[0].SHA256 != digest {
		t.Fatalf("parsed plugin %+v, want path %s sha256 %s", p[0], path, digest)
	}
	want := map[string]string{"plugin_path": path, "plugin_sha": digest}
	got := d.Secrets()
	if len(got) != len(want) || got["plugin_path"] != path || got["plugin_sha"] != digest {
		t.Fatalf("Secrets() = %v, want %v", got, want)
	}
	got["plugin_sha"] = "changed"
	if d.Secrets()["plugin_sha"] != digest {
		t.Fatal("Secrets() returned the Dir's own map")
	}
}

func TestDirKeepsFirstError(t *testing.T) {
	d, err := NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	d.Write("missing/a.hcl", "x")
	first := d.Err()
	if first == nil {
		t.Fatal("writing into a missing directory: no error")
	}
	d.Write("b.hcl", "merchant")
	if d.Err() != first {
		t.Fatalf("Err() = %v, want the first error %v", d.Err(), first)
	}
	if _, err := os.Stat(filepath.Join(d.Path, "b.hcl")); !os.IsNotExist(err) {
		t.Fatalf("a write after an error happened: %v", err)
	}
	blocker := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := NewDir(filepath.Join(blocker, "net")); err == nil {
		t.Fatal("NewDir below a regular file: no error")
	}
}

// parse parses src as HCL native syntax.
func parse(t *testing.T, src string) *hclsyntax.Body {
	t.Helper()
	f, diags := hclsyntax.ParseConfig([]byte(src), "t.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatalf("%v\n%s", diags, src)
	}
	return f.Body.(*hclsyntax.Body)
}

// str is attribute name of b as a string: "file()" for a file() call,
// numbers and lists as text, "<none>" when b has no such attribute.
func str(t *testing.T, b *hclsyntax.Body, name string) string {
	t.Helper()
	a, ok := b.Attributes[name]
	if !ok {
		return "<none>"
	}
	if c, ok := a.Expr.(*hclsyntax.FunctionCallExpr); ok {
		return c.Name + "()"
	}
	v, diags := a.Expr.Value(nil)
	if diags.HasErrors() {
		t.Fatalf("%s: %v", name, diags)
	}
	if v.Type() == cty.Number {
		return v.AsBigFloat().String()
	}
	if v.Type().IsTupleType() {
		var out []string
		for _, e := range v.AsValueSlice() {
			out = append(out, e.AsString())
		}
		return strings.Join(out, ",")
	}
	return v.AsString()
}

func TestInstitutionHCL(t *testing.T) {
	pub, _, _ := ed25519.GenerateKey(nil)
	in := Institution{ID: "bank_a", DisplayName: "Bank A", Role: "issuer", BankCode: "1001", BINRange: "411100-411199",
		Authenticator: Authenticator{Plugin: "ocra", AttestationKey: `file("secrets/att")`, AttestationKeyID: "bank_a-1",
			Body: OCRAPayer("alice", `file("secrets/alice")`) + SellerKey("shop", pub)},
		Methods: []Method{
			{Name: "card", Plugin: "card", TokenKey: `file("secrets/tok")`,
				Body: Card{Label: "alice", PAN: `file("secrets/pan")`, Holder: "alice", CreditLimit: 500, Currency: "EUR"}.HCL() + MerchantAccount("9000", "EUR")},
			{Name: "bank_transfer", Plugin: "banktransfer", TokenKey: `file("secrets/bt")`,
				Body: Account{Number: "1234", Holder: "alice", Balance: 100, Currency: "EUR"}.HCL() + Account{Number: "5678", Holder: "shop", Currency: "EUR"}.HCL()},
		}}
	body := parse(t, in.HCL())
	if len(body.Blocks) != 1 || body.Blocks[0].Type != "institution" || body.Blocks[0].Labels[0] != "bank_a" {
		t.Fatalf("blocks: %+v", body.Blocks)
	}
	ib := body.Blocks[0].Body
	for name, want := range map[string]string{"display_name": "Bank A", "roles": "issuer", "bank_code": "1001", "bin_ranges": "411100-411199"} {
		if got := str(t, ib, name); got != want {
			t.Errorf("%s = %s, want %s", name, got, want)
		}
	}
	var kinds []string
	for _, b := range ib.Blocks {
		kinds = append(kinds, b.Type+" "+b.Labels[0])
	}
	if got := strings.Join(kinds, "; "); got != "authenticator ocra; method card; method bank_transfer" {
		t.Fatalf("institution blocks: %s", got)
	}
	auth := ib.Blocks[0].Body
	if str(t, auth, "attestation_key") != "file()" || str(t, auth, "attestation_key_id") != "bank_a-1" {
		t.Errorf("authenticator: %s", in.HCL())
	}
	if len(auth.Blocks) != 2 || auth.Blocks[0].Labels[0] != "alice" || str(t, auth.Blocks[0].Body, "key") != "file()" {
		t.Fatalf("payer: %s", in.HCL())
	}
	seller := auth.Blocks[1]
	if seller.Type != "merchant" || seller.Labels[0] != "shop" || len(seller.Body.Blocks) != 1 ||
		str(t, seller.Body.Blocks[0].Body, "public_key") != base64.StdEncoding.EncodeToString(pub) {
		t.Fatalf("seller key: %s", in.HCL())
	}
	card := ib.Blocks[1].Body
	if str(t, card, "plugin") != "card" || str(t, card, "token_key") != "file()" || len(card.Blocks) != 2 {
		t.Fatalf("card method: %s", in.HCL())
	}
	for name, want := range map[string]string{"pan": "file()", "expiry": "12/39", "holder": "alice", "credit_limit": "500", "currency": "EUR"} {
		if got := str(t, card.Blocks[0].Body, name); got != want {
			t.Errorf("card %s = %s, want %s", name, got, want)
		}
	}
	if b := card.Blocks[1]; b.Type != "merchant_account" || b.Labels[0] != "9000" || str(t, b.Body, "currency") != "EUR" {
		t.Errorf("merchant_account: %s", in.HCL())
	}
	bt := ib.Blocks[2].Body
	if len(bt.Blocks) != 2 || str(t, bt.Blocks[0].Body, "balance") != "100" || str(t, bt.Blocks[1].Body, "balance") != "<none>" ||
		str(t, bt.Blocks[1].Body, "holder") != "shop" {
		t.Fatalf("accounts: %s", in.HCL())
	}

	acq := parse(t, Institution{ID: "acq", DisplayName: "Acq", Role: "acquirer", BankCode: "7001",
		Authenticator: Authenticator{Plugin: "merchantsig", AttestationKey: `"x"`, AttestationKeyID: "acq-1"}}.HCL())
	if got := str(t, acq.Blocks[0].Body, "bin_ranges"); got != "<none>" {
		t.Fatalf("acquirer without BIN range has bin_ranges %s", got)
	}
}

func TestMerchantHCL(t *testing.T) {
	for _, tc := range []struct {
		name, display, wantDisplay string
	}{
		{"named", "The Shop", "The Shop"},
		{"unnamed", "", "<none>"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := Merchant{ID: "shop", DisplayName: tc.display, Acquirer: "acq", APIKey: "sk_test_1", Settlement: "9000",
				WebhookURL: "http://127.0.0.1/hooks", WebhookSecret: `file("secrets/whsec")`}
			src := m.HCL()
			if strings.Contains(src, "sk_test_1") {
				t.Fatalf("the API key is in the block:\n%s", src)
			}
			body := parse(t, src)
			if len(body.Blocks) != 1 || body.Blocks[0].Type != "merchant" || body.Blocks[0].Labels[0] != "shop" {
				t.Fatalf("blocks: %s", src)
			}
			for name, want := range map[string]string{"display_name": tc.wantDisplay, "acquirer": "acq", "api_key_sha256": SHA256Hex("sk_test_1"),
				"settlement_account": "9000", "webhook_url": "http://127.0.0.1/hooks", "webhook_secret": "file()", "signing_key_id": "k1"} {
				if got := str(t, body.Blocks[0].Body, name); got != want {
					t.Errorf("%s = %s, want %s", name, got, want)
				}
			}
		})
	}
}

func TestPasskeyHCL(t *testing.T) {
	for _, tc := range []struct {
		name, display, wantDisplay string
	}{
		{"named", "Alice Kim", "Alice Kim"},
		{"unnamed", "", "<none>"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := Institution{ID: "bank_p", DisplayName: "P", Role: "issuer", BankCode: "5005",
				Authenticator: Authenticator{Plugin: "passkey", AttestationKey: `"x"`, AttestationKeyID: "p-1",
					Body: PasskeyRP("localhost", "Passkey Bank", "http://localhost:8080") + PasskeyPayer("alice", tc.display, `file("secrets/code")`)}}.HCL()
			auth := parse(t, src).Blocks[0].Body.Blocks[0].Body
			for name, want := range map[string]string{"rp_id": "localhost", "rp_display_name": "Passkey Bank", "rp_origins": "http://localhost:8080"} {
				if got := str(t, auth, name); got != want {
					t.Errorf("%s = %s, want %s", name, got, want)
				}
			}
			if len(auth.Blocks) != 1 || auth.Blocks[0].Type != "payer" || auth.Blocks[0].Labels[0] != "alice" {
				t.Fatalf("payer: %s", src)
			}
			payer := auth.Blocks[0].Body
			if str(t, payer, "enrollment_code_sha256") != "file()" || str(t, payer, "display_name") != tc.wantDisplay {
				t.Fatalf("payer: %s", src)
			}
		})
	}
}
