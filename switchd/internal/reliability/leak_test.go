package reliability

import (
	"os"
	"path/filepath"
	"testing"
)

// TestLeakScanFindsPlantedSecrets proves the leak scan can fail: a PAN
// planted in a nested file and an API key in a webhook body are found,
// and a clean directory gives no hit.
func TestLeakScanFindsPlantedSecrets(t *testing.T) {
	n := &network{Secrets: map[string]string{"alice PAN": "4111001234567893", "shop api key": "sk_test_0123456789abcdef"}}
	received := [][]byte{[]byte(`{"type":"payment.approved"}`), []byte(`{"key":"sk_test_0123456789abcdef"}`)}
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "plugins", "card"), 0o700)
	os.WriteFile(filepath.Join(dir, "daemon.log"), []byte("level=INFO msg=ok last4=7893\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "plugins", "card", "ledger.db"), []byte("\x00\x01pan=4111001234567893\x00"), 0o600)
	files, bodies, leaks, err := findLeaks(n, received, map[string]string{"extra": "never-there-xyz"}, dir)
	if err != nil {
		t.Fatal(err)
	}
	if files != 2 || bodies != 2 || len(leaks) != 2 {
		t.Fatalf("scanned %d files and %d bodies, leaks %q; want 2, 2 and 2 leaks", files, bodies, leaks)
	}
	clean := t.TempDir()
	os.WriteFile(filepath.Join(clean, "daemon.log"), []byte("card ending 7893\n"), 0o600)
	if _, _, leaks, _ := findLeaks(n, nil, nil, clean); len(leaks) != 0 {
		t.Fatalf("clean directory: %q", leaks)
	}
}
