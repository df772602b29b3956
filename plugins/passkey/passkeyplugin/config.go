package passkeyplugin

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/switchd/switchd/plugins/internal/authkit"
	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
	"github.com/switchd/switchd/plugins/sdk"
)

// Defaults of optional settings.
const (
	DefaultMaxFailures      = 5
	DefaultChallengeTTL     = 300 * time.Second
	DefaultUserVerification = protocol.VerificationRequired
)

type config struct {
	RPID                string       `json:"rp_id"`
	RPDisplayName       string       `json:"rp_display_name"`
	RPOrigins           []string     `json:"rp_origins"`
	AttestationKey      string       `json:"attestation_key"`
	AttestationKeyID    string       `json:"attestation_key_id"`
	UserVerification    string       `json:"user_verification"`
	MaxFailures         *float64     `json:"max_failures"`
	ChallengeTTLSeconds *float64     `json:"challenge_ttl_seconds"`
	Payer               []payerBlock `json:"payer"`
}

type payerBlock struct {
	ID                   string `json:"id"`
	DisplayName          string `json:"display_name"`
	EnrollmentCodeSHA256 string `json:"enrollment_code_sha256"`

	codeHash []byte // decoded EnrollmentCodeSHA256; nil: the payer cannot enrol
}

func schema() *pb.Schema {
	return &pb.Schema{
		Attributes: append(authkit.KeyAttrs("issuer", "C"),
			sdk.Attr("rp_id", pb.AttributeType_ATTRIBUTE_TYPE_STRING, true,
				"the WebAuthn relying-party id: the host name of the switch's public URL, or a registrable suffix of it"),
			sdk.Attr("rp_display_name", pb.AttributeType_ATTRIBUTE_TYPE_STRING, true,
				"the issuer's name as the payer's authenticator shows it"),
			sdk.Attr("rp_origins", pb.AttributeType_ATTRIBUTE_TYPE_LIST_STRING, true,
				"the origins (scheme://host[:port]) the payment page is served from; must include the switch's public origin"),
			sdk.Attr("user_verification", pb.AttributeType_ATTRIBUTE_TYPE_STRING, false,
				`"required" (default), "preferred" or "discouraged": whether the authenticator must verify the payer (PIN, biometrics)`),
			sdk.Attr("max_failures", pb.AttributeType_ATTRIBUTE_TYPE_NUMBER, false,
				"failed assertions in a row after which the payer is locked (default 5)"),
			sdk.Attr("challenge_ttl_seconds", pb.AttributeType_ATTRIBUTE_TYPE_NUMBER, false,
				"how long an enrolment or step-C challenge can be answered, in seconds (default 300)"),
		),
		Blocks: []*pb.BlockType{{
			Name:        "payer",
			Labels:      []string{"id"},
			Description: "a payer allowed to enrol a passkey, by payer_ref",
			Body: &pb.Schema{Attributes: []*pb.Attribute{
				sdk.Attr("display_name", pb.AttributeType_ATTRIBUTE_TYPE_STRING, false,
					"the name the payer's authenticator shows for the passkey (default: the payer_ref)"),
				sdk.SensitiveAttr("enrollment_code_sha256", pb.AttributeType_ATTRIBUTE_TYPE_STRING, false,
					"SHA-256 (64 hex digits) of the activation code the issuer gave the payer out of band; without it the payer cannot enrol; use env() or file()"),
			}},
		}},
	}
}

// settings are one instance's decoded configuration.
type settings struct {
	wa          *webauthn.WebAuthn
	key         authkit.Key // attestation key
	uv          protocol.UserVerificationRequirement
	maxFailures int
	ttl         time.Duration
	payers      map[string]payerBlock
}

func (s *settings) String() string {
	return fmt.Sprintf("passkey settings (rp %s, %d payers)", s.wa.Config.RPID, len(s.payers))
}

// checkOrigin reports whether origin is scheme://host[:port] with a host
// that rpID covers: the same host, or a subdomain of it. Browsers refuse a
// WebAuthn call whose RP ID is not the page's host or a registrable suffix
// of it, so any other origin could never produce a valid credential.
func checkOrigin(origin, rpID string) error {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" || u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("%q %w: want scheme://host[:port] with no path", origin, ErrOrigin)
	}
	host := u.Hostname()
	if u.Scheme != "https" && !(u.Scheme == "http" && host == "localhost") {
		return fmt.Errorf("%q %w: browsers allow WebAuthn only on https (or http://localhost)", origin, ErrOrigin)
	}
	if host != rpID && !strings.HasSuffix(host, "."+rpID) {
		return fmt.Errorf("%q %w: its host %q is neither %q nor a subdomain of it", origin, ErrOrigin, host, rpID)
	}
	return nil
}

