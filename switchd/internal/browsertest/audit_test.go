package browsertest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// auditJS checks what is on screen now, the way an accessibility
// reviewer would at a glance, and returns a JSON list of problems:
//
//   - every visible input and select has a label with text (label[for],
//     an enclosing label, or aria-label);
//   - every visible button and link has text;
//   - no positive tabindex (it breaks the natural focus order);
//   - text contrast at least 4.5:1 (3:1 for large text: 24px, or 18.66px
//     bold) against the nearest opaque background, WCAG 2.x formula;
//   - nothing overflows the viewport horizontally (no sideways scrolling
//     on a 360–390 px phone).
const auditJS = `(function () {
  var out = [];
  function shown(e) { return e.offsetParent !== null || getComputedStyle(e).position === "fixed"; }
  function name(e) { return e.tagName.toLowerCase() + (e.id ? "#" + e.id : ""); }
  document.querySelectorAll("input, select, textarea").forEach(function (e) {
    if (!shown(e) || e.type === "hidden") return;
    var ok = (e.labels && Array.prototype.some.call(e.labels, function (l) { return l.textContent.trim() !== ""; })) || (e.getAttribute("aria-label") || "").trim() !== "";
    if (!ok) out.push(name(e) + ": no label");
  });
  document.querySelectorAll("button, a[href]").forEach(function (e) {
    if (shown(e) && e.textContent.trim() === "" && !(e.getAttribute("aria-label") || "").trim()) out.push(name(e) + ": no text");
  });
  document.querySelectorAll("[tabindex]").forEach(function (e) {
    if (+e.getAttribute("tabindex") > 0) out.push(name(e) + ": positive tabindex");
  });
  function rgb(s) { var m = s.match(/[\d.]+/g); return m ? m.map(Number) : [0, 0, 0, 0]; }
  function lum(c) {
    var a = c.slice(0, 3).map(function (v) { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); });
    return 0.2126 * a[0] + 0.7152 * a[1] + 0.0722 * a[2];
  }
  function background(e) {
    for (; e; e = e.parentElement) {
      var c = rgb(getComputedStyle(e).backgroundColor);
      if (c.length < 4 || c[3] === 1) return c;
    }
    return [255, 255, 255, 1];
  }
  var walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  var seen = new Set();
  for (var n = walker.nextNode(); n; n = walker.nextNode()) {
    var e = n.parentElement;
    if (!n.textContent.trim() || seen.has(e) || !shown(e) || e.closest("script, [hidden], details:not([open]) > :not(summary)")) continue;
    seen.add(e);
    var st = getComputedStyle(e);
    var fg = rgb(st.color), bg = background(e);
    var l1 = lum(fg), l2 = lum(bg);
    var ratio = (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05);
    var size = parseFloat(st.fontSize), bold = +st.fontWeight >= 700;
    var need = (size >= 24 || (bold && size >= 18.66)) ? 3 : 4.5;
    if (ratio < need) out.push(name(e) + " \"" + n.textContent.trim().slice(0, 30) + "\": contrast " + ratio.toFixed(2) + " < " + need);
  }
  // A phone browser zooms out to fit a too-wide page, so compare with the
  // screen, not with the (then wider) viewport.
  var vw = Math.min(window.innerWidth, document.documentElement.clientWidth, screen.width);
  if (document.documentElement.scrollWidth > vw + 1) out.push("page is " + document.documentElement.scrollWidth + "px wide in a " + vw + "px viewport");
  return JSON.stringify(out);
})()`

// audit fails the test for each accessibility problem on screen now.
func (b *browser) audit(step string) {
	b.t.Helper()
	var problems []string
	if err := json.Unmarshal([]byte(b.eval(auditJS)), &problems); err != nil {
		b.t.Fatalf("audit %s: %v", step, err)
	}
	if len(problems) > 0 {
		b.t.Errorf("accessibility at %s:\n  %s", step, strings.Join(problems, "\n  "))
	}
}

// TestAuditFindsProblems shows the audit is not blind: a page with an
// unlabelled field, a link without text, pale text and a too-wide box
// fails it.
func TestAuditFindsProblems(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, `<!doctype html><html><head><link rel="icon" href="data:,"><meta name="viewport" content="width=device-width">`+
			`<style>body{margin:0} .pale{color:#bbb;background:#fff} .wide{width:900px}</style></head><body>`+
			`<input id="nolabel"><a id="empty" href="/x"></a><p class="pale">pale words</p><div class="wide">wide</div>`+
			`<label for="ok">Name</label><input id="ok"></body></html>`)
	}))
	defer srv.Close()
	b := newBrowser(t, "en")
	b.run("open", chromedp.Navigate(srv.URL))
	var problems []string
	if err := json.Unmarshal([]byte(b.eval(auditJS)), &problems); err != nil {
		t.Fatal(err)
	}
	got := strings.Join(problems, "\n")
	for _, want := range []string{"input#nolabel: no label", "a#empty: no text", `p "pale words": contrast`, "px wide in a 390px viewport"} {
		if !strings.Contains(got, want) {
			t.Errorf("audit missed %q; it found:\n%s", want, got)
		}
	}
	if strings.Contains(got, "input#ok") {
		t.Errorf("audit flags a labelled input:\n%s", got)
	}
}

// TestConsoleWatchIsNotBlind shows that the console watch every page test
// ends with sees a CSP violation, console.error and an uncaught
// exception.
func TestConsoleWatchIsNotBlind(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/bad.js":
			w.Header().Set("Content-Type", "text/javascript")
			io.WriteString(w, `console.error("boom from console"); setTimeout(function () { throw new Error("uncaught boom"); }, 0);`)
		default:
			w.Header().Set("Content-Security-Policy", "default-src 'none'; script-src 'self'")
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			io.WriteString(w, `<!doctype html><html><head><link rel="icon" href="data:,"></head><body>`+
				`<script>document.title = "inline ran";</script><script src="/bad.js"></script></body></html>`)
		}
	}))
	defer srv.Close()
	b := newBrowser(t, "en")
	b.run("open", chromedp.Navigate(srv.URL))
	want := []string{"Content Security Policy", "boom from console", "uncaught boom"}
	deadline := time.Now().Add(10 * time.Second)
	for {
		b.mu.Lock()
		got := strings.Join(b.problems, "\n")
		b.mu.Unlock()
		missing := ""
		for _, w := range want {
			if !strings.Contains(got, w) {
				missing = w
			}
		}
		if missing == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("console watch missed %q; it saw:\n%s", missing, got)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if title := b.eval(`document.title`); title == "inline ran" {
		t.Error("inline script ran despite the CSP")
	}
}
