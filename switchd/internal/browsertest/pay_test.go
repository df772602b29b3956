package browsertest

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"

	"github.com/switchd/switchd/plugins/ocra/rfc6287"
	"github.com/switchd/switchd/switchd/internal/page"
	"github.com/switchd/switchd/switchd/wallet"
)

var teaOrder = []line{{Name: "Jeju green tea, 100 g", Quantity: 2, AmountMinor: 1250}, {Name: "Celadon cup", Quantity: 1, AmountMinor: 1890}}

const teaTotal = "€43.90"

// open loads the payment page of p and waits for the order summary.
func (b *browser) open(url string) {
	b.t.Helper()
	b.run("open "+url, chromedp.Navigate(url))
	b.waitFor("order summary", visible("summary")+` || `+visible("result"))
}

// chooseBankTransfer fills step A for a bank transfer.
func (b *browser) chooseBankTransfer(bankCode, account string) {
	b.t.Helper()
	b.run("choose bank transfer",
		chromedp.Click(chromedp.CSS("#m-bank")),
		chromedp.SetValue(chromedp.CSS("#bank-select"), bankCode),
		chromedp.SendKeys(chromedp.CSS("#account-number"), account))
}

// payOCRA runs step C as the payer with an OCRA device: the page's
// client challenge goes to the bank, the wallet checks the bank's proof
// and the binding of its challenge to the order digest, and the test
// types the wallet's answer.
func (b *browser) payOCRA(key []byte) {
	b.t.Helper()
	b.waitFor("OCRA step", visible("ocra")+` && document.getElementById("order-check").classList.contains("ok")`)
	b.screenshot("verify")
	w := &wallet.OCRA{Key: key, ClientChallenge: b.value("client-challenge")}
	if w.ClientChallenge == "" {
		b.t.Fatal("the page offers no client challenge")
	}
	b.run("ask the bank to prove itself", chromedp.Click(chromedp.CSS("#ocra-begin-submit")))
	b.waitFor("the bank's proof", visible("ocra-proof")+` && document.getElementById("server-response").textContent !== ""`)
	digest, err := hex.DecodeString(b.text("fingerprint"))
	if err != nil || len(digest) != 32 {
		b.t.Fatalf("order fingerprint on the page: %q (%v)", b.text("fingerprint"), err)
	}
	cd, _ := json.Marshal(rfc6287.ChallengeData{Suite: b.text("ocra-suite"), ServerResponse: b.text("server-response"),
		ServerChallenge: b.text("server-challenge"), Nonce: b.text("ocra-nonce")})
	answer, err := w.Answer(cd, digest)
	if err != nil {
		b.t.Fatalf("the wallet refused the bank's proof: %v", err)
	}
	var fin rfc6287.FinishPayerData
	if err := json.Unmarshal(answer, &fin); err != nil {
		b.t.Fatal(err)
	}
	b.screenshot("bank-proof")
	b.run("type the answer", chromedp.SendKeys(chromedp.CSS("#client-response"), fin.ClientResponse))
	b.screenshot("answer")
	b.run("confirm and pay", chromedp.Click(chromedp.CSS("#ocra-finish-submit")))
}

// waitResult waits for the result panel and returns its title and detail.
func (b *browser) waitResult() (string, string) {
	b.t.Helper()
	b.waitFor("the result", visible("result")+` && document.getElementById("result-title").textContent !== ""`)
	return b.text("result-title"), b.text("result-detail")
}

