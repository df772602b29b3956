package page

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func TestNegotiate(t *testing.T) {
	tests := []struct {
		name, header, want string
	}{
		{name: "empty", header: "", want: "en"},
		{name: "korean", header: "ko-KR,ko;q=0.9,en;q=0.8", want: "ko"},
		{name: "english first", header: "en-US,en;q=0.9,ko;q=0.5", want: "en"},
		{name: "q decides", header: "en;q=0.2, ko;q=0.7", want: "ko"},
		{name: "unsupported only", header: "fr-FR,de", want: "en"},
		{name: "garbage q", header: "ko;q=abc, en", want: "en"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Negotiate(tt.header); got != tt.want {
				t.Errorf("Negotiate(%q) = %q, want %q", tt.header, got, tt.want)
			}
		})
	}
}

func TestStringsHaveSameKeys(t *testing.T) {
	for k := range en {
		if ko[k] == "" {
			t.Errorf("Korean text missing for %q", k)
		}
	}
	for k := range ko {
		if en[k] == "" {
			t.Errorf("English text missing for %q", k)
		}
	}
}

func get(t *testing.T, h http.Handler, path, lang string) (*http.Response, string) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	if lang != "" {
		req.Header.Set("Accept-Language", lang)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	res := rec.Result()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

func TestPage(t *testing.T) {
	h, err := New(nil)
	if err != nil {
		t.Fatal(err)
	}
	token := "abcdefghijklmnopqrstuvwxyz012345"
	t.Run("renders with strict CSP and no inline script", func(t *testing.T) {
		res, body := get(t, h, "/pay/"+token, "")
		if res.StatusCode != http.StatusOK {
			t.Fatalf("status %d", res.StatusCode)
		}
		csp := res.Header.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'none'", "script-src 'self'", "frame-ancestors 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("CSP %q lacks %q", csp, want)
			}
		}
		if strings.Contains(csp, "unsafe-inline") {
			t.Errorf("CSP allows unsafe-inline: %q", csp)
		}
		if !strings.Contains(body, `data-token="`+token+`"`) {
			t.Error("token not passed to the page")
		}
		// Only the JSON data block may be an inline <script>.
		if n := strings.Count(body, "<script"); n != 2 || !strings.Contains(body, `<script type="application/json" id="i18n">`) {
			t.Errorf("unexpected scripts in page (%d)", n)
		}
		if res.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("page must not be cached, got %q", res.Header.Get("Cache-Control"))
		}
	})
	t.Run("korean by Accept-Language", func(t *testing.T) {
		res, body := get(t, h, "/pay/"+token, "ko-KR,ko;q=0.9")
		if res.Header.Get("Content-Language") != "ko" || !strings.Contains(body, `lang="ko"`) || !strings.Contains(body, "결제 방법을 선택하세요") {
			t.Error("page not in Korean")
		}
	})
	t.Run("text for the script is a JSON object in the page's language", func(t *testing.T) {
		for _, lang := range []string{"en", "ko"} {
			_, body := get(t, h, "/pay/"+token, lang)
			const open = `<script type="application/json" id="i18n">`
			i := strings.Index(body, open)
			j := strings.Index(body[i+len(open):], "</script>")
			if i < 0 || j < 0 {
				t.Fatalf("%s: no i18n block", lang)
			}
			var got map[string]string
			if err := json.Unmarshal([]byte(body[i+len(open):i+len(open)+j]), &got); err != nil {
				t.Fatalf("%s: i18n block is not a JSON object: %v", lang, err)
			}
			if got["result_approved"] != Strings(lang)["result_approved"] || len(got) != len(Strings(lang)) {
				t.Errorf("%s: i18n block has %d strings, result_approved %q", lang, len(got), got["result_approved"])
			}
		}
	})
	t.Run("every English text has a Korean one", func(t *testing.T) {
		for k := range en {
			if ko[k] == "" {
				t.Errorf("no Korean for %q", k)
			}
		}
		for k := range ko {
			if en[k] == "" {
				t.Errorf("no English for %q", k)
			}
		}
	})
	t.Run("every input has a label bound to it", func(t *testing.T) {
		for _, lang := range []string{"en", "ko"} {
			_, body := get(t, h, "/pay/"+token, lang)
			fields := regexp.MustCompile(`<(?:input|select) ([^>]*)>`).FindAllStringSubmatch(body, -1)
			if len(fields) < 5 {
				t.Fatalf("%s: %d form fields found", lang, len(fields))
			}
			for _, f := range fields {
				if strings.Contains(f[1], `type="radio"`) {
					continue // inside its <label>
				}
				id := regexp.MustCompile(`id="([^"]+)"`).FindStringSubmatch(f[1])
				if id == nil || !strings.Contains(body, `<label for="`+id[1]+`">`) {
					t.Errorf("%s: no <label for> for %s", lang, f[0])
				}
			}
			// The passkey enrolment asks for the bank's activation code.
			want := `<label for="enrollment-code">` + Strings(lang)["enrollment_code"] + `</label>`
			if !strings.Contains(body, want) || !strings.Contains(body, `aria-describedby="enrollment-code-help"`) {
				t.Errorf("%s: the activation code field lacks its label or hint", lang)
			}
		}
	})
	t.Run("malformed token is 404", func(t *testing.T) {
		res, _ := get(t, h, "/pay/short", "")
		if res.StatusCode != http.StatusNotFound {
			t.Errorf("status %d, want 404", res.StatusCode)
		}
	})
	t.Run("assets are embedded", func(t *testing.T) {
		for _, a := range []string{"/pay/assets/pay.js", "/pay/assets/pay.css"} {
			res, body := get(t, h, a, "")
			if res.StatusCode != http.StatusOK || len(body) < 1000 {
				t.Errorf("%s: status %d, %d bytes", a, res.StatusCode, len(body))
			}
			if res.Header.Get("Content-Security-Policy") == "" {
				t.Errorf("%s: no CSP", a)
			}
		}
	})
}

func TestQRCode(t *testing.T) {
	png, err := QRCode("http://127.0.0.1:8080/pay/abcdefghijklmnopqrstuvwxyz012345")
	if err != nil {
		t.Fatal(err)
	}
	if len(png) < 100 || string(png[1:4]) != "PNG" {
		t.Fatalf("not a PNG (%d bytes)", len(png))
	}
}
