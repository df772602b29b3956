package authkit

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"

	"github.com/switchd/switchd/internal/edsig"
	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
	"github.com/switchd/switchd/plugins/sdk"
	"github.com/switchd/switchd/plugins/sdk/order"
)

// Key is an instance's attestation key: the Ed25519 key it signs its
// attestations with and the id under which the public key is published.
type Key struct {
	// ID is the attestation_key_id.
	ID string
	// Priv is the private key from the attestation_key seed; nil if the
	// seed was missing or invalid.
	Priv ed25519.PrivateKey
}

// Decode32 decodes 32 bytes given as 64 hex digits or as base64 (standard
// or URL alphabet, padded or not). It returns errEncoding if s is neither,
// and errSize if it does not decode to 32 bytes, so that the caller's
// diagnostics keep their own wording; neither error includes s.
func Decode32(s string, errEncoding, errSize error) ([]byte, error) {
	var b []byte
	var err error
	if len(s) == 64 {
		b, err = hex.DecodeString(s)
	} else {
		err = errEncoding
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
			if b, err = enc.DecodeString(s); err == nil {
				break
			}
		}
	}
	if err != nil {
		return nil, errEncoding
	}
	if len(b) != 32 {
		return nil, errSize
	}
	return b, nil
}

// KeyAttrs are the schema attributes ParseKey reads: the sensitive
// attestation_key seed and its attestation_key_id, both required. owner
// ("acquirer", "issuer") and step ("B", "C") name the institution and the
// step in their descriptions.
func KeyAttrs(owner, step string) []*pb.Attribute {
	return []*pb.Attribute{
		sdk.SensitiveAttr("attestation_key", pb.AttributeType_ATTRIBUTE_TYPE_STRING, true,
			"the "+owner+"'s Ed25519 private key seed (32 bytes, hex or base64) for step-"+step+" attestations; use env() or file()"),
		sdk.Attr("attestation_key_id", pb.AttributeType_ATTRIBUTE_TYPE_STRING, true,
			"the name under which the attestation key is published"),
	}
}

// ParseKey checks the sensitive attestation_key (an Ed25519 seed, see
// Decode32) and attestation_key_id attributes and returns the key with an
// error diagnostic for each problem, in that order. owner names the
// institution in the text for a missing seed ("acquirer", "issuer");
// errEncoding and errSize are passed to Decode32. The diagnostics never
// repeat the seed.
func ParseKey(seed, keyID, owner string, errEncoding, errSize error) (Key, []*pb.Diagnostic) {
	var diags []*pb.Diagnostic
	k := Key{ID: keyID}
	if seed == "" {
		diags = append(diags, sdk.ErrorDiag([]string{"attestation_key"}, "Missing attestation key",
			"Set attestation_key to the %s's 32-byte Ed25519 seed, from env() or file().", owner))
	} else if b, err := Decode32(seed, errEncoding, errSize); err != nil {
		diags = append(diags, sdk.ErrorDiag([]string{"attestation_key"}, "Invalid attestation key",
			"attestation_key %v; it must be a 32-byte Ed25519 seed in hex or base64.", err))
	} else {
		k.Priv = ed25519.NewKeyFromSeed(b)
	}
	if keyID == "" {
		diags = append(diags, sdk.ErrorDiag([]string{"attestation_key_id"}, "Missing attestation key id",
			"Set attestation_key_id to the name other parties use for this key."))
	}
	return k, diags
}

// Public returns the public key as Configure announces it to the host.
// k.Priv must be set.
func (k Key) Public() *pb.PublicKey {
	return &pb.PublicKey{KeyId: k.ID, Ed25519: k.Priv.Public().(ed25519.PublicKey)}
}

// Attest signs order.AttestationMessage(step, institutionID, digest): the
// institution's attestation that step passed for the order with that
// digest.
func (k Key) Attest(step, institutionID string, digest []byte) *pb.Attestation {
	return &pb.Attestation{
		InstitutionId: institutionID,
		KeyId:         k.ID,
		Step:          step,
		Signature:     edsig.Sign(k.Priv, order.AttestationMessage(step, institutionID, digest)),
	}
}
