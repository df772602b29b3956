// Package order defines the canonical encoding of a switchd order and the
// SHA-256 digest that every proof in the flow is bound to (PSD2 RTS art. 5,
// "dynamic linking").
//
// Two encodings exist:
//
//   - The seller's terms (merchant, acquirer, amount, currency, order
//     reference, expiry) are fixed when the store creates the payment. The
//     store signs TermsDigest with its Ed25519 key (see SellerMessage).
//   - The full order adds what step A decides (the payment id, the issuer and
//     the method). Digest covers every field; the acquirer's attestation at
//     step B, the mutual authentication at step C and the payment at step D
//     all cover it.
//
// Both encodings are a fixed tag followed by netstrings ("<len>:<bytes>,") of
// field name and value, in a fixed order. Numbers are decimal ASCII without
// leading zeros. The encoding is trivial to reproduce in any language; see
// testdata for vectors.
package order

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"

	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
)

// Tags that start each encoding, so that a digest of one kind can never be
// mistaken for another.
const (
	termsTag       = "switchd-terms-v1"
	orderTag       = "switchd-order-v1"
	sellerSigTag   = "switchd-seller-sig-v1"
	attestationTag = "switchd-attest-v1"
)

// DigestSize is the size of a digest in bytes.
const DigestSize = sha256.Size

// ErrDigestMismatch is returned when a digest sent with an order is not the
// digest of that order.
var ErrDigestMismatch = errors.New("order: digest does not match the order")

// MethodName returns the canonical name of a payment method: "card" or
// "bank_transfer". It returns "" for an unknown method.
func MethodName(m pb.Method) string {
	switch m {
	case pb.Method_METHOD_CARD:
		return "card"
	case pb.Method_METHOD_BANK_TRANSFER:
		return "bank_transfer"
	}
	return ""
}

// ParseMethod is the inverse of MethodName.
func ParseMethod(s string) (pb.Method, bool) {
	switch s {
	case "card":
		return pb.Method_METHOD_CARD, true
	case "bank_transfer":
		return pb.Method_METHOD_BANK_TRANSFER, true
	}
	return pb.Method_METHOD_UNSPECIFIED, false
}

type encoder []byte

func (e encoder) field(name, value string) encoder {
	e = strconv.AppendInt(e, int64(len(name)), 10)
	e = append(e, ':')
	e = append(e, name...)
	e = append(e, ',')
	e = strconv.AppendInt(e, int64(len(value)), 10)
	e = append(e, ':')
	e = append(e, value...)
	return append(e, ',')
}

// CanonicalTerms returns the canonical encoding of the seller's terms of o.
func CanonicalTerms(o *pb.Order) []byte {
	e := encoder(make([]byte, 0, 160))
	e = append(e, termsTag...)
	e = e.field("merchant_id", o.GetMerchantId())
	e = e.field("acquirer_id", o.GetAcquirerId())
	e = e.field("amount_minor", strconv.FormatInt(o.GetAmountMinor(), 10))
	e = e.field("currency", o.GetCurrency())
	e = e.field("order_ref", o.GetOrderRef())
	e = e.field("expires_at", strconv.FormatInt(o.GetExpiresAtUnix(), 10))
	return e
}

// Canonical returns the canonical encoding of the full order o.
func Canonical(o *pb.Order) []byte {
	e := encoder(make([]byte, 0, 256))
	e = append(e, orderTag...)
	e = e.field("payment_id", o.GetPaymentId())
	e = e.field("merchant_id", o.GetMerchantId())
	e = e.field("acquirer_id", o.GetAcquirerId())
	e = e.field("issuer_id", o.GetIssuerId())
	e = e.field("amount_minor", strconv.FormatInt(o.GetAmountMinor(), 10))
	e = e.field("currency", o.GetCurrency())
	e = e.field("method", MethodName(o.GetMethod()))
	e = e.field("order_ref", o.GetOrderRef())
	e = e.field("expires_at", strconv.FormatInt(o.GetExpiresAtUnix(), 10))
	return e
}

// TermsDigest returns SHA-256 of CanonicalTerms(o).
func TermsDigest(o *pb.Order) [DigestSize]byte { return sha256.Sum256(CanonicalTerms(o)) }

// Digest returns SHA-256 of Canonical(o).
func Digest(o *pb.Order) [DigestSize]byte { return sha256.Sum256(Canonical(o)) }

// Verify reports ErrDigestMismatch unless digest is Digest(o).
func Verify(o *pb.Order, digest []byte) error {
	d := Digest(o)
	if len(digest) != DigestSize || string(d[:]) != string(digest) {
		return ErrDigestMismatch
	}
	return nil
}

// SellerMessage is the message a store signs with Ed25519 to authorise its
// terms: the tag, the terms digest and the signing time in Unix milliseconds
// (8 bytes, big endian).
func SellerMessage(termsDigest [DigestSize]byte, signedAtUnixMS int64) []byte {
	m := make([]byte, 0, len(sellerSigTag)+DigestSize+8)
	m = append(m, sellerSigTag...)
	m = append(m, termsDigest[:]...)
	return binary.BigEndian.AppendUint64(m, uint64(signedAtUnixMS))
}

// AttestationMessage is the message an institution signs with Ed25519 to
// attest an order digest at a step ("B", "C" or "D").
func AttestationMessage(step, institutionID string, digest []byte) []byte {
	e := encoder(make([]byte, 0, 96))
	e = append(e, attestationTag...)
	e = e.field("step", step)
	e = e.field("institution_id", institutionID)
	e = e.field("digest", string(digest))
	return e
}

// String renders a digest as lower-case hex, for logs and the payment page.
func String(d []byte) string { return fmt.Sprintf("%x", d) }
