package checkout_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchd/switchd/examples/checkout"
	"github.com/switchd/switchd/internal/testbin"
)

// freePort returns a loopback address nobody listens on right now.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// copyDir copies the quickstart folder (HCL and secrets) so the test can
// point the webhook_url at its own port.
func copyDir(t *testing.T, src, dst string) {
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

// MustPluginDir builds switchd and every built-in plugin with testbin and
// returns the switchd binary and a plugin dir holding the plugins under
// their names.
func MustPluginDir(t testing.TB) (string, string) {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{"card", "banktransfer", "merchantsig", "ocra", "passkey"} {
		b, err := os.ReadFile(testbin.MustBuild(t, "./plugins/"+name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return testbin.MustBuild(t, "./switchd/cmd/switchd"), dir
}

func run(t *testing.T, bin string, args ...string) string {
	t.Helper()
	out, err := exec.Command(bin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("switchd %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// lockedBuffer collects the daemon's log.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// quickstart is a running `switchd serve` on a copy of examples/quickstart.
type quickstart struct {
	dir, api, webhook string
	log               *lockedBuffer
}

// startQuickstart locks the plugins, validates the committed quickstart
// exactly as the README says, and starts `switchd serve` on a copy whose
// webhook_url points at a free port.
func startQuickstart(t *testing.T) *quickstart {
	t.Helper()
	root, err := testbin.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin, plugins := MustPluginDir(t)
	data := t.TempDir()
	run(t, bin, "plugins", "lock", "--plugin-dir", plugins, "--data-dir", data)
	lock := filepath.Join(data, "plugins.lock.hcl")
	if out := run(t, bin, "validate", "--no-color", "--plugin-dir", plugins, "--lock-file", lock, filepath.Join(root, "examples", "quickstart")); !strings.Contains(out, "valid") || strings.Contains(strings.ToLower(out), "warning") {
		t.Fatalf("validate examples/quickstart: %s", out)
	}

	q := &quickstart{dir: t.TempDir(), api: freePort(t), webhook: freePort(t), log: &lockedBuffer{}}
	copyDir(t, filepath.Join(root, "examples", "quickstart"), q.dir)
	shop := filepath.Join(q.dir, "tea_shop.hcl")
	b, err := os.ReadFile(shop)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte("127.0.0.1:8090")) {
		t.Fatal("tea_shop.hcl no longer sends webhooks to 127.0.0.1:8090, where switchd demo listens")
	}
	os.WriteFile(shop, bytes.ReplaceAll(b, []byte("127.0.0.1:8090"), []byte(q.webhook)), 0o600)

	admin := freePort(t)
	_, port, _ := net.SplitHostPort(q.api)
	cmd := exec.Command(bin, "serve", "--config", q.dir, "--plugin-dir", plugins, "--data-dir", data,
		"--api-addr", q.api, "--admin-addr", admin, "--public-url", "http://localhost:"+port,
		"--webhook-initial-backoff", "50ms", "--log-level", "info")
	cmd.Stdout, cmd.Stderr = q.log, q.log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("switchd log:\n%s", q.log.String())
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		res, err := http.Get("http://" + admin + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("switchd not ready: %v\n%s", err, q.log.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	return q
}

func (q *quickstart) config(t *testing.T, phone string) *checkout.Config {
	t.Helper()
	cfg, err := checkout.Quickstart(q.dir, "http://"+q.api, phone, "http://localhost:8080")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Store.WebhookAddr = q.webhook
	return cfg
}

// TestDemoAgainstQuickstart runs the demo twice against a real switchd on
// the quickstart network: the first run enrols Bob's passkey, the second
// reuses it from the phone file; every payment is approved, with a
// verified webhook, and every step A-E is reported.
func TestDemoAgainstQuickstart(t *testing.T) {
	if testing.Short() {
		t.Skip("builds switchd and the plugins and runs the daemon")
	}
	q := startQuickstart(t)
	phone := filepath.Join(t.TempDir(), "phone.json")

	// Enrolment needs the activation code Beta Bank gave Bob: with a wrong
	// one (a card number alone) no passkey is enrolled and nothing is paid.
	// The right code in run1 clears the failure it counted.
	t.Run("wrong activation code", func(t *testing.T) {
		cfg := q.config(t, phone)
		cfg.Payments = cfg.Payments[:1]
		cfg.Payments[0].Payer.EnrollmentCode = "7K3M-Q9XD-2WPL-H4TM"
		cfg.Out = io.Discard
		res, err := checkout.Run(context.Background(), cfg)
		if err == nil || !strings.Contains(err.Error(), "enroll/begin: 409 invalid_state") || !strings.Contains(err.Error(), "activation code") {
			t.Fatalf("err = %v, want enroll/begin refused", err)
		}
		t.Log(err)
		for _, r := range res {
			if r.Status == "approved" {
				t.Errorf("payment %s approved", r.PaymentID)
			}
		}
		if _, err := os.Stat(phone); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("a passkey was kept after a refused enrolment: %v", err)
		}
		if strings.Contains(q.log.String(), "7K3M-Q9XD-2WPL-H4T") {
			t.Error("the daemon's log holds an activation code")
		}
	})

	for i, wantEnrol := range []bool{true, false} {
		t.Run(fmt.Sprintf("run%d", i+1), func(t *testing.T) {
			cfg := q.config(t, phone)
			var out bytes.Buffer
			cfg.Out = &out
			results, err := checkout.Run(context.Background(), cfg)
			if err != nil {
				t.Fatalf("demo: %v\n%s", err, out.String())
			}
			t.Log("\n" + out.String())
			if len(results) != 2 {
				t.Fatalf("%d results, want 2", len(results))
			}
			want := []struct{ method, issuer, mechanism string }{
				{"card", "Beta Bank", "webauthn"},
				{"bank_transfer", "Alpha Bank", "ocra"},
			}
			for j, r := range results {
				w := want[j]
				if r.Status != "approved" || r.Webhook != "payment.approved" || r.Method != w.method || r.Issuer != w.issuer || r.Mechanism != w.mechanism {
					t.Errorf("payment %d: %+v, want approved %s at %s with %s and a payment.approved webhook", j, r, w.method, w.issuer, w.mechanism)
				}
				if len(r.DigestHex) != 64 {
					t.Errorf("payment %d: digest %q", j, r.DigestHex)
				}
				if len(r.Steps) != 5 {
					t.Fatalf("payment %d: steps %+v", j, r.Steps)
				}
				for k, st := range r.Steps {
					if st.Name != string(rune('A'+k)) || st.Duration < 0 || st.What == "" {
						t.Errorf("payment %d: step %d is %+v", j, k, st)
					}
					if !strings.Contains(out.String(), "   "+st.Name+"  "+st.What) {
						t.Errorf("output lacks step %s of %s:\n%s", st.Name, r.PaymentID, out.String())
					}
				}
			}
			if results[0].Enrolled != wantEnrol || results[1].Enrolled {
				t.Errorf("enrolled = %v, %v; want %v, false", results[0].Enrolled, results[1].Enrolled, wantEnrol)
			}
			// The phone file holds only the demo authenticator, never a card number.
			if b, err := os.ReadFile(phone); err != nil || bytes.Contains(b, []byte("5555555555554444")) {
				t.Errorf("phone file: %v", err)
			}
			if log := q.log.String(); strings.Contains(log, "5555555555554444") || strings.Contains(log, checkout.QuickstartDemoKey) || strings.Contains(log, "1001000015") {
				t.Error("the daemon's log holds a card number, account number or the API key")
			}
		})
	}

	t.Run("failures", func(t *testing.T) {
		_, forged, _ := ed25519.GenerateKey(nil)
		tests := []struct {
			name   string
			change func(*checkout.Config)
			want   string
		}{
			{"wrong API key", func(c *checkout.Config) { c.Store.APIKey = "sk_test_wrong" }, "401 unauthorized"},
			{"order signed with another key", func(c *checkout.Config) { c.Store.SigningKey = forged }, "402 declined: The payment was declined. (decline_code bad_signature)"},
			{"wrong OCRA key", func(c *checkout.Config) {
				c.Payments = c.Payments[1:]
				c.Payments[0].Payer.OCRAKey = bytes.Repeat([]byte{7}, 32)
			}, "wallet refused the issuer"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				cfg := q.config(t, phone)
				tt.change(cfg)
				cfg.Out = io.Discard
				cfg.WebhookTimeout = 10 * time.Second
				res, err := checkout.Run(context.Background(), cfg)
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("err = %v, want one saying %q", err, tt.want)
				}
				t.Log(err)
				for _, r := range res {
					if r.Status == "approved" {
						t.Errorf("payment %s approved", r.PaymentID)
					}
				}
				if errors.Is(err, checkout.ErrDigestMismatch) {
					t.Errorf("unexpected digest mismatch: %v", err)
				}
			})
		}
	})

	// Bob's passkey is enrolled (by run1, or here when run alone); a phone
	// without it cannot enrol a second one, and the demo says what to do.
	t.Run("passkey phone lost", func(t *testing.T) {
		cfg := q.config(t, phone)
		cfg.Payments = cfg.Payments[:1]
		if _, err := checkout.Run(context.Background(), cfg); err != nil {
			t.Fatal(err)
		}
		cfg.Payments[0].Payer.Phone.Path = filepath.Join(t.TempDir(), "new-phone.json")
		_, err := checkout.Run(context.Background(), cfg)
		if err == nil || !strings.Contains(err.Error(), "start from a fresh data dir") {
			t.Fatalf("err = %v", err)
		}
		t.Log(err)
	})
}
