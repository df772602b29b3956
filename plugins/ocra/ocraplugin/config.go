package ocraplugin

import (
	"encoding/hex"
	"fmt"
	"time"

	"github.com/switchd/switchd/plugins/internal/authkit"
	"github.com/switchd/switchd/plugins/ocra/rfc6287"
	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
	"github.com/switchd/switchd/plugins/sdk"
)

// DefaultSuite is the suite of a payer block without one. It is the suite
// of RFC 6287's own mutual test vectors (C.2), so RFC-conformant tokens can
// be used, and it fits the digest-bound mutual mode:
//   - Q only: freshness comes from the two one-time challenges, so no
//     counter (C) or clock (T) must be kept in step between a browser and
//     the issuer;
//   - QA08: an alphanumeric challenge carries about 40 bits per side (the
//     server's is base32), more than a numeric one (about 27 bits), which
//     matters because Q_S is what binds the answer to the order digest;
//   - HOTP-SHA256-8: HMAC-SHA-256 truncated to 8 digits, so a guess succeeds
//     with probability 1e-8, and only max_failures guesses are allowed.
const DefaultSuite = "OCRA-1:HOTP-SHA256-8:QA08"

// Defaults of optional settings.
const (
	DefaultMaxFailures  = 5
	DefaultChallengeTTL = 300 * time.Second
	minKeyBytes         = 16
)

type config struct {
	AttestationKey      string       `json:"attestation_key"`
	AttestationKeyID    string       `json:"attestation_key_id"`
	MaxFailures         *float64     `json:"max_failures"`
	ChallengeTTLSeconds *float64     `json:"challenge_ttl_seconds"`
	Payer               []payerBlock `json:"payer"`
}

type payerBlock struct {
	ID    string `json:"id"`
	Key   string `json:"key"`
	Suite string `json:"suite"`
}

func schema() *pb.Schema {
	return &pb.Schema{
		Attributes: append(authkit.KeyAttrs("issuer", "C"),
			sdk.Attr("max_failures", pb.AttributeType_ATTRIBUTE_TYPE_NUMBER, false,
				"wrong answers in a row after which the payer's credential is locked (default 5)"),
			sdk.Attr("challenge_ttl_seconds", pb.AttributeType_ATTRIBUTE_TYPE_NUMBER, false,
				"how long a challenge from BeginMutualAuth can be answered, in seconds (default 300)"),
		),
		Blocks: []*pb.BlockType{{
			Name:        "payer",
			Labels:      []string{"id"},
			Description: "a payer's OCRA credential, by payer_ref",
			Body: &pb.Schema{Attributes: []*pb.Attribute{
				sdk.SensitiveAttr("key", pb.AttributeType_ATTRIBUTE_TYPE_STRING, true,
					"the payer's OCRA key, hex, at least 16 bytes (32 for SHA256 suites is usual); use env() or file()"),
				sdk.Attr("suite", pb.AttributeType_ATTRIBUTE_TYPE_STRING, false,
					"the OCRA suite, default "+DefaultSuite+"; only Q data input (no C, P, S or T)"),
			}},
		}},
	}
}

type payer struct {
	key   []byte
	suite *rfc6287.Suite
}

// settings are one instance's decoded configuration.
type settings struct {
	key         authkit.Key // attestation key
	maxFailures int
	ttl         time.Duration
	payers      map[string]*payer
}

func (s *settings) String() string { return fmt.Sprintf("ocra settings (%d payers)", len(s.payers)) }

func parse(cfg *config) (*settings, []*pb.Diagnostic) {
	s := &settings{maxFailures: DefaultMaxFailures, ttl: DefaultChallengeTTL, payers: map[string]*payer{}}
	var diags []*pb.Diagnostic
	s.key, diags = authkit.ParseKey(cfg.AttestationKey, cfg.AttestationKeyID, "issuer", ErrKeyEncoding, ErrKeySize)
	diags = append(diags, authkit.ParseLockout(cfg.MaxFailures, cfg.ChallengeTTLSeconds, &s.maxFailures, &s.ttl)...)
	for _, pbk := range cfg.Payer {
		path := []string{"payer", pbk.ID}
		if pbk.ID == "" {
			diags = append(diags, sdk.ErrorDiag(path[:1], "Missing payer reference", "Every payer block needs the payer_ref as label."))
			continue
		}
		if _, dup := s.payers[pbk.ID]; dup {
			diags = append(diags, sdk.ErrorDiag(path, "Duplicate payer", "Payer %q is configured twice.", pbk.ID))
			continue
		}
		s.payers[pbk.ID] = nil
		raw := pbk.Suite
		if raw == "" {
			raw = DefaultSuite
		}
		suite, err := rfc6287.ParseSuite(raw)
		if err == nil {
			err = suite.CheckMutual()
		}
		if err != nil {
			diags = append(diags, sdk.ErrorDiag(append(path, "suite"), "Unsupported OCRA suite", "%v", err))
		}
		key, err := hex.DecodeString(pbk.Key)
		switch {
		case err != nil:
			diags = append(diags, sdk.ErrorDiag(append(path, "key"), "Invalid OCRA key", "key %v; it must be hex.", ErrKeyEncoding))
		case len(key) < minKeyBytes:
			diags = append(diags, sdk.ErrorDiag(append(path, "key"), "OCRA key too short",
				"key is %d bytes; it must be at least %d bytes (RFC 4226 section 4).", len(key), minKeyBytes))
		case suite != nil && suite.CheckMutual() == nil:
			s.payers[pbk.ID] = &payer{key: key, suite: suite}
		}
	}
	return s, diags
}
