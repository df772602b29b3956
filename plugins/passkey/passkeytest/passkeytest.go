// Package passkeytest is a software WebAuthn authenticator together with
// the part of the payment page (switchd/internal/page/assets/pay.js) that
// talks to it, for tests of the passkey plugin and of anything that runs
// step C through it.
//
// It is a real authenticator: an ECDSA P-256 key, authenticator data with
// the RP ID hash, flags and sign counter, "none" attestation in CBOR for
// enrolment, and an ASN.1 DER signature over authenticatorData ||
// SHA-256(clientDataJSON) for each assertion. Its output is exactly the
// JSON the payment page sends as payer_data: id, rawId, type and response
// {clientDataJSON, attestationObject | authenticatorData, signature,
// userHandle}, all base64url without padding.
//
// Like the payment page, Get refuses a step-C challenge that is not
// SHA-256("switchd-passkey-v1" || digest || nonce) for the digest the payer
// computed itself. It computes that binding on its own, independently of
// the plugin's code.
package passkeytest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"

	"github.com/go-webauthn/webauthn/protocol/webauthncbor"
)

// Errors returned by Create and Get.
var (
	// ErrUnbound is returned by Get when the issuer's challenge is not bound
	// to the payer's digest and the issuer's nonce.
	ErrUnbound = errors.New("passkeytest: the challenge is not bound to this order")
	// ErrNoCredential is returned by Get when the request allows no
	// credential of this authenticator, or it has none for the RP ID.
	ErrNoCredential = errors.New("passkeytest: no credential for this request")
	// ErrUnsupported is returned by Create when the options allow no ES256
	// key.
	ErrUnsupported = errors.New("passkeytest: the options do not allow ES256")
)

// Flags of the authenticator data (WebAuthn §6.1).
const (
	FlagUserPresent  = 0x01
	FlagUserVerified = 0x04
	FlagAttested     = 0x40
)

// tag starts the message whose SHA-256 is the step-C challenge.
const tag = "switchd-passkey-v1"

var b64 = base64.RawURLEncoding

// Authenticator is one software passkey. Its fields are exported so that
// tests can misbehave on purpose: roll the counter back, swap the key, drop
// user verification.
type Authenticator struct {
	// Origin is the page's origin written into clientDataJSON, e.g.
	// "https://pay.example.com".
	Origin string
	// Key is the credential's private key.
	Key *ecdsa.PrivateKey
	// CredentialID is the credential id.
	CredentialID []byte
	// RPID and UserHandle are set by Create from the creation options.
	RPID       string
	UserHandle []byte
	// SignCount is the signature counter; Get increments it before signing.
	SignCount uint32
	// NoCounter makes every assertion report a counter of 0, as synced
	// passkeys do; SignCount is then left alone.
	NoCounter bool
	// NoUserVerification clears the UV flag (a tap without PIN or
	// biometrics).
	NoUserVerification bool
	// ExtensionResults is what the page's getClientExtensionResults()
	// returns; nil sends {}.
	ExtensionResults map[string]any
}

// New returns an authenticator with a fresh P-256 key and credential id,
// used from a page at origin.
func New(origin string) (*Authenticator, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	id := make([]byte, 16)
	if _, err := rand.Read(id); err != nil {
		return nil, err
	}
	return &Authenticator{Origin: origin, Key: k, CredentialID: id}, nil
}

// Credential is the browser's PublicKeyCredential as the payment page
// serialises it (pay.js credJSON).
type Credential struct {
	ID       string   `json:"id"`
	RawID    string   `json:"rawId"`
	Type     string   `json:"type"`
	Response Response `json:"response"`
	// ClientExtensionResults is what getClientExtensionResults() returns.
	ClientExtensionResults map[string]any `json:"clientExtensionResults"`
}

// Response is the authenticator response: attestationObject for
// enrolment, authenticatorData, signature and userHandle for an assertion.
type Response struct {
	ClientDataJSON    string `json:"clientDataJSON"`
	AttestationObject string `json:"attestationObject,omitempty"`
	AuthenticatorData string `json:"authenticatorData,omitempty"`
	Signature         string `json:"signature,omitempty"`
	UserHandle        string `json:"userHandle,omitempty"`
}

type creationOptions struct {
	PublicKey struct {
		RP struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		} `json:"rp"`
		User struct {
			ID string `json:"id"`
		} `json:"user"`
		Challenge string `json:"challenge"`
		Params    []struct {
			Type string `json:"type"`
			Alg  int    `json:"alg"`
		} `json:"pubKeyCredParams"`
	} `json:"publicKey"`
}

type requestOptions struct {
	PublicKey struct {
		Challenge string `json:"challenge"`
		RPID      string `json:"rpId"`
		Allow     []struct {
			ID string `json:"id"`
		} `json:"allowCredentials"`
	} `json:"publicKey"`
	Nonce  string `json:"nonce"`
	Digest string `json:"digest"`
}

func (a *Authenticator) clientData(typ, challenge string) []byte {
	b, _ := json.Marshal(map[string]any{"type": typ, "challenge": challenge, "origin": a.Origin, "crossOrigin": false})
	return b
}

func (a *Authenticator) extensions() map[string]any {
	if a.ExtensionResults == nil {
		return map[string]any{}
	}
	return a.ExtensionResults
}

func (a *Authenticator) flags() byte {
	f := byte(FlagUserPresent)
	if !a.NoUserVerification {
		f |= FlagUserVerified
	}
	return f
}

func authData(rpID string, flags byte, count uint32, attested []byte) []byte {
	h := sha256.Sum256([]byte(rpID))
	out := append(h[:], flags)
	out = binary.BigEndian.AppendUint32(out, count)
	return append(out, attested...)
}

