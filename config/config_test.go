package config

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"

	"github.com/switchd/switchd/plugins/sdk"

	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// testInfos are GetInfo answers of the built-in plugins as the loader sees
// them; the loader is tested as a unit, without launching plugins.
func testInfos() map[string]*pb.GetInfoResponse {
	str, num, boolean := pb.AttributeType_ATTRIBUTE_TYPE_STRING, pb.AttributeType_ATTRIBUTE_TYPE_NUMBER, pb.AttributeType_ATTRIBUTE_TYPE_BOOL
	auth := []pb.Kind{pb.Kind_KIND_AUTHENTICATOR}
	method := []pb.Kind{pb.Kind_KIND_PAYMENT_METHOD}
	return map[string]*pb.GetInfoResponse{
		"ocra": {
			Name: "ocra", Version: "1.0.0", Kinds: auth, ProtocolVersions: []uint32{1},
			Capabilities: []string{sdk.CapMutualAuth, sdk.CapEnrollment},
			ConfigSchema: &pb.Schema{
				Attributes: []*pb.Attribute{
					sdk.SensitiveAttr("issuer_key", str, true, "the issuer's OCRA key"),
					sdk.Attr("ocra_suite", str, false, "OCRA suite"),
					sdk.Attr("max_failures", num, false, "lock after this many failures"),
				},
				Blocks: []*pb.BlockType{{
					Name: "payer", Labels: []string{"id"}, MaxItems: 3,
					Body: &pb.Schema{Attributes: []*pb.Attribute{
						sdk.SensitiveAttr("secret", str, true, "the payer's shared secret"),
						sdk.Attr("counter", num, false, "initial counter"),
					}},
				}},
			},
		},
		"passkey": {
			Name: "passkey", Version: "1.0.0", Kinds: auth, ProtocolVersions: []uint32{1},
			Capabilities: []string{sdk.CapMutualAuth},
			ConfigSchema: &pb.Schema{Attributes: []*pb.Attribute{
				sdk.Attr("rp_id", str, true, "WebAuthn relying party id"),
				sdk.Attr("origins", pb.AttributeType_ATTRIBUTE_TYPE_LIST_STRING, true, "allowed origins"),
			}},
		},
		"merchantsig": {
			Name: "merchantsig", Version: "1.0.0", Kinds: auth, ProtocolVersions: []uint32{1},
			Capabilities: []string{sdk.CapSellerAuth},
			ConfigSchema: &pb.Schema{
				Attributes: []*pb.Attribute{
					sdk.SensitiveAttr("attestation_key", str, true, "Ed25519 seed for attestations"),
				},
				Blocks: []*pb.BlockType{{
					Name: "seller", Labels: []string{"key_id"}, MinItems: 1,
					Body: &pb.Schema{Attributes: []*pb.Attribute{sdk.Attr("public_key", str, true, "seller's Ed25519 key")}},
				}},
			},
		},
		"card": {
			Name: "card", Version: "1.0.0", Kinds: method, ProtocolVersions: []uint32{1},
			Methods: []pb.Method{pb.Method_METHOD_CARD}, Capabilities: []string{sdk.CapReverse},
			ConfigSchema: &pb.Schema{
				Attributes: []*pb.Attribute{
					sdk.Attr("currency", str, true, "ISO 4217 code"),
					sdk.Attr("allow_overdraft", boolean, false, "allow negative balances"),
					sdk.Attr("labels", pb.AttributeType_ATTRIBUTE_TYPE_MAP_STRING, false, "free labels"),
				},
				Blocks: []*pb.BlockType{{
					Name: "account", Labels: []string{"id"},
					Body: &pb.Schema{Attributes: []*pb.Attribute{
						sdk.Attr("balance_minor", num, true, "opening balance"),
						sdk.Attr("holder", str, false, "holder name"),
					}},
				}},
			},
		},
		"bank_transfer": {
			Name: "bank_transfer", Version: "1.0.0", Kinds: method, ProtocolVersions: []uint32{1},
			Methods:      []pb.Method{pb.Method_METHOD_BANK_TRANSFER},
			ConfigSchema: &pb.Schema{Attributes: []*pb.Attribute{sdk.Attr("currency", str, true, "ISO 4217 code")}},
		},
	}
}

