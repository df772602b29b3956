// Package config loads switchd's two kinds of configuration:
//
//   - the network, in HCL: which plugins exist (plugin blocks), which banks
//     take part and how (institution blocks), and which stores may call the
//     API (merchant blocks);
//   - the daemon's own settings (listen addresses, data dir, log level, ...)
//     through viper, from a settings file, SWITCHD_* environment variables
//     and flags.
//
// The types in this file are the decoded network model that the rest of the
// daemon uses. Loading is two-phase, because each plugin declares the schema
// of its own block: first the files are parsed and the plugin blocks decoded,
// then the host launches the plugins and asks for their schemas, then the
// institution and merchant blocks are decoded and checked against them.
package config

import (
	"crypto/sha256"
	"strings"

	"github.com/hashicorp/hcl/v2"

	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
)

// Role names an institution's role.
const (
	RoleIssuer   = "issuer"
	RoleAcquirer = "acquirer"
)

// Network is a fully decoded and validated network configuration.
type Network struct {
	// Plugins by name.
	Plugins map[string]*Plugin
	// Institutions by id.
	Institutions map[string]*Institution
	// Merchants by id.
	Merchants map[string]*Merchant
}

// Plugin is a `plugin "NAME" { path = ..., sha256 = ... }` block.
type Plugin struct {
	Name string
	// Path is the binary, resolved against the plugin dir when relative.
	Path string
	// SHA256 is the pinned digest (lower-case hex) from HCL, or "" when the
	// lock file pins it instead.
	SHA256 string
	Range  hcl.Range
}

// Institution is an `institution "ID" { ... }` block.
type Institution struct {
	ID          string
	DisplayName string
	Roles       []string
	BankCode    string
	BINRanges   []BINRange
	// SellerAuth is the authenticator used at step B when the institution
	// acts as acquirer: the `authenticator` block whose plugin lists the
	// "seller_auth" capability. Required for acquirers.
	SellerAuth *PluginUse
	// PayerAuth is the authenticator used at step C when the institution
	// acts as issuer: the `authenticator` block whose plugin lists the
	// "mutual_auth" capability. Required for issuers.
	PayerAuth *PluginUse
	// Authenticators lists every `authenticator` block in source order
	// (SellerAuth and PayerAuth point into it; one plugin may serve both).
	Authenticators []*PluginUse
	// Methods are the payment methods the institution offers, by method.
	Methods map[pb.Method]*PluginUse
	Range   hcl.Range
}

// HasRole reports whether the institution has role r.
func (i *Institution) HasRole(r string) bool {
	for _, x := range i.Roles {
		if x == r {
			return true
		}
	}
	return false
}

// PluginUse is one use of a plugin by an institution: an authenticator
// block or a method block, decoded against the plugin's own schema.
type PluginUse struct {
	// Plugin is the plugin's name.
	Plugin string
	// ConfigJSON is the block body as JSON, in the shape that
	// ConfigureRequest.config_json documents. Secrets are resolved.
	ConfigJSON []byte
	Range      hcl.Range

	// body is the block body as written, for locating the paths of the
	// plugin's own diagnostics (see PluginUse.Diagnostics).
	body hcl.Body
}

// BINRange is an inclusive range of card BINs given as two digit strings of
// equal length, e.g. "411111"-"411199". A PAN is in the range when its first
// len(Start) digits are between Start and End.
type BINRange struct {
	Start, End string
	Range      hcl.Range
}

// Contains reports whether pan starts with a BIN inside the range.
func (r BINRange) Contains(pan string) bool {
	n := len(r.Start)
	if len(pan) < n {
		return false
	}
	p := pan[:n]
	return strings.Compare(p, r.Start) >= 0 && strings.Compare(p, r.End) <= 0
}

// String renders the range as "start-end".
func (r BINRange) String() string { return r.Start + "-" + r.End }

// Merchant is a `merchant "ID" { ... }` block: a store allowed to call the
// API.
type Merchant struct {
	ID          string
	DisplayName string
	// Acquirer is the id of the merchant's institution (role acquirer).
	Acquirer string
	// APIKeySHA256 is SHA-256 of the merchant's API key. The key itself is
	// never in the configuration.
	APIKeySHA256 [sha256.Size]byte
	// SettlementAccount is the merchant's account at the acquirer, credited
	// at step D.
	SettlementAccount string
	// WebhookURL receives the signed webhooks of step E.
	WebhookURL string
	// WebhookSecret is the Standard Webhooks secret ("whsec_" + base64).
	WebhookSecret string
	// SigningKeyID names the merchant's order-signing key as registered with
	// the acquirer's authenticator.
	SigningKeyID string
	// ReturnURL is where the payment page sends the payer at the end, unless
	// the payment names its own.
	ReturnURL string
	Range     hcl.Range
}
