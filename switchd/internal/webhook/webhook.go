// Package webhook signs and verifies webhooks the Standard Webhooks way
// (https://www.standardwebhooks.com), so that a seller can verify switchd's
// webhooks with any Standard Webhooks library.
//
// A request carries three headers:
//
//	webhook-id:        the message ID, the same on every retry (deduplicate on it)
//	webhook-timestamp: Unix seconds when this attempt was signed
//	webhook-signature: v1,<base64 HMAC-SHA256(key, id + "." + timestamp + "." + body)>
//
// The key is the base64 part of a secret of the form whsec_<base64>.
// webhook-signature may hold several space-separated signatures (during key
// rotation); a request is genuine if any v1 signature matches.
package webhook

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Header names.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// SecretPrefix starts every secret.
const SecretPrefix = "whsec_"

// DefaultTolerance is the clock skew Verify accepts when given zero.
const DefaultTolerance = 5 * time.Minute

// Key sizes the specification allows, in bytes.
const (
	minKeyLen = 24
	maxKeyLen = 64
)

// NewSecret returns a fresh random secret (32 bytes) in whsec_ form.
func NewSecret() (string, error) {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return "", fmt.Errorf("webhook: new secret: %w", err)
	}
	return SecretPrefix + base64.StdEncoding.EncodeToString(key), nil
}

// ParseSecret returns the key of a whsec_<base64> secret. The prefix may be
// left out, as Standard Webhooks libraries allow. The error never contains
// the secret.
func ParseSecret(secret string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, SecretPrefix))
	if err != nil {
		return nil, ErrSecretEncoding
	}
	if len(key) < minKeyLen || len(key) > maxKeyLen {
		return nil, fmt.Errorf("%w: key is %d bytes, want %d to %d", ErrSecretLength, len(key), minKeyLen, maxKeyLen)
	}
	return key, nil
}

// Signature returns "v1,<base64 HMAC>" for id, ts (whole seconds) and body.
func Signature(key []byte, id string, ts time.Time, body []byte) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id))
	mac.Write([]byte{'.'})
	mac.Write(strconv.AppendInt(nil, ts.Unix(), 10))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// Sign returns the three headers for delivering body as message id at ts.
func Sign(secret, id string, ts time.Time, body []byte) (http.Header, error) {
	if err := checkID(id); err != nil {
		return nil, err
	}
	key, err := ParseSecret(secret)
	if err != nil {
		return nil, fmt.Errorf("webhook: sign: %w", err)
	}
	h := http.Header{}
	h.Set(HeaderID, id)
	h.Set(HeaderTimestamp, strconv.FormatInt(ts.Unix(), 10))
	h.Set(HeaderSignature, Signature(key, id, ts, body))
	return h, nil
}

// checkID rejects IDs that cannot travel as one header token.
func checkID(id string) error {
	if id == "" {
		return fmt.Errorf("%w: empty", ErrInvalidID)
	}
	if len(id) > 256 {
		return fmt.Errorf("%w: longer than 256 bytes", ErrInvalidID)
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c <= ' ' || c >= 0x7f {
			return fmt.Errorf("%w: byte %d is not printable ASCII", ErrInvalidID, i)
		}
	}
	return nil
}

// Verify checks that headers carry a valid signature of body under secret
// and that webhook-timestamp is within tolerance of now (zero means
// DefaultTolerance). It returns nil or an error wrapping one of the
// package's sentinels; the error never contains the secret.
func Verify(secret string, headers http.Header, body []byte, tolerance time.Duration) error {
	return VerifyAt(secret, headers, body, tolerance, time.Now())
}

// VerifyAt is Verify with the current time given.
func VerifyAt(secret string, headers http.Header, body []byte, tolerance time.Duration, now time.Time) error {
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	key, err := ParseSecret(secret)
	if err != nil {
		return fmt.Errorf("webhook: verify: %w", err)
	}
	id, tsText, sigs := headers.Get(HeaderID), headers.Get(HeaderTimestamp), headers.Get(HeaderSignature)
	switch {
	case id == "":
		return fmt.Errorf("%w: %s", ErrMissingHeader, HeaderID)
	case tsText == "":
		return fmt.Errorf("%w: %s", ErrMissingHeader, HeaderTimestamp)
	case sigs == "":
		return fmt.Errorf("%w: %s", ErrMissingHeader, HeaderSignature)
	}
	secs, err := strconv.ParseInt(tsText, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: %s is not Unix seconds", ErrInvalidTimestamp, HeaderTimestamp)
	}
	ts := time.Unix(secs, 0)
	if now.Sub(ts) > tolerance {
		return fmt.Errorf("%w: signed %s before now", ErrTimestampTooOld, now.Sub(ts).Round(time.Second))
	}
	if ts.Sub(now) > tolerance {
		return fmt.Errorf("%w: signed %s after now", ErrTimestampTooNew, ts.Sub(now).Round(time.Second))
	}
	want := []byte(Signature(key, id, ts, body)[len("v1,"):])
	for sig := range strings.FieldsSeq(sigs) {
		version, value, ok := strings.Cut(sig, ",")
		if !ok || version != "v1" {
			continue
		}
		if hmac.Equal([]byte(value), want) {
			return nil
		}
	}
	return ErrNoMatchingSignature
}
