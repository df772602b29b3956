package checkout

import (
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/switchd/switchd/plugins/passkey/passkeytest"
	"github.com/switchd/switchd/switchd/wallet"
)

// ocraAuth runs C's begin with the OCRA wallet and returns the answer for
// finish. The wallet refuses to answer unless the issuer proved it holds
// the key over this very digest.
func ocraAuth(ctx context.Context, c *client, pay string, p Payer, digest []byte) ([]byte, error) {
	if len(p.OCRAKey) == 0 {
		return nil, fmt.Errorf("%w: %s has no OCRA key", ErrNoCredential, p.Name)
	}
	w := &wallet.OCRA{Key: p.OCRAKey}
	w.Begin()
	var ch challenge
	if err := c.do(ctx, "POST", pay+"/auth/begin", "", json.RawMessage(w.BeginPayerData()), &ch); err != nil {
		return nil, fmt.Errorf("begin: %w", err)
	}
	if err := sameDigest(ch.DigestHex, digest); err != nil {
		return nil, err
	}
	answer, err := w.Answer(ch.ChallengeData, digest)
	if err != nil {
		return nil, fmt.Errorf("the wallet refused the issuer: %w", err)
	}
	return answer, nil
}

// passkeyAuth enrols the payer's passkey if the phone has none yet, runs
// C's begin and signs the assertion; it returns the answer for finish and
// whether it enrolled.
func passkeyAuth(ctx context.Context, c *client, pay string, p Payer, digest []byte) ([]byte, bool, error) {
	if p.Phone == nil {
		return nil, false, fmt.Errorf("%w: %s has no passkey phone", ErrNoCredential, p.Name)
	}
	a, err := p.Phone.load()
	if err != nil {
		return nil, false, err
	}
	enrolled := false
	if a == nil {
		if a, err = passkeytest.New(p.Phone.Origin); err != nil {
			return nil, false, err
		}
		if p.EnrollmentCode == "" {
			return nil, false, fmt.Errorf("%w: %s has no activation code to enrol a passkey with", ErrNoCredential, p.Name)
		}
		var ch challenge
		if err := c.do(ctx, "POST", pay+"/enroll/begin", "", map[string]string{"enrollment_code": p.EnrollmentCode}, &ch); err != nil {
			return nil, false, fmt.Errorf("enrol: %w (check %s's activation code; if %s enrolled a passkey before whose phone file %s is gone, start from a fresh data dir)", err, p.Name, p.Name, p.Phone.Path)
		}
		cred, err := a.Create(ch.ChallengeData)
		if err != nil {
			return nil, false, fmt.Errorf("enrol: the authenticator refused: %w", err)
		}
		if err := c.do(ctx, "POST", pay+"/enroll/finish", "", json.RawMessage(cred), nil); err != nil {
			return nil, false, fmt.Errorf("enrol: %w", err)
		}
		if err := p.Phone.save(a); err != nil {
			return nil, false, err
		}
		enrolled = true
	}
	var ch challenge
	if err := c.do(ctx, "POST", pay+"/auth/begin", "", json.RawMessage(`{}`), &ch); err != nil {
		return nil, enrolled, fmt.Errorf("begin: %w", err)
	}
	if err := sameDigest(ch.DigestHex, digest); err != nil {
		return nil, enrolled, err
	}
	// Get refuses a challenge that is not SHA-256(tag || digest || nonce)
	// for the digest the payer computed: the issuer's proof of the order.
	answer, err := a.Get(ch.ChallengeData, digest)
	if err != nil {
		return nil, enrolled, fmt.Errorf("the phone refused the issuer's challenge: %w", err)
	}
	// The counter moved: keep it, or the next payment looks like a clone.
	return answer, enrolled, p.Phone.save(a)
}

func sameDigest(got string, digest []byte) error {
	if got != hex.EncodeToString(digest) {
		return fmt.Errorf("%w: challenge for %q", ErrDigestMismatch, got)
	}
	return nil
}

// Phone is a software passkey kept in a file between runs (the key of a
// demo authenticator, never a real user's).
type Phone struct {
	// Path is the file; it is created on enrolment, mode 0600.
	Path string
	// Origin is the payment page's origin the phone reports, which must be
	// in the issuer's rp_origins (quickstart: http://localhost:8080).
	Origin string
}

type phoneFile struct {
	Origin       string `json:"origin"`
	PKCS8        []byte `json:"pkcs8"`
	CredentialID []byte `json:"credential_id"`
	RPID         string `json:"rp_id"`
	UserHandle   []byte `json:"user_handle"`
	SignCount    uint32 `json:"sign_count"`
}

// load returns the saved authenticator, or nil when there is none yet.
func (ph *Phone) load() (*passkeytest.Authenticator, error) {
	b, err := os.ReadFile(ph.Path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrPhone, err)
	}
	var f phoneFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrPhone, ph.Path, err)
	}
	k, err := x509.ParsePKCS8PrivateKey(f.PKCS8)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: key: %w", ErrPhone, ph.Path, err)
	}
	ek, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%w: %s: not an ECDSA key", ErrPhone, ph.Path)
	}
	return &passkeytest.Authenticator{Origin: ph.Origin, Key: ek, CredentialID: f.CredentialID, RPID: f.RPID,
		UserHandle: f.UserHandle, SignCount: f.SignCount}, nil
}

func (ph *Phone) save(a *passkeytest.Authenticator) error {
	der, err := x509.MarshalPKCS8PrivateKey(a.Key)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrPhone, err)
	}
	b, err := json.MarshalIndent(phoneFile{Origin: a.Origin, PKCS8: der, CredentialID: a.CredentialID, RPID: a.RPID,
		UserHandle: a.UserHandle, SignCount: a.SignCount}, "", "  ")
	if err != nil {
		return fmt.Errorf("%w: %w", ErrPhone, err)
	}
	if err := os.MkdirAll(filepath.Dir(ph.Path), 0o700); err != nil {
		return fmt.Errorf("%w: %w", ErrPhone, err)
	}
	tmp := ph.Path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("%w: %w", ErrPhone, err)
	}
	if err := os.Rename(tmp, ph.Path); err != nil {
		return fmt.Errorf("%w: %w", ErrPhone, err)
	}
	return nil
}
