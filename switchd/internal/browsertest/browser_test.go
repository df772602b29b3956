package browsertest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	cdpnet "github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// chromiumPath finds Chromium. Without it the test fails in CI (CI=true)
// and skips locally, saying why.
func chromiumPath(t testing.TB) string {
	t.Helper()
	candidates := []string{os.Getenv("SWITCHD_CHROMIUM"), "/usr/bin/chromium"}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			candidates = append(candidates, p)
		}
	}
	for _, p := range candidates {
		if p == "" {
			continue
		}
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p
		}
	}
	msg := "Chromium not found (looked at $SWITCHD_CHROMIUM, /usr/bin/chromium, chromium on PATH); install it with `apt-get install -y chromium`"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg + "; skipping outside CI")
	return ""
}

// browser is one headless Chromium with one tab, emulating a phone.
type browser struct {
	t    testing.TB
	ctx  context.Context
	dir  string // screenshots
	shot int

	mu       sync.Mutex
	problems []string // console errors, exceptions, CSP violations
}

// Phone viewport: 390×844 CSS pixels at DPR 3 would make 1170-pixel-wide
// screenshots; DPR 2 keeps them readable and small.
const (
	phoneWidth  = 390
	phoneHeight = 844
)

// newBrowser starts Chromium with a fresh profile, sending lang as
// Accept-Language, and records console problems for checkConsole.
func newBrowser(t testing.TB, lang string) *browser {
	t.Helper()
	path := chromiumPath(t)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("lang", lang),
		chromedp.UserDataDir(t.TempDir()),
		// Chromium keeps its singleton socket in a directory of its own
		// under TMPDIR, which stays behind when the test ends the
		// browser; this one is removed with the test.
		chromedp.Env("TMPDIR=" + t.TempDir()),
		chromedp.WindowSize(phoneWidth, phoneHeight),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })

	b := &browser{t: t, ctx: ctx}
	// The first Run starts the browser; it must not carry a timeout.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(phoneWidth, phoneHeight, chromedp.EmulateScale(2), chromedp.EmulateMobile, chromedp.EmulateTouch, chromedp.EmulatePortrait)); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	if _, err := chromedp.Call(ctx, cdpnet.Enable, cdpnet.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, cdpnet.SetExtraHTTPHeaders, cdpnet.SetExtraHTTPHeadersParams{Headers: cdpnet.Headers{"Accept-Language": lang}}); err != nil {
		t.Fatal(err)
	}
	msgs := chromedp.Console(ctx)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			if m.Type != chromedp.ConsoleError && m.Type != chromedp.ConsoleException {
				continue
			}
			// The page's API answers problems (402 declined, 410
			// expired, 500 when the order was tampered with) with
			// status codes; Chromium logs each as a network error. The
			// page handles them; the tests check what it shows.
			if m.Source == "network" && strings.Contains(m.URL, "/v1/pay/") {
				continue
			}
			b.mu.Lock()
			b.problems = append(b.problems, fmt.Sprintf("%s (%s %s:%d)", m, m.Source, m.URL, m.Line))
			b.mu.Unlock()
		}
	}()

	name := strings.NewReplacer("/", "_", " ", "_").Replace(t.Name())
	b.dir = filepath.Join(os.TempDir(), "switchd-screenshots", name)
	if err := os.RemoveAll(b.dir); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(b.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots: %s", b.dir)
	return b
}

// run runs actions with a bound on time, failing the test with what.
func (b *browser) run(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

// eval evaluates a JavaScript expression that yields a string.
func (b *browser) eval(expr string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return s
}

// text returns the trimmed text of the element with id.
func (b *browser) text(id string) string {
	b.t.Helper()
	return strings.TrimSpace(b.eval(fmt.Sprintf(`(document.getElementById(%q) || {textContent: ""}).textContent`, id)))
}

// value returns the value of the input with id.
func (b *browser) value(id string) string {
	b.t.Helper()
	return b.eval(fmt.Sprintf(`document.getElementById(%q).value`, id))
}

// waitFor waits until the JavaScript condition is true.
func (b *browser) waitFor(what, cond string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 25*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](cond, chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(20*time.Second))); err != nil {
		b.screenshot("timeout")
		b.mu.Lock()
		console := strings.Join(b.problems, "\n")
		b.mu.Unlock()
		b.t.Fatalf("waiting for %s (%s): %v; the page shows: %q; console: %s", what, cond, err, b.eval(`document.body.innerText`), console)
	}
}

// visible is a condition: the element with id is shown.
func visible(id string) string {
	return fmt.Sprintf(`(function(){var e=document.getElementById(%q); return !!e && e.offsetParent !== null && !e.closest("[hidden]");})()`, id)
}

// screenshot saves the whole page as NN-step.png, after auditing what is
// on screen (see auditJS).
func (b *browser) screenshot(step string) {
	b.t.Helper()
	if step != "timeout" {
		b.audit(step)
	}
	ctx, cancel := context.WithTimeout(b.ctx, 15*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Errorf("screenshot %s: %v", step, err)
		return
	}
	b.shot++
	path := filepath.Join(b.dir, fmt.Sprintf("%02d-%s.png", b.shot, step))
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Errorf("screenshot %s: %v", step, err)
	}
}

// checkConsole fails the test on any console error, uncaught exception or
// CSP violation seen so far.
func (b *browser) checkConsole() {
	b.t.Helper()
	// Let messages in flight arrive.
	time.Sleep(100 * time.Millisecond)
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, p := range b.problems {
		b.t.Errorf("browser console: %s", p)
	}
}