func parse(cfg *config) (*settings, []*pb.Diagnostic) {
	s := &settings{maxFailures: DefaultMaxFailures, ttl: DefaultChallengeTTL, uv: DefaultUserVerification, payers: map[string]payerBlock{}}
	var diags []*pb.Diagnostic
	s.key, diags = authkit.ParseKey(cfg.AttestationKey, cfg.AttestationKeyID, "issuer", ErrKeyEncoding, ErrKeySize)

	rpOK := true
	if cfg.RPID == "" {
		rpOK = false
		diags = append(diags, sdk.ErrorDiag([]string{"rp_id"}, "Missing relying-party id",
			"Set rp_id to the host name of the switch's public URL (e.g. \"pay.example.com\"), or a registrable suffix of it."))
	} else if err := protocol.ValidateRPID(cfg.RPID); err != nil || strings.ContainsAny(cfg.RPID, ":/") {
		rpOK = false
		diags = append(diags, sdk.ErrorDiag([]string{"rp_id"}, "Invalid relying-party id",
			"rp_id %q must be a bare host name, without scheme, port or path (e.g. \"pay.example.com\").", cfg.RPID))
	}
	if cfg.RPDisplayName == "" {
		diags = append(diags, sdk.ErrorDiag([]string{"rp_display_name"}, "Missing relying-party name",
			"Set rp_display_name to the issuer's name as payers know it."))
	}
	if len(cfg.RPOrigins) == 0 {
		diags = append(diags, sdk.ErrorDiag([]string{"rp_origins"}, "Missing origins",
			"Set rp_origins to the origins of the payment page, e.g. [\"https://pay.example.com\"] for a switch whose public URL is https://pay.example.com."))
	}
	origins := make([]string, 0, len(cfg.RPOrigins))
	for i, o := range cfg.RPOrigins {
		if !rpOK {
			break
		}
		if err := checkOrigin(o, cfg.RPID); err != nil {
			diags = append(diags, sdk.ErrorDiag([]string{"rp_origins", strconv.Itoa(i)}, "Invalid origin", "rp_origins[%d] %v.", i, err))
			continue
		}
		origins = append(origins, strings.TrimSuffix(o, "/"))
	}

	switch uv := protocol.UserVerificationRequirement(cfg.UserVerification); uv {
	case "":
	case protocol.VerificationRequired, protocol.VerificationPreferred, protocol.VerificationDiscouraged:
		s.uv = uv
	default:
		diags = append(diags, sdk.ErrorDiag([]string{"user_verification"}, "Invalid user_verification",
			"user_verification is %q; it must be \"required\", \"preferred\" or \"discouraged\".", cfg.UserVerification))
	}
	diags = append(diags, authkit.ParseLockout(cfg.MaxFailures, cfg.ChallengeTTLSeconds, &s.maxFailures, &s.ttl)...)
	for _, pbk := range cfg.Payer {
		if pbk.ID == "" {
			diags = append(diags, sdk.ErrorDiag([]string{"payer"}, "Missing payer reference", "Every payer block needs the payer_ref as label."))
			continue
		}
		if _, dup := s.payers[pbk.ID]; dup {
			diags = append(diags, sdk.ErrorDiag([]string{"payer", pbk.ID}, "Duplicate payer", "Payer %q is configured twice.", pbk.ID))
			continue
		}
		if pbk.EnrollmentCodeSHA256 != "" {
			h, err := hex.DecodeString(strings.TrimSpace(pbk.EnrollmentCodeSHA256))
			if err != nil || len(h) != sha256.Size {
				// The value is not echoed: it is sensitive.
				diags = append(diags, sdk.ErrorDiag([]string{"payer", pbk.ID, "enrollment_code_sha256"}, "Invalid enrollment_code_sha256",
					"enrollment_code_sha256 %v: it must be the SHA-256 of the activation code as 64 hex digits (printf %%s \"$CODE\" | sha256sum).", ErrCodeHash))
			}
			pbk.codeHash = h
		}
		s.payers[pbk.ID] = pbk
	}
	if sdk.HasErrors(diags) {
		return nil, diags
	}
	wa, err := webauthn.New(&webauthn.Config{
		RPID:                  cfg.RPID,
		RPDisplayName:         cfg.RPDisplayName,
		RPOrigins:             origins,
		AttestationPreference: protocol.PreferNoAttestation,
		AuthenticatorSelection: protocol.AuthenticatorSelection{
			ResidentKey:      protocol.ResidentKeyRequirementPreferred,
			UserVerification: s.uv,
		},
		// Browsers and password managers return extension outputs nobody
		// asked for (credProps is common); no extension is relied on here.
		ExtensionsUnsolicitedOutputPolicy: protocol.UnsolicitedOutputPolicyIgnore,
		Timeouts: webauthn.TimeoutsConfig{
			Login:        webauthn.TimeoutConfig{Timeout: s.ttl, TimeoutUVD: s.ttl},
			Registration: webauthn.TimeoutConfig{Timeout: s.ttl, TimeoutUVD: s.ttl},
		},
	})
	if err != nil {
		return nil, append(diags, sdk.ErrorDiag(nil, "Invalid WebAuthn settings", "%v", err))
	}
	s.wa = wa
	return s, diags
}