// Create plays navigator.credentials.create: from BeginEnrollment's
// challenge_data it returns FinishEnrollment's payer_data.
func (a *Authenticator) Create(challengeData []byte) ([]byte, error) {
	var o creationOptions
	if err := json.Unmarshal(challengeData, &o); err != nil {
		return nil, fmt.Errorf("passkeytest: creation options: %w", err)
	}
	pk := o.PublicKey
	es256 := false
	for _, p := range pk.Params {
		es256 = es256 || (p.Type == "public-key" && p.Alg == -7)
	}
	if !es256 {
		return nil, ErrUnsupported
	}
	uid, err := b64.DecodeString(pk.User.ID)
	if err != nil || len(uid) == 0 {
		return nil, fmt.Errorf("passkeytest: user.id is not base64url: %v", err)
	}
	if _, err := b64.DecodeString(pk.Challenge); err != nil || pk.Challenge == "" {
		return nil, fmt.Errorf("passkeytest: challenge is not base64url: %v", err)
	}
	rpID := pk.RP.ID
	if rpID == "" {
		u, err := url.Parse(a.Origin)
		if err != nil {
			return nil, err
		}
		rpID = u.Hostname()
	}
	pub, err := a.Key.PublicKey.ECDH()
	if err != nil {
		return nil, err
	}
	xy := pub.Bytes() // 0x04 || X || Y
	cose, err := webauthncbor.Marshal(map[int]any{1: 2, 3: -7, -1: 1, -2: xy[1:33], -3: xy[33:65]})
	if err != nil {
		return nil, err
	}
	attested := make([]byte, 16) // AAGUID: zero for "none" attestation
	attested = binary.BigEndian.AppendUint16(attested, uint16(len(a.CredentialID)))
	attested = append(attested, a.CredentialID...)
	attested = append(attested, cose...)
	ad := authData(rpID, a.flags()|FlagAttested, a.SignCount, attested)
	att, err := webauthncbor.Marshal(map[string]any{"fmt": "none", "attStmt": map[string]any{}, "authData": ad})
	if err != nil {
		return nil, err
	}
	a.RPID, a.UserHandle = rpID, uid
	return json.Marshal(Credential{
		ID: b64.EncodeToString(a.CredentialID), RawID: b64.EncodeToString(a.CredentialID), Type: "public-key",
		Response: Response{
			ClientDataJSON:    b64.EncodeToString(a.clientData("webauthn.create", pk.Challenge)),
			AttestationObject: b64.EncodeToString(att),
		},
		ClientExtensionResults: a.extensions(),
	})
}

// Bound reports whether challenge_data's challenge is SHA-256(tag ||
// digest || nonce) for digest, the check the payment page makes before it
// asks the authenticator.
func Bound(challengeData, digest []byte) bool {
	var o requestOptions
	if json.Unmarshal(challengeData, &o) != nil {
		return false
	}
	nonce, err := b64.DecodeString(o.Nonce)
	if err != nil || len(nonce) == 0 {
		return false
	}
	h := sha256.New()
	h.Write([]byte(tag))
	h.Write(digest)
	h.Write(nonce)
	return b64.EncodeToString(h.Sum(nil)) == o.PublicKey.Challenge
}

// Get plays the payment page and navigator.credentials.get: it refuses a
// challenge not bound to digest (ErrUnbound), then signs an assertion and
// returns FinishMutualAuth's payer_data.
func (a *Authenticator) Get(challengeData, digest []byte) ([]byte, error) {
	if !Bound(challengeData, digest) {
		return nil, ErrUnbound
	}
	var o requestOptions
	if err := json.Unmarshal(challengeData, &o); err != nil {
		return nil, fmt.Errorf("passkeytest: request options: %w", err)
	}
	rpID := o.PublicKey.RPID
	if rpID == "" {
		rpID = a.RPID
	}
	if rpID != a.RPID || a.RPID == "" {
		return nil, ErrNoCredential
	}
	if len(o.PublicKey.Allow) > 0 {
		ok := false
		for _, c := range o.PublicKey.Allow {
			id, err := b64.DecodeString(c.ID)
			ok = ok || (err == nil && bytes.Equal(id, a.CredentialID))
		}
		if !ok {
			return nil, ErrNoCredential
		}
	}
	return a.Sign(o.PublicKey.Challenge)
}

// Sign signs an assertion over challenge (base64url) for the RP ID from
// Create, without any binding check, as a careless or malicious page
// would. It returns FinishMutualAuth's payer_data.
func (a *Authenticator) Sign(challenge string) ([]byte, error) {
	if a.RPID == "" {
		return nil, ErrNoCredential
	}
	var count uint32
	if !a.NoCounter {
		a.SignCount++
		count = a.SignCount
	}
	ad := authData(a.RPID, a.flags(), count, nil)
	cd := a.clientData("webauthn.get", challenge)
	cdh := sha256.Sum256(cd)
	digest := sha256.Sum256(append(append([]byte(nil), ad...), cdh[:]...))
	sig, err := ecdsa.SignASN1(rand.Reader, a.Key, digest[:])
	if err != nil {
		return nil, err
	}
	return json.Marshal(Credential{
		ID: b64.EncodeToString(a.CredentialID), RawID: b64.EncodeToString(a.CredentialID), Type: "public-key",
		Response: Response{
			ClientDataJSON:    b64.EncodeToString(cd),
			AuthenticatorData: b64.EncodeToString(ad),
			Signature:         b64.EncodeToString(sig),
			UserHandle:        b64.EncodeToString(a.UserHandle),
		},
		ClientExtensionResults: a.extensions(),
	})
}