// setTestEnv sets the variables the testdata reads with env().
func setTestEnv(t testing.TB) {
	t.Setenv("SWITCHD_TEST_OCRA_KEY", "3132333435363738393031323334353637383930")
	t.Setenv("SWITCHD_TEST_BOB_SECRET", "bob-secret")
	t.Setenv("SWITCHD_TEST_WHSEC", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	os.Unsetenv("SWITCHD_TEST_UNSET")
}

// MustLoad parses and decodes path with the test plugin infos and fails
// the test on any error.
func MustLoad(t testing.TB, path string) (*Network, hcl.Diagnostics) {
	t.Helper()
	f, diags := Parse(path)
	if diags.HasErrors() {
		t.Fatalf("Parse(%s): %s", path, diags.Error())
	}
	n, ddiags := f.Decode(testInfos())
	diags = append(diags, ddiags...)
	if diags.HasErrors() {
		t.Fatalf("Decode(%s): %s", path, diags.Error())
	}
	return n, diags
}

func TestValidGolden(t *testing.T) {
	setTestEnv(t)
	matches, _ := filepath.Glob("testdata/valid_*")
	var inputs []string
	for _, m := range matches {
		if !strings.HasSuffix(m, ".golden.json") {
			inputs = append(inputs, m)
		}
	}
	if len(inputs) == 0 {
		t.Fatal("no testdata/valid_* inputs")
	}
	for _, in := range inputs {
		t.Run(filepath.Base(in), func(t *testing.T) {
			n, diags := MustLoad(t, in)
			got, err := json.MarshalIndent(struct {
				Network  goldenNetwork `json:"network"`
				Warnings []string      `json:"warnings"`
			}{golden(n), diagLines(diags)}, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			compareGolden(t, in+".golden.json", append(got, '\n'))
		})
	}
}

func TestErrorGolden(t *testing.T) {
	setTestEnv(t)
	inputs, _ := filepath.Glob("testdata/*_error.hcl")
	if len(inputs) < 15 {
		t.Fatalf("want at least 15 error cases, have %d", len(inputs))
	}
	for _, in := range inputs {
		t.Run(strings.TrimSuffix(filepath.Base(in), ".hcl"), func(t *testing.T) {
			f, diags := Parse(in)
			if !diags.HasErrors() {
				n, ddiags := f.Decode(testInfos())
				diags = append(diags, ddiags...)
				if !diags.HasErrors() {
					t.Fatalf("%s decoded without errors", in)
				}
				if n != nil {
					t.Errorf("Decode returned a Network along with errors")
				}
			}
			for _, d := range diags {
				if d.Severity == hcl.DiagError && d.Subject == nil {
					t.Errorf("error %q has no source range", d.Summary)
				}
			}
			compareGolden(t, in+".golden", []byte(strings.Join(diagLines(diags), "\n")+"\n"))
		})
	}
}

// diagLines renders diagnostics as "file:line:col: severity: summary".
func diagLines(diags hcl.Diagnostics) []string {
	lines := []string{}
	for _, d := range diags {
		sev := "error"
		if d.Severity == hcl.DiagWarning {
			sev = "warning"
		}
		at := "-"
		if d.Subject != nil {
			at = rangeString(*d.Subject)
		}
		lines = append(lines, fmt.Sprintf("%s: %s: %s", at, sev, d.Summary))
	}
	return lines
}

func compareGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./config -run %s -update to create it)", err, t.Name())
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// goldenNetwork is a Network in a form that reads well as JSON.
type goldenNetwork struct {
	Plugins      []goldenPlugin      `json:"plugins"`
	Institutions []goldenInstitution `json:"institutions"`
	Merchants    []goldenMerchant    `json:"merchants"`
}

type goldenUse struct {
	Plugin string          `json:"plugin"`
	Config json.RawMessage `json:"config"`
	At     string          `json:"at"`
}

type goldenInstitution struct {
	ID             string               `json:"id"`
	DisplayName    string               `json:"display_name"`
	Roles          []string             `json:"roles"`
	BankCode       string               `json:"bank_code"`
	BINRanges      []string             `json:"bin_ranges"`
	SellerAuth     string               `json:"seller_auth"`
	PayerAuth      string               `json:"payer_auth"`
	Authenticators []goldenUse          `json:"authenticators"`
	Methods        map[string]goldenUse `json:"methods"`
	At             string               `json:"at"`
}

type goldenPlugin struct {
	Name   string `json:"name"`
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
	At     string `json:"at"`
}

type goldenMerchant struct {
	ID                string `json:"id"`
	DisplayName       string `json:"display_name"`
	Acquirer          string `json:"acquirer"`
	APIKeySHA256      string `json:"api_key_sha256"`
	SettlementAccount string `json:"settlement_account"`
	WebhookURL        string `json:"webhook_url"`
	WebhookSecret     string `json:"webhook_secret"`
	SigningKeyID      string `json:"signing_key_id"`
	ReturnURL         string `json:"return_url"`
	At                string `json:"at"`
}

func golden(n *Network) goldenNetwork {
	var g goldenNetwork
	for _, p := range sortedKeys(n.Plugins) {
		pl := n.Plugins[p]
		g.Plugins = append(g.Plugins, goldenPlugin{pl.Name, pl.Path, pl.SHA256, rangeString(pl.Range)})
	}
	use := func(u *PluginUse) goldenUse {
		return goldenUse{Plugin: u.Plugin, Config: u.ConfigJSON, At: rangeString(u.Range)}
	}
	for _, id := range sortedKeys(n.Institutions) {
		in := n.Institutions[id]
		gi := goldenInstitution{ID: in.ID, DisplayName: in.DisplayName, Roles: in.Roles, BankCode: in.BankCode,
			Methods: map[string]goldenUse{}, At: rangeString(in.Range)}
		for _, r := range in.BINRanges {
			gi.BINRanges = append(gi.BINRanges, r.String()+" @ "+rangeString(r.Range))
		}
		if in.SellerAuth != nil {
			gi.SellerAuth = in.SellerAuth.Plugin
		}
		if in.PayerAuth != nil {
			gi.PayerAuth = in.PayerAuth.Plugin
		}
		for _, u := range in.Authenticators {
			gi.Authenticators = append(gi.Authenticators, use(u))
		}
		for m, u := range in.Methods {
			gi.Methods[MethodName(m)] = use(u)
		}
		g.Institutions = append(g.Institutions, gi)
	}
	for _, id := range sortedKeys(n.Merchants) {
		m := n.Merchants[id]
		g.Merchants = append(g.Merchants, goldenMerchant{
			ID: m.ID, DisplayName: m.DisplayName, Acquirer: m.Acquirer, APIKeySHA256: hex.EncodeToString(m.APIKeySHA256[:]),
			SettlementAccount: m.SettlementAccount, WebhookURL: m.WebhookURL, WebhookSecret: m.WebhookSecret,
			SigningKeyID: m.SigningKeyID, ReturnURL: m.ReturnURL, At: rangeString(m.Range),
		})
	}
	return g
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