func TestBankTransferOCRA(t *testing.T) {
	n := newNetwork(t)
	p := n.create(t, "TEA-1001", teaOrder, time.Now().Add(10*time.Minute))
	b := newBrowser(t, "en-GB,en;q=0.9")

	// The page over the real daemon carries its strict CSP.
	res, err := http.Get(n.pageURL(p.PayToken))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if got := res.Header.Get("Content-Security-Policy"); got != page.CSP || !strings.Contains(got, "script-src 'self'") {
		t.Errorf("Content-Security-Policy = %q, want %q", got, page.CSP)
	}

	b.open(n.pageURL(p.PayToken))
	if got := b.text("amount"); got != teaTotal {
		t.Errorf("total shown = %q, want %q", got, teaTotal)
	}
	if got := b.text("merchant-name"); got != shopName {
		t.Errorf("store shown = %q, want %q", got, shopName)
	}
	b.screenshot("order")
	b.chooseBankTransfer(ocraBankCode, n.account)
	b.screenshot("bank-transfer")
	// Keyboard users reach the fields in reading order.
	b.run("focus the method", chromedp.Focus(chromedp.CSS("#m-bank")))
	var order []string
	for range 3 {
		b.run("tab", chromedp.KeyEvent("\t"))
		order = append(order, b.eval(`document.activeElement.id`))
	}
	if got, want := strings.Join(order, " "), "bank-select account-number method-submit"; got != want {
		t.Errorf("focus order after the bank transfer choice: %s, want %s", got, want)
	}
	b.run("continue", chromedp.Click(chromedp.CSS("#method-submit")))
	b.payOCRA(n.ocraKey)
	title, detail := b.waitResult()
	b.screenshot("approved")
	if title != "Payment approved" {
		t.Fatalf("result %q (%q), want Payment approved", title, detail)
	}
	if href := b.eval(`document.getElementById("return-link").href`); href != shopReturnURL {
		t.Errorf("back-to-store link = %q, want %q", href, shopReturnURL)
	}
	n.waitHook(t, p.ID, webhookTypeOK)
	if st, _ := n.status(t, p.ID); st != "approved" {
		t.Errorf("merchant sees %s, want approved", st)
	}
	b.checkConsole()
}

