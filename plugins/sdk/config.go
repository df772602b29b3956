package sdk

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"

	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
)

// DecodeConfig decodes ConfigureRequest.config_json into v (a pointer to a
// struct with json tags). Unknown fields are an error; the host has already
// checked the block against the plugin's schema, so one only appears when
// schema and struct disagree.
func DecodeConfig(configJSON []byte, v any) error {
	if len(configJSON) == 0 {
		configJSON = []byte("{}")
	}
	dec := json.NewDecoder(bytes.NewReader(configJSON))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return InvalidArgument("config", "cannot decode: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return InvalidArgument("config", "cannot decode: trailing data after the JSON object")
	}
	return nil
}

// ErrorDiag returns an error diagnostic for the value at path.
func ErrorDiag(path []string, summary, detailFormat string, args ...any) *pb.Diagnostic {
	return &pb.Diagnostic{Severity: pb.Severity_SEVERITY_ERROR, Summary: summary, Detail: fmt.Sprintf(detailFormat, args...), Path: path}
}

// WarningDiag returns a warning diagnostic for the value at path.
func WarningDiag(path []string, summary, detailFormat string, args ...any) *pb.Diagnostic {
	return &pb.Diagnostic{Severity: pb.Severity_SEVERITY_WARNING, Summary: summary, Detail: fmt.Sprintf(detailFormat, args...), Path: path}
}

// HasErrors reports whether diags holds a SEVERITY_ERROR.
func HasErrors(diags []*pb.Diagnostic) bool {
	for _, d := range diags {
		if d.GetSeverity() == pb.Severity_SEVERITY_ERROR {
			return true
		}
	}
	return false
}

// Attr is a shorthand for building a schema attribute.
func Attr(name string, t pb.AttributeType, required bool, description string) *pb.Attribute {
	return &pb.Attribute{Name: name, Type: t, Required: required, Description: description}
}

// SensitiveAttr is Attr for a secret: it must come from env() or file().
func SensitiveAttr(name string, t pb.AttributeType, required bool, description string) *pb.Attribute {
	return &pb.Attribute{Name: name, Type: t, Required: required, Sensitive: true, Description: description}
}

// Decline codes used by the built-in plugins and understood by the payment
// page. A plugin may use others; the page shows a generic message for codes
// it does not know.
const (
	DeclineInsufficientFunds = "insufficient_funds"
	DeclineLimitExceeded     = "limit_exceeded"
	DeclineInvalidCard       = "invalid_card"
	DeclineCardExpired       = "card_expired"
	DeclineUnknownAccount    = "unknown_account"
	DeclineNotIssuedHere     = "not_issued_here"
	DeclineAuthFailed        = "auth_failed"
	DeclineLocked            = "locked"
	DeclineUnknownPayer      = "unknown_payer" // no credential enrolled for the payer yet
	DeclineReplay            = "replay"
	DeclineBadSignature      = "bad_signature"
	DeclineStaleSignature    = "stale_signature"
	DeclineUnknownKey        = "unknown_key"
	DeclineUnknownMerchant   = "unknown_merchant"
	DeclineCurrency          = "currency_not_supported"
	DeclineDoNotHonor        = "do_not_honor"
)
