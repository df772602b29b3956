package e2e

import (
	"encoding/hex"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/switchd/switchd/plugins/passkey/passkeytest"
)

// TestPasskeyAtoE onboards a passkey bank by reload, enrols the payer's
// passkey through a payment, and pays with it (WebAuthn assertion bound to
// the order digest), with a software authenticator playing the phone.
func TestPasskeyAtoE(t *testing.T) {
	e := setup(t)
	bp := newBank("bank_p", "Passkey Bank", "5005", "5444")
	e.n.writePasskeyBank(t, bp)
	if st, body := e.reload(t); st != http.StatusOK {
		t.Fatalf("reload: %d %s", st, body)
	}
	phone, err := passkeytest.New("https://pay.example")
	if err != nil {
		t.Fatal(err)
	}
	c := e.c
	st, cr, body, _ := c.create("shop", e.n.APIKey, createReq("shop", 2100, "pk-1", time.Now().Add(10*time.Minute), e.n.SellerKey), "")
	if st != http.StatusCreated {
		t.Fatalf("create: %d %s", st, body)
	}
	st, b, _ := c.payer(cr.PayToken, "/method", cardChoice(bp.PAN))
	var v view
	json.Unmarshal(b, &v)
	if st != http.StatusOK || v.Mechanism != "webauthn" {
		t.Fatalf("choose: %d %s", st, b)
	}
	// Enrol the passkey.
	st, b, _ = c.payer(cr.PayToken, "/enroll/begin", map[string]string{"enrollment_code": bp.EnrollCode})
	if st != http.StatusOK {
		t.Fatalf("enroll/begin: %d %s", st, b)
	}
	var ch struct {
		ChallengeData json.RawMessage `json:"challenge_data"`
		DigestHex     string          `json:"digest_hex"`
	}
	json.Unmarshal(b, &ch)
	cred, err := phone.Create(ch.ChallengeData)
	if err != nil {
		t.Fatal(err)
	}
	if st, b, _ = c.payer(cr.PayToken, "/enroll/finish", json.RawMessage(cred)); st/100 != 2 {
		t.Fatalf("enroll/finish: %d %s", st, b)
	}
	// Step C with the passkey, bound to the digest the page shows.
	st, b, _ = c.payer(cr.PayToken, "/auth/begin", json.RawMessage(`{}`))
	if st != http.StatusOK {
		t.Fatalf("auth/begin: %d %s", st, b)
	}
	json.Unmarshal(b, &ch)
	digest, _ := hex.DecodeString(ch.DigestHex)
	if digest == nil || hex.EncodeToString(digest) != v.DigestHex {
		t.Fatalf("digest %q, page showed %q", ch.DigestHex, v.DigestHex)
	}
	assertion, err := phone.Get(ch.ChallengeData, digest)
	if err != nil {
		t.Fatal(err)
	}
	state, code, err := c.finish(cr.PayToken, assertion)
	if err != nil || state != "approved" {
		t.Fatalf("finish: %s %s %v", state, code, err)
	}
	e.r.WaitFor(t, cr.ID, "payment.approved", hookWait)
}
