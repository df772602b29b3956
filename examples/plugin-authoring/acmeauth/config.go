package acmeauth

import (
	"crypto/ed25519"
	"encoding/hex"
	"fmt"
	"math"
	"time"

	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
	"github.com/switchd/switchd/plugins/sdk"
)

// config is the institution's authenticator block as the host sends it
// (ConfigureRequest.config_json): attributes as JSON values, each nested
// block type an array of objects with the label as a field.
type config struct {
	AttestationKey      string   `json:"attestation_key"`
	AttestationKeyID    string   `json:"attestation_key_id"`
	ChallengeTTLSeconds *float64 `json:"challenge_ttl_seconds"`
	Payer               []struct {
		ID  string `json:"id"`
		Key string `json:"key"`
	} `json:"payer"`
}

// schema is the HCL block the bank writes. The host checks the block
// against it (unknown attributes, types, required, secrets only from env()
// or file()) and reports problems at file:line before Configure.
func schema() *pb.Schema {
	return &pb.Schema{
		Attributes: []*pb.Attribute{
			sdk.SensitiveAttr("attestation_key", pb.AttributeType_ATTRIBUTE_TYPE_STRING, true,
				"the bank's Ed25519 private key seed, 32 bytes as 64 hex digits, for step-C attestations; use env() or file()"),
			sdk.Attr("attestation_key_id", pb.AttributeType_ATTRIBUTE_TYPE_STRING, true,
				"the name the attestation key is published under"),
			sdk.Attr("challenge_ttl_seconds", pb.AttributeType_ATTRIBUTE_TYPE_NUMBER, false,
				"how long a challenge can be answered, 10 to 3600 seconds (default 300)"),
		},
		Blocks: []*pb.BlockType{{
			Name:        "payer",
			Labels:      []string{"id"},
			Description: "a payer's shared key, by payer_ref (the holder the method plugin returns)",
			Body: &pb.Schema{Attributes: []*pb.Attribute{
				sdk.SensitiveAttr("key", pb.AttributeType_ATTRIBUTE_TYPE_STRING, true,
					"the key shared with the payer's app, 32 to 64 bytes as hex; use env() or file()"),
			}},
		}},
	}
}

// settings are one instance's checked configuration.
type settings struct {
	priv   ed25519.PrivateKey
	keyID  string
	ttl    time.Duration
	payers map[string][]byte
}

// parse checks cfg and returns every problem at once, each with the path
// of the value it concerns and never the value itself.
func parse(cfg *config) (*settings, []*pb.Diagnostic) {
	var diags []*pb.Diagnostic
	s := &settings{keyID: cfg.AttestationKeyID, ttl: 5 * time.Minute, payers: map[string][]byte{}}
	if seed, err := hex.DecodeString(cfg.AttestationKey); err != nil || len(seed) != ed25519.SeedSize {
		diags = append(diags, sdk.ErrorDiag([]string{"attestation_key"}, "Invalid attestation key",
			"attestation_key must be a 32-byte Ed25519 seed written as 64 hex digits."))
	} else {
		s.priv = ed25519.NewKeyFromSeed(seed)
	}
	if cfg.AttestationKeyID == "" {
		diags = append(diags, sdk.ErrorDiag([]string{"attestation_key_id"}, "Missing attestation key id", "Name the attestation key."))
	}
	if t := cfg.ChallengeTTLSeconds; t != nil {
		if *t < 10 || *t > 3600 || *t != math.Trunc(*t) {
			diags = append(diags, sdk.ErrorDiag([]string{"challenge_ttl_seconds"}, "Invalid challenge lifetime",
				"challenge_ttl_seconds must be a whole number from 10 to 3600."))
		} else {
			s.ttl = time.Duration(*t) * time.Second
		}
	}
	for _, p := range cfg.Payer {
		path := []string{"payer", p.ID, "key"}
		if p.ID == "" {
			diags = append(diags, sdk.ErrorDiag([]string{"payer"}, "Payer without id", "Every payer block needs a label."))
			continue
		}
		if _, dup := s.payers[p.ID]; dup {
			diags = append(diags, sdk.ErrorDiag([]string{"payer", p.ID}, "Duplicate payer", "Payer %q is listed twice.", p.ID))
			continue
		}
		k, err := hex.DecodeString(p.Key)
		if err != nil || len(k) < 32 || len(k) > 64 {
			diags = append(diags, sdk.ErrorDiag(path, "Invalid payer key", "The key must be 32 to 64 bytes written as hex."))
			continue
		}
		s.payers[p.ID] = k
	}
	if len(cfg.Payer) == 0 {
		diags = append(diags, sdk.WarningDiag([]string{"payer"}, "No payers", "No payer can authenticate until a payer block is added."))
	}
	return s, diags
}

func (s *settings) String() string {
	return fmt.Sprintf("acmeauth settings (%d payers)", len(s.payers))
}