func TestCardPasskey(t *testing.T) {
	n := newNetwork(t)
	p := n.create(t, "TEA-2002", teaOrder, time.Now().Add(10*time.Minute))
	b := newBrowser(t, "en-US,en;q=0.9")

	// Chromium's virtual authenticator plays the phone's platform
	// authenticator: resident keys, user verification that succeeds.
	if _, err := chromedp.Call(b.ctx, webauthn.Enable, webauthn.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	auth, err := chromedp.Call(b.ctx, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{Options: &webauthn.VirtualAuthenticatorOptions{
		Protocol: webauthn.AuthenticatorProtocolCtap2, Ctap2version: webauthn.Ctap2versionCtap21, Transport: webauthn.AuthenticatorTransportInternal,
		HasResidentKey: true, HasUserVerification: true, IsUserVerified: true, AutomaticPresenceSimulation: true}})
	if err != nil {
		t.Fatal(err)
	}

	b.open(n.pageURL(p.PayToken))
	b.run("choose card", chromedp.Click(chromedp.CSS("#m-card")))
	// A mistyped card number gets a plain-words error and goes nowhere.
	bad := n.passkeyPAN[:len(n.passkeyPAN)-1] + fmt.Sprint((int(n.passkeyPAN[len(n.passkeyPAN)-1]-'0')+1)%10)
	b.run("type a wrong card number",
		chromedp.SendKeys(chromedp.CSS("#card-number"), bad),
		chromedp.SendKeys(chromedp.CSS("#card-expiry"), "1239"),
		chromedp.Click(chromedp.CSS("#method-submit")))
	b.waitFor("card number error", visible("method-error"))
	if got := b.text("method-error"); got != "Please check the card number." {
		t.Errorf("card number error = %q", got)
	}
	b.screenshot("card-number-error")
	b.run("retype the card number",
		chromedp.SetValue(chromedp.CSS("#card-number"), ""),
		chromedp.SendKeys(chromedp.CSS("#card-number"), n.passkeyPAN))
	b.screenshot("card")
	b.run("continue", chromedp.Click(chromedp.CSS("#method-submit")))
	b.waitFor("passkey step", visible("passkey")+` && document.getElementById("order-check").classList.contains("ok")`)
	b.screenshot("verify-passkey")

	// Enrolment needs the activation code alice's bank gave her: the card
	// number alone is not enough.
	en := page.Strings("en")
	b.run("set up a passkey without the code", chromedp.Click(chromedp.CSS("#passkey-enroll")))
	b.waitFor("activation code missing", visible("verify-error"))
	if got := b.text("verify-error"); got != en["err_enrollment_code_missing"] {
		t.Errorf("missing code error = %q", got)
	}
	if b.eval(`document.activeElement.id`) != "enrollment-code" || b.eval(`document.getElementById("enrollment-code").getAttribute("aria-invalid")`) != "true" {
		t.Error("the activation code field is not focused and marked invalid")
	}
	wrong := n.passkeyCode[:len(n.passkeyCode)-1] + "Z"
	b.run("type a wrong activation code",
		chromedp.SendKeys(chromedp.CSS("#enrollment-code"), wrong),
		chromedp.Click(chromedp.CSS("#passkey-enroll")))
	b.waitFor("activation code refused", visible("verify-error")+` && document.getElementById("verify-error").textContent === `+jsString(en["err_enrollment_code"])+
		` && !document.getElementById("passkey-enroll").disabled`)
	b.screenshot("activation-code-refused")
	if b.eval(`document.getElementById("verify-error").getAttribute("role")`) != "alert" ||
		b.eval(`document.getElementById("enrollment-code").getAttribute("aria-invalid")`) != "true" ||
		!strings.Contains(b.eval(`document.getElementById("enrollment-code").getAttribute("aria-describedby")`), "verify-error") {
		t.Error("the refused code is not announced and tied to its field")
	}
	creds, err := chromedp.Call(b.ctx, webauthn.GetCredentials, webauthn.GetCredentialsParams{AuthenticatorID: auth.AuthenticatorID})
	if err != nil || len(creds.Credentials) != 0 {
		t.Fatalf("a wrong activation code created a passkey: %+v %v", creds, err)
	}
	if st, _ := n.status(t, p.ID); st != "seller_authenticated" {
		t.Fatalf("after a wrong activation code the payment is %s", st)
	}

	b.eval(`document.getElementById("enrollment-code").value = ""`)
	b.run("type the right activation code",
		chromedp.SendKeys(chromedp.CSS("#enrollment-code"), n.passkeyCode),
		chromedp.Click(chromedp.CSS("#passkey-enroll")))
	b.waitFor("enrolment", `document.getElementById("passkey-enroll-form").hidden || (`+visible("verify-error")+
		` && document.getElementById("verify-error").textContent !== `+jsString(en["err_enrollment_code"])+`)`)
	if msg := b.text("verify-error"); b.eval(`String(document.getElementById("verify-error").hidden)`) == "false" {
		t.Fatalf("enrolment failed: %s", msg)
	}
	if b.value("enrollment-code") != "" {
		t.Error("the activation code stays in the page after enrolment")
	}
	creds, err = chromedp.Call(b.ctx, webauthn.GetCredentials, webauthn.GetCredentialsParams{AuthenticatorID: auth.AuthenticatorID})
	if err != nil || len(creds.Credentials) != 1 || creds.Credentials[0].RpID != "localhost" {
		t.Fatalf("virtual authenticator credentials: %+v %v", creds, err)
	}
	b.screenshot("enrolled")
	b.run("confirm with passkey", chromedp.Click(chromedp.CSS("#passkey-use")))
	title, detail := b.waitResult()
	b.screenshot("approved")
	if title != "Payment approved" {
		t.Fatalf("result %q (%q), want Payment approved", title, detail)
	}
	if got := b.text("passkey-bound"); got != "Your bank's request is bound to this order." {
		t.Errorf("binding check = %q", got)
	}
	creds, err = chromedp.Call(b.ctx, webauthn.GetCredentials, webauthn.GetCredentialsParams{AuthenticatorID: auth.AuthenticatorID})
	if err != nil || len(creds.Credentials) != 1 || creds.Credentials[0].SignCount < 1 {
		t.Errorf("the passkey did not sign: %+v %v", creds, err)
	}
	n.waitHook(t, p.ID, webhookTypeOK)
	if logs := n.logs.Bytes(); bytes.Contains(logs, []byte(n.passkeyCode)) || bytes.Contains(logs, []byte(wrong)) {
		t.Error("the daemon's log holds an activation code")
	}
	b.checkConsole()
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// TestOCRAWrongAnswer types answers the device did not give. A wrong
// answer leaves the payer another try with a fresh challenge, in plain
// words; the right answer then pays. Three wrong answers in one payment
// end it declined, and the shop hears of it.
func TestOCRAWrongAnswer(t *testing.T) {
	n := newNetwork(t)
	en := page.Strings("en")
	b := newBrowser(t, "en")

	wrong := func(first bool) {
		t.Helper()
		b.waitFor("OCRA step", visible("ocra")+` && document.getElementById("client-challenge").value !== ""`)
		before := b.value("client-challenge")
		b.run("ask the bank to prove itself", chromedp.Click(chromedp.CSS("#ocra-begin-submit")))
		b.waitFor("the bank's proof", visible("ocra-proof"))
		if first {
			// An empty answer is refused by the page itself, in words.
			b.run("confirm without an answer", chromedp.Click(chromedp.CSS("#ocra-finish-submit")))
			b.waitFor("answer error", visible("verify-error"))
			if got := b.text("verify-error"); got != en["err_answer"] {
				t.Errorf("empty answer error = %q", got)
			}
			b.screenshot("no-answer")
		}
		b.run("type a wrong answer", chromedp.SendKeys(chromedp.CSS("#client-response"), "00000000"),
			chromedp.Click(chromedp.CSS("#ocra-finish-submit")))
		b.waitFor("the decline", visible("verify-error")+` && document.getElementById("verify-error").textContent !== `+fmt.Sprintf("%q", en["err_answer"]))
		if got := b.text("verify-error"); got != en["decline_auth_failed"] && got != en["final_auth_failed"] {
			t.Errorf("wrong answer error = %q", got)
		}
		if first {
			b.waitFor("a fresh challenge", `document.getElementById("client-challenge").value !== "" && document.getElementById("client-challenge").value !== `+fmt.Sprintf("%q", before))
			b.screenshot("wrong-answer")
		}
	}

	// Wrong, then right: approved.
	p := n.create(t, "TEA-6006", teaOrder, time.Now().Add(10*time.Minute))
	b.open(n.pageURL(p.PayToken))
	b.chooseBankTransfer(ocraBankCode, n.account)
	b.run("continue", chromedp.Click(chromedp.CSS("#method-submit")))
	wrong(true)
	if visibleNow := b.eval(`String(` + visible("ocra-proof") + `)`); visibleNow != "false" {
		t.Error("the spent bank proof is still shown")
	}
	b.payOCRA(n.ocraKey)
	if title, detail := b.waitResult(); title != en["result_approved"] {
		t.Fatalf("after a wrong then a right answer: %q / %q", title, detail)
	}
	n.waitHook(t, p.ID, webhookTypeOK)

	// Three wrong answers: declined.
	p = n.create(t, "TEA-6007", teaOrder, time.Now().Add(10*time.Minute))
	b.open(n.pageURL(p.PayToken))
	b.chooseBankTransfer(ocraBankCode, n.account)
	b.run("continue", chromedp.Click(chromedp.CSS("#method-submit")))
	for i := range 3 {
		if i == 2 {
			b.run("ask the bank to prove itself", chromedp.Click(chromedp.CSS("#ocra-begin-submit")))
			b.waitFor("the bank's proof", visible("ocra-proof"))
			b.run("type a wrong answer", chromedp.SendKeys(chromedp.CSS("#client-response"), "00000000"),
				chromedp.Click(chromedp.CSS("#ocra-finish-submit")))
			break
		}
		wrong(false)
	}
	title, detail := b.waitResult()
	b.screenshot("declined")
	if title != en["result_declined"] || detail != en["final_auth_failed"] {
		t.Errorf("page shows %q / %q", title, detail)
	}
	if st, code := n.status(t, p.ID); st != "declined" || code != "auth_failed" {
		t.Errorf("payment is %s (%s), want declined (auth_failed)", st, code)
	}
	n.waitHook(t, p.ID, "payment.declined")
	b.checkConsole()
}

// TestDynamicLinking changes the stored amount of a payment behind the
// open page's back: after step B (the acquirer attested the order
// digest) the daemon is stopped, the amount in its bbolt file is raised,
// and the daemon is started again on the same address. The page, still
// showing the order the payer agreed to, starts step C; the switch finds
// that the acquirer's attestation no longer covers the stored order, so
// the payment fails before the issuer is asked, and nothing is debited.
//
// A second payment, tampered with the same way, is then opened afresh: the
// page recomputes the order digest from the order it now shows, finds that
// it is not the digest the acquirer attested, warns the payer and offers
// no way on.
func TestDynamicLinking(t *testing.T) {
	n := newNetwork(t)
	b := newBrowser(t, "en")
	toStepC := func(p payment) {
		t.Helper()
		b.open(n.pageURL(p.PayToken))
		b.chooseBankTransfer(ocraBankCode, n.account)
		b.run("continue", chromedp.Click(chromedp.CSS("#method-submit")))
		b.waitFor("OCRA step", visible("ocra")+` && document.getElementById("order-check").classList.contains("ok")`)
	}
	other := n.create(t, "TEA-3004", teaOrder, time.Now().Add(10*time.Minute))
	toStepC(other)
	p := n.create(t, "TEA-3003", teaOrder, time.Now().Add(10*time.Minute))
	toStepC(p)
	b.screenshot("verify")

	n.stop(t)
	n.tamperAmount(t, p.ID, 439000)
	n.tamperAmount(t, other.ID, 439000)
	n.start(t)

	b.run("ask the bank to prove itself", chromedp.Click(chromedp.CSS("#ocra-begin-submit")))
	title, detail := b.waitResult()
	b.screenshot("stopped")
	if title != "The payment could not be completed" || !strings.Contains(detail, "Nothing was charged") {
		t.Errorf("page shows %q / %q, want a failure saying nothing was charged", title, detail)
	}
	if b.eval(`String(`+visible("ocra-proof")+`)`) == "true" {
		t.Error("the page shows a bank proof for a tampered order")
	}
	if st, code := n.status(t, p.ID); st != "failed" || code != "attestation_invalid" {
		t.Errorf("payment is %s (%s), want failed (attestation_invalid)", st, code)
	}
	// The payer cannot go on through the API either.
	if st, body := n.do(t, "POST", "/v1/pay/"+p.PayToken+"/auth/begin", "", map[string]string{"client_challenge": "12345678"}); st != http.StatusConflict {
		t.Errorf("auth/begin after the failure: %d %s, want 409", st, body)
	}

	b.open(n.pageURL(other.PayToken))
	b.waitFor("the order check", visible("order-check")+` && document.getElementById("order-check").className !== "check"`)
	b.screenshot("mismatch-warning")
	if got := b.text("order-check"); got != page.Strings("en")["order_check_bad"] {
		t.Errorf("order check on a tampered order = %q", got)
	}
	if b.eval(`String(document.getElementById("ocra-begin-submit").disabled)`) != "true" {
		t.Error("the page lets the payer go on with an order that does not match its fingerprint")
	}
	b.checkConsole()

	n.stop(t)
	// No money moved: the payer's account holds its opening balance and
	// every other account at both banks (clearing, the shop's) but the
	// opening-balance seed is at 0.
	issuer, acquirer := n.balances(t, "banktransfer", "bank_o"), n.balances(t, "banktransfer", "acq")
	if got := issuer["acct:"+n.account]; got != aliceBalance {
		t.Errorf("payer's balance %d, want %d untouched", got, aliceBalance)
	}
	for name, ledger := range map[string]map[string]int64{"issuer": issuer, "acquirer": acquirer} {
		for acct, bal := range ledger {
			if acct != "acct:"+n.account && !strings.HasPrefix(acct, "seed:") && bal != 0 {
				t.Errorf("%s ledger: %s holds %d, want 0", name, acct, bal)
			}
		}
	}
	if _, ok := acquirer["acct:"+n.settlement]; !ok {
		t.Errorf("acquirer ledger has no shop account: %v", acquirer)
	}
}

// TestExpiredPayment keeps the page open while the payment runs out of
// time: the page turns to "expired" by itself, a fresh load shows the
// same, and the API refuses to go on.
func TestExpiredPayment(t *testing.T) {
	n := newNetwork(t)
	en := page.Strings("en")
	b := newBrowser(t, "en")
	// Long enough to open the page and pick a method on a loaded CI
	// machine, short enough to keep the test quick.
	p := n.create(t, "TEA-4004", teaOrder, time.Now().Add(6*time.Second))
	b.open(n.pageURL(p.PayToken))
	b.waitFor("method choice", visible("method"))
	b.chooseBankTransfer(ocraBankCode, n.account)
	b.screenshot("before-expiry")

	title, detail := b.waitResult()
	b.screenshot("expired-while-open")
	if title != en["result_expired"] || detail != en["result_expired_detail"] {
		t.Errorf("open page shows %q / %q", title, detail)
	}
	if b.eval(`String(`+visible("method")+` || `+visible("verify")+`)`) != "false" {
		t.Error("an expired payment still offers a way to pay")
	}

	deadline := time.Now().Add(15 * time.Second)
	for {
		st, _ := n.status(t, p.ID)
		if st == "expired" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("payment still %s after its expiry", st)
		}
		time.Sleep(100 * time.Millisecond)
	}
	b.open(n.pageURL(p.PayToken))
	title, detail = b.waitResult()
	b.screenshot("expired")
	if title != en["result_expired"] || !strings.Contains(detail, "Nothing was charged") {
		t.Errorf("reloaded page shows %q / %q", title, detail)
	}
	if b.eval(`String(`+visible("method")+` || `+visible("verify")+` || `+visible("countdown")+`)`) != "false" {
		t.Error("an expired payment still offers a way to pay, or a countdown")
	}
	st, body := n.do(t, "POST", "/v1/pay/"+p.PayToken+"/method",
		"", map[string]any{"method": "bank_transfer", "account": map[string]string{"bank_code": ocraBankCode, "account_number": n.account}})
	if st != http.StatusGone && st != http.StatusConflict {
		t.Errorf("choosing a method on an expired payment: %d %s", st, body)
	}
	b.checkConsole()
}

// TestKoreanAndNotFound checks the page's language follows Accept-Language
// and that a bad link gets a plain sentence.
func TestKoreanAndNotFound(t *testing.T) {
	n := newNetwork(t)
	p := n.create(t, "TEA-5005", teaOrder, time.Now().Add(10*time.Minute))
	b := newBrowser(t, "ko-KR,ko;q=0.9,en;q=0.5")
	// The narrowest phone we design for; Korean runs wider than English.
	b.run("narrow phone", chromedp.EmulateViewport(360, 740, chromedp.EmulateScale(2), chromedp.EmulateMobile, chromedp.EmulateTouch, chromedp.EmulatePortrait))
	b.open(n.pageURL(p.PayToken))
	b.waitFor("method choice", visible("method"))
	if got := b.text("method-title"); got != page.Strings("ko")["choose_method"] {
		t.Errorf("method title = %q, want Korean", got)
	}
	if lang := b.eval(`document.documentElement.lang`); lang != "ko" {
		t.Errorf("html lang = %q", lang)
	}
	b.chooseBankTransfer(ocraBankCode, n.account)
	b.screenshot("order-ko")

	b.open(n.pageURL("no-such-payment-token-at-all"))
	b.waitFor("not found", visible("result"))
	if title, detail := b.text("result-title"), b.text("result-detail"); title != page.Strings("ko")["not_found_title"] || detail != page.Strings("ko")["not_found"] {
		t.Errorf("unknown link shows %q / %q", title, detail)
	}
	b.screenshot("not-found-ko")
	b.checkConsole()
}
