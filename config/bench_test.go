package config

import (
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeLargeNetwork writes a network of n issuers (each with an ocra
// authenticator with 10 payers and a card method) and n merchants.
func writeLargeNetwork(tb testing.TB, n int) string {
	tb.Helper()
	var b strings.Builder
	b.WriteString(`plugin "ocra" { path = "ocra" }
plugin "merchantsig" { path = "merchantsig" }
plugin "card" { path = "card" }
plugin "bank_transfer" { path = "bank_transfer" }
institution "acq" {
  roles = ["acquirer"]
  authenticator "merchantsig" {
    attestation_key = env("SWITCHD_TEST_OCRA_KEY")
    seller "k1" { public_key = "pk" }
  }
  method "card" {
    plugin   = "card"
    currency = "EUR"
  }
}
`)
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, `institution "bank_%d" {
  display_name = "Bank %d"
  roles        = ["issuer"]
  bank_code    = "B%d"
  bin_ranges   = ["%06d-%06d"]
  authenticator "ocra" {
    issuer_key = env("SWITCHD_TEST_OCRA_KEY")
`, i, i, i, 100000+i*10, 100000+i*10+9)
		for p := 0; p < 10; p++ {
			fmt.Fprintf(&b, "    payer \"p%d\" { secret = env(\"SWITCHD_TEST_BOB_SECRET\") }\n", p)
		}
		fmt.Fprintf(&b, `  }
  method "card" {
    plugin   = "card"
    currency = "EUR"
  }
}
merchant "m%d" {
  acquirer           = "acq"
  api_key_sha256     = "%x"
  settlement_account = "acct-%d"
  webhook_url        = "https://m%d.example/hook"
  webhook_secret     = env("SWITCHD_TEST_WHSEC")
  signing_key_id     = "k1"
}
`, i, sha256.Sum256([]byte(fmt.Sprint(i))), i, i)
	}
	p := filepath.Join(tb.TempDir(), "large.hcl")
	if err := os.WriteFile(p, []byte(b.String()), 0o600); err != nil {
		tb.Fatal(err)
	}
	return p
}

// BenchmarkParseDecode measures a full load (what a reload costs) of a
// network with 100 issuers, 1,000 payer blocks and 100 merchants.
func BenchmarkParseDecode(b *testing.B) {
	setTestEnv(b)
	p := writeLargeNetwork(b, 100)
	infos := testInfos()
	infos["ocra"].ConfigSchema.Blocks[0].MaxItems = 0
	b.ReportAllocs()
	for b.Loop() {
		f, diags := Parse(p)
		if diags.HasErrors() {
			b.Fatal(diags)
		}
		if _, diags := f.Decode(infos); diags.HasErrors() {
			b.Fatal(diags)
		}
	}
}
