// Package page serves the payer's mobile payment page, GET /pay/{token}.
//
// The page is html/template plus plain JavaScript and CSS, all embedded in
// the binary: nothing loads from outside, so it works with no internet, and
// a strict Content-Security-Policy forbids inline script and any other
// origin. The page talks only to the payer endpoints of the JSON API
// (/v1/pay/{token}/...), reached through the unguessable capability token
// in its own URL.
//
// What the payer sees: the store's name, the order lines and amount, and the
// expiry as a countdown; then a choice of card or bank transfer (step A);
// then mutual authentication with their bank (step C), where the bank's
// proof is shown and checked in the browser where it can be (the order
// digest is recomputed from the order shown; a passkey challenge is
// recomputed from the digest and the bank's nonce) before the payer
// answers; and finally the result, with a link back to the store.
//
// Text is in English and Korean, chosen by Accept-Language.
package page

import (
	"bytes"
	"embed"
	"encoding/json"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
)

//go:embed assets templates
var content embed.FS

// CSP is the Content-Security-Policy sent with the page and its assets.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

var tokenPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{16,128}$`)

// Handler serves GET /pay/{token} and the page's assets under
// /pay/assets/.
type Handler struct {
	mux    *http.ServeMux
	tmpl   *template.Template
	logger *slog.Logger
	// i18n is Strings(lang) as JSON, by language, encoded once in New.
	i18n map[string]template.JS
}

// New returns the page handler. Mount it on the public listener at "/pay/".
func New(logger *slog.Logger) (*Handler, error) {
	if logger == nil {
		logger = slog.Default()
	}
	tmpl, err := template.ParseFS(content, "templates/*.html")
	if err != nil {
		return nil, err
	}
	assets, err := fs.Sub(content, "assets")
	if err != nil {
		return nil, err
	}
	h := &Handler{mux: http.NewServeMux(), tmpl: tmpl, logger: logger, i18n: map[string]template.JS{}}
	for _, lang := range []string{"en", "ko"} {
		js, err := json.Marshal(Strings(lang))
		if err != nil {
			return nil, err
		}
		h.i18n[lang] = template.JS(js)
	}
	files := http.StripPrefix("/pay/assets/", http.FileServer(http.FS(assets)))
	h.mux.Handle("GET /pay/assets/", securityHeaders(files, "public, max-age=300"))
	h.mux.Handle("GET /pay/{token}", securityHeaders(http.HandlerFunc(h.servePage), "no-store"))
	return h, nil
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

func securityHeaders(next http.Handler, cache string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", CSP)
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Cache-Control", cache)
		hd.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), publickey-credentials-get=(self), publickey-credentials-create=(self)")
		next.ServeHTTP(w, r)
	})
}

type pageData struct {
	Lang  string
	Token string
	T     map[string]string
	// I18N is Strings(Lang) as JSON for the page's script, read from a
	// <script type="application/json"> element. html/template would quote
	// a string there; json.Marshal escapes <, > and &, so the JSON is
	// safe to insert as it is.
	I18N template.JS
}

func (h *Handler) servePage(w http.ResponseWriter, r *http.Request) {
	token := r.PathValue("token")
	lang := Negotiate(r.Header.Get("Accept-Language"))
	status := http.StatusOK
	if !tokenPattern.MatchString(token) {
		status, token = http.StatusNotFound, ""
	}
	var buf bytes.Buffer
	if err := h.tmpl.ExecuteTemplate(&buf, "pay.html", pageData{Lang: lang, Token: token, T: Strings(lang), I18N: h.i18n[lang]}); err != nil {
		h.logger.Error("render payment page", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Language", lang)
	w.Header().Add("Vary", "Accept-Language")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// Negotiate picks "ko" or "en" from an Accept-Language header, honouring
// q-values; English is the default.
func Negotiate(header string) string {
	best, bestQ := "en", -1.0
	for _, part := range strings.Split(header, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		tag, q := part, 1.0
		if i := strings.Index(part, ";"); i >= 0 {
			tag = strings.TrimSpace(part[:i])
			params := strings.TrimSpace(part[i+1:])
			if v, ok := strings.CutPrefix(params, "q="); ok {
				q = parseQ(v)
			}
		}
		base := strings.ToLower(tag)
		if i := strings.IndexAny(base, "-_"); i >= 0 {
			base = base[:i]
		}
		if (base == "ko" || base == "en") && q > bestQ {
			best, bestQ = base, q
		}
	}
	return best
}

func parseQ(s string) float64 {
	// q-values have at most three decimals; anything odd counts as 0.
	var whole, frac, div float64 = 0, 0, 1
	seenDot := false
	for _, c := range s {
		switch {
		case c == '.' && !seenDot:
			seenDot = true
		case c >= '0' && c <= '9':
			if seenDot {
				div *= 10
				frac = frac*10 + float64(c-'0')
			} else {
				whole = whole*10 + float64(c-'0')
			}
		default:
			return 0
		}
	}
	q := whole + frac/div
	if q > 1 {
		return 0
	}
	return q
}
