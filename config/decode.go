package config

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/switchd/switchd/plugins/sdk"

	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
)

var institutionSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "display_name"},
		{Name: "roles", Required: true},
		{Name: "bank_code"},
		{Name: "bin_ranges"},
	},
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "authenticator", LabelNames: []string{"plugin"}},
		{Type: "method", LabelNames: []string{"method"}},
	},
}

var methodPluginSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "plugin"}},
}

var merchantSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "display_name"},
		{Name: "acquirer", Required: true},
		{Name: "api_key_sha256", Required: true},
		{Name: "settlement_account", Required: true},
		{Name: "webhook_url", Required: true},
		{Name: "webhook_secret", Required: true},
		{Name: "signing_key_id", Required: true},
		{Name: "return_url"},
	},
}

// methodNames maps a method block's label to its method.
var methodNames = map[string]pb.Method{
	"card":          pb.Method_METHOD_CARD,
	"bank_transfer": pb.Method_METHOD_BANK_TRANSFER,
}

// MethodName is the HCL name of a method ("card", "bank_transfer").
func MethodName(m pb.Method) string {
	for n, x := range methodNames {
		if x == m {
			return n
		}
	}
	return m.String()
}

var bankCodeRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9-]{0,34}$`)

// MinWebhookSecretBytes is the least number of random bytes a webhook
// secret must carry.
const MinWebhookSecretBytes = 24

// decoder holds the state of one Decode.
type decoder struct {
	infos   map[string]*pb.GetInfoResponse
	plugins map[string]*Plugin
	used    map[string]bool
	// unchecked lists plugin blocks whose bodies were not checked, because
	// no plugin schemas were given.
	unchecked []string
	diags     hcl.Diagnostics
	// Source ranges kept for cross-reference checks.
	acquirerRanges map[string]hcl.Range // merchant id -> range of acquirer value
	bankCodeRanges map[string]hcl.Range // institution id -> range of bank_code value
	binRangesRange map[string]hcl.Range // institution id -> range of bin_ranges
	caps           map[*PluginUse][]string
	// brokenAuth and brokenMethod mark institutions with an authenticator
	// or method block that failed to decode, so that the checks for a
	// missing authenticator or method do not pile on.
	brokenAuth, brokenMethod map[string]bool
}

// Decode decodes the institution and merchant blocks, checks every
// plugin-specific block against infos[plugin].ConfigSchema, and checks all
// cross references, reporting every problem at once. The Network is nil
// when there are errors.
//
// infos maps plugin names (as declared in plugin blocks) to the plugins'
// GetInfo answers. With a nil map the plugin-specific blocks cannot be
// checked: they are skipped, one warning lists them, and the PluginUse
// values have no ConfigJSON; such a Network is for reporting only, never
// for serving. With a non-nil map every declared plugin must be in it.
//
// Decode is pure: it reads the environment and files named by env() and
// file(), and changes nothing.
func (f *Files) Decode(infos map[string]*pb.GetInfoResponse) (*Network, hcl.Diagnostics) {
	d := &decoder{
		infos:          infos,
		plugins:        map[string]*Plugin{},
		used:           map[string]bool{},
		acquirerRanges: map[string]hcl.Range{},
		bankCodeRanges: map[string]hcl.Range{},
		binRangesRange: map[string]hcl.Range{},
		caps:           map[*PluginUse][]string{},
		brokenAuth:     map[string]bool{},
		brokenMethod:   map[string]bool{},
	}
	n := &Network{
		Plugins:      map[string]*Plugin{},
		Institutions: map[string]*Institution{},
		Merchants:    map[string]*Merchant{},
	}
	for _, p := range f.Plugins() {
		d.plugins[p.Name] = p
		n.Plugins[p.Name] = p
		if infos != nil && infos[p.Name] == nil {
			d.diags = d.diags.Append(errorAt(p.Range, "No schema for plugin",
				fmt.Sprintf("Plugin %q was not started, so its schema and kinds are unknown. Check that its binary exists and starts.", p.Name)))
		}
	}
	var instOrder []*Institution
	for _, rb := range f.institutions {
		inst := d.institution(rb)
		if inst == nil {
			continue
		}
		if prev, ok := n.Institutions[inst.ID]; ok {
			d.diags = d.diags.Append(duplicate("institution", inst.ID, rb.block.LabelRanges[0], prev.Range))
			continue
		}
		n.Institutions[inst.ID] = inst
		instOrder = append(instOrder, inst)
	}
	var merchOrder []*Merchant
	for _, rb := range f.merchants {
		m := d.merchant(rb)
		if m == nil {
			continue
		}
		if prev, ok := n.Merchants[m.ID]; ok {
			d.diags = d.diags.Append(duplicate("merchant", m.ID, rb.block.LabelRanges[0], prev.Range))
			continue
		}
		n.Merchants[m.ID] = m
		merchOrder = append(merchOrder, m)
	}
	d.crossCheck(n, instOrder, merchOrder)
	if len(d.unchecked) > 0 {
		d.diags = d.diags.Append(&hcl.Diagnostic{
			Severity: hcl.DiagWarning,
			Summary:  "Plugin settings not checked",
			Detail: "No plugin schemas were available, so these blocks were checked only for their plugin name, not for their settings: " +
				strings.Join(d.unchecked, "; ") + ". Give the plugins (validate --plugin-dir) to check them.",
		})
	}
	if d.diags.HasErrors() {
		return nil, d.diags
	}
	return n, d.diags
}

func (d *decoder) institution(rb *rawBlock) *Institution {
	b, ctx := rb.block, rb.ctx
	id := b.Labels[0]
	inst := &Institution{ID: id, DisplayName: id, Range: b.DefRange, Methods: map[pb.Method]*PluginUse{}}
	if !idRE.MatchString(id) {
		d.diags = d.diags.Append(errorAt(b.LabelRanges[0], "Invalid institution id",
			fmt.Sprintf("Institution id %q must be 1 to 64 letters, digits, '_' or '-', starting with a letter or digit.", id)))
	}
	content, diags := b.Body.Content(institutionSchema)
	d.diags = append(d.diags, diags...)

	var vd hcl.Diagnostics
	if a := content.Attributes["display_name"]; a != nil {
		inst.DisplayName, vd = stringAttr(a, ctx)
		d.diags = append(d.diags, vd...)
		if !vd.HasErrors() && strings.TrimSpace(inst.DisplayName) == "" {
			d.diags = d.diags.Append(attrError(a, "Empty display name", "display_name is shown to payers; give the institution's name, or leave it out to show the id."))
		}
	}
	if a := content.Attributes["roles"]; a != nil {
		roles, ranges, vd := stringListAttr(a, ctx)
		d.diags = append(d.diags, vd...)
		if !vd.HasErrors() && len(roles) == 0 {
			d.diags = d.diags.Append(attrError(a, "No roles", `Give at least one role: roles = ["issuer"], ["acquirer"] or ["issuer", "acquirer"].`))
		}
		for i, r := range roles {
			switch {
			case r != RoleIssuer && r != RoleAcquirer:
				d.diags = d.diags.Append(errorAt(ranges[i], "Unknown role",
					fmt.Sprintf("Role %q is not known; the roles are %q and %q.", r, RoleIssuer, RoleAcquirer)))
			case slices.Contains(inst.Roles, r):
				d.diags = d.diags.Append(errorAt(ranges[i], "Duplicate role", fmt.Sprintf("Role %q is listed twice.", r)))
			default:
				inst.Roles = append(inst.Roles, r)
			}
		}
	}
	if a := content.Attributes["bank_code"]; a != nil {
		inst.BankCode, vd = stringAttr(a, ctx)
		d.diags = append(d.diags, vd...)
		if !vd.HasErrors() {
			if !bankCodeRE.MatchString(inst.BankCode) {
				d.diags = d.diags.Append(attrError(a, "Invalid bank code",
					"bank_code must be 1 to 35 letters, digits or '-', starting with a letter or digit (e.g. \"0011\" or \"BANKDEFF\")."))
				inst.BankCode = ""
			} else {
				d.bankCodeRanges[id] = a.Expr.Range()
			}
		}
	}
	if a := content.Attributes["bin_ranges"]; a != nil {
		d.binRangesRange[id] = a.Expr.Range()
		strs, ranges, vd := stringListAttr(a, ctx)
		d.diags = append(d.diags, vd...)
		for i, s := range strs {
			r, err := ParseBINRange(s)
			if err != nil {
				d.diags = d.diags.Append(errorAt(ranges[i], "Malformed BIN range", err.Error()+`. Write "start-end" with two digit strings of equal length, e.g. "411111-411199".`))
				continue
			}
			r.Range = ranges[i]
			inst.BINRanges = append(inst.BINRanges, r)
		}
	}

	for _, blk := range content.Blocks {
		switch blk.Type {
		case "authenticator":
			name := blk.Labels[0]
			if slices.ContainsFunc(inst.Authenticators, func(u *PluginUse) bool { return u.Plugin == name }) {
				d.diags = d.diags.Append(errorAt(blk.LabelRanges[0], "Duplicate authenticator",
					fmt.Sprintf("Institution %q already uses authenticator %q.", id, name)))
				continue
			}
			use := d.pluginUse(name, blk.LabelRanges[0], blk, blk.Body, ctx, pb.Kind_KIND_AUTHENTICATOR, pb.Method_METHOD_UNSPECIFIED,
				describeUse("authenticator", name, id))
			if use != nil {
				inst.Authenticators = append(inst.Authenticators, use)
			} else {
				d.brokenAuth[id] = true
			}
		case "method":
			label := blk.Labels[0]
			m, ok := methodNames[label]
			if !ok {
				d.diags = d.diags.Append(errorAt(blk.LabelRanges[0], "Unknown payment method",
					fmt.Sprintf("Method %q is not known; the methods are \"card\" and \"bank_transfer\".", label)))
				continue
			}
			if _, dup := inst.Methods[m]; dup {
				d.diags = d.diags.Append(errorAt(blk.LabelRanges[0], "Duplicate method",
					fmt.Sprintf("Institution %q already has a %q method block.", id, label)))
				continue
			}
			pc, remain, pd := blk.Body.PartialContent(methodPluginSchema)
			d.diags = append(d.diags, pd...)
			a := pc.Attributes["plugin"]
			if a == nil {
				d.diags = d.diags.Append(errorAt(blk.DefRange, "Method without plugin",
					fmt.Sprintf("Method %q of institution %q names no plugin. Add plugin = \"NAME\" with a declared payment-method plugin.", label, id)))
				d.brokenMethod[id] = true
				continue
			}
			name, vd := stringAttr(a, ctx)
			d.diags = append(d.diags, vd...)
			if vd.HasErrors() {
				d.brokenMethod[id] = true
				continue
			}
			use := d.pluginUse(name, a.Expr.Range(), blk, remain, ctx, pb.Kind_KIND_PAYMENT_METHOD, m,
				describeUse("method", label, id))
			if use != nil {
				inst.Methods[m] = use
			} else {
				d.brokenMethod[id] = true
			}
		}
	}
	d.assignAuthenticators(inst)
	return inst
}

// pluginUse decodes an authenticator or method block against the schema of
// the plugin it names.
func (d *decoder) pluginUse(name string, nameRange hcl.Range, blk *hcl.Block, body hcl.Body, ctx *hcl.EvalContext,
	kind pb.Kind, method pb.Method, where string) *PluginUse {
	if _, ok := d.plugins[name]; !ok {
		declared := make([]string, 0, len(d.plugins))
		for n := range d.plugins {
			declared = append(declared, n)
		}
		sort.Strings(declared)
		detail := fmt.Sprintf("No plugin %q is declared. Add a plugin %q { path = \"...\" } block", name, name)
		if len(declared) > 0 {
			detail += ", or use one of the declared plugins: " + joinQuoted(declared)
		}
		d.diags = d.diags.Append(errorAt(nameRange, "Unknown plugin", detail+"."))
		return nil
	}
	d.used[name] = true
	use := &PluginUse{Plugin: name, Range: blk.DefRange, body: blk.Body}
	if d.infos == nil {
		d.unchecked = append(d.unchecked, fmt.Sprintf("%s (%s)", where, rangeString(blk.DefRange)))
		return use
	}
	info := d.infos[name]
	if info == nil {
		return nil // reported once, at the plugin block
	}
	if !slices.Contains(info.GetKinds(), kind) {
		what := "an authenticator"
		if kind == pb.Kind_KIND_PAYMENT_METHOD {
			what = "a payment method"
		}
		d.diags = d.diags.Append(errorAt(nameRange, "Plugin of the wrong kind",
			fmt.Sprintf("Plugin %q is used as %s in %s, but it does not serve that kind (it serves %s).", name, what, where, kindsString(info.GetKinds()))))
		return nil
	}
	if kind == pb.Kind_KIND_PAYMENT_METHOD && !slices.Contains(info.GetMethods(), method) {
		var ms []string
		for _, m := range info.GetMethods() {
			ms = append(ms, MethodName(m))
		}
		d.diags = d.diags.Append(errorAt(nameRange, "Plugin does not handle this method",
			fmt.Sprintf("Plugin %q is used for %s, but it handles only: %s.", name, where, joinQuoted(ms))))
		return nil
	}
	obj, diags := pluginBody(body, info.GetConfigSchema(), ctx, where)
	d.diags = append(d.diags, diags...)
	if diags.HasErrors() {
		return nil
	}
	js, err := json.Marshal(obj)
	if err != nil { // cannot happen: only strings, numbers, bools, lists and maps
		d.diags = d.diags.Append(errorAt(blk.DefRange, "Cannot encode plugin settings", err.Error()))
		return nil
	}
	use.ConfigJSON = js
	d.caps[use] = info.GetCapabilities()
	return use
}

// assignAuthenticators picks SellerAuth and PayerAuth by capability.
func (d *decoder) assignAuthenticators(inst *Institution) {
	if d.infos == nil {
		return
	}
	for _, u := range inst.Authenticators {
		if slices.Contains(d.caps[u], sdk.CapSellerAuth) && inst.HasRole(RoleAcquirer) {
			if inst.SellerAuth != nil {
				d.diags = d.diags.Append(errorAt(u.Range, "Two authenticators for step B",
					fmt.Sprintf("Institution %q already authenticates sellers with %q (%s); keep one authenticator with the %q capability.",
						inst.ID, inst.SellerAuth.Plugin, rangeString(inst.SellerAuth.Range), sdk.CapSellerAuth)))
			} else {
				inst.SellerAuth = u
			}
		}
		if slices.Contains(d.caps[u], sdk.CapMutualAuth) && inst.HasRole(RoleIssuer) {
			if inst.PayerAuth != nil {
				d.diags = d.diags.Append(errorAt(u.Range, "Two authenticators for step C",
					fmt.Sprintf("Institution %q already authenticates payers with %q (%s); keep one authenticator with the %q capability.",
						inst.ID, inst.PayerAuth.Plugin, rangeString(inst.PayerAuth.Range), sdk.CapMutualAuth)))
			} else {
				inst.PayerAuth = u
			}
		}
		if u != inst.SellerAuth && u != inst.PayerAuth {
			d.diags = d.diags.Append(warningAt(u.Range, "Authenticator not used",
				fmt.Sprintf("Institution %q (roles %s) has no step that %q serves: it is not used.", inst.ID, joinQuoted(inst.Roles), u.Plugin)))
		}
	}
}

func kindsString(ks []pb.Kind) string {
	var out []string
	for _, k := range ks {
		switch k {
		case pb.Kind_KIND_AUTHENTICATOR:
			out = append(out, "authenticator")
		case pb.Kind_KIND_PAYMENT_METHOD:
			out = append(out, "payment method")
		}
	}
	if len(out) == 0 {
		return "no known kind"
	}
	return strings.Join(out, ", ")
}

func (d *decoder) merchant(rb *rawBlock) *Merchant {
	b, ctx := rb.block, rb.ctx
	id := b.Labels[0]
	m := &Merchant{ID: id, Range: b.DefRange}
	if !idRE.MatchString(id) {
		d.diags = d.diags.Append(errorAt(b.LabelRanges[0], "Invalid merchant id",
			fmt.Sprintf("Merchant id %q must be 1 to 64 letters, digits, '_' or '-', starting with a letter or digit.", id)))
	}
	content, diags := b.Body.Content(merchantSchema)
	d.diags = append(d.diags, diags...)
	str := func(name string) (string, *hcl.Attribute) {
		a := content.Attributes[name]
		if a == nil {
			return "", nil
		}
		s, vd := stringAttr(a, ctx)
		d.diags = append(d.diags, vd...)
		if vd.HasErrors() {
			return "", nil
		}
		return s, a
	}
	nonEmpty := func(name, what string) (string, *hcl.Attribute) {
		s, a := str(name)
		if a != nil && strings.TrimSpace(s) == "" {
			d.diags = d.diags.Append(attrError(a, "Empty "+strings.ReplaceAll(name, "_", " "), name+" must not be empty: "+what))
			return "", nil
		}
		return s, a
	}
	if s, a := nonEmpty("display_name", "it is shown to payers on the payment page; leave it out to show the id."); a != nil {
		m.DisplayName = s
	} else {
		m.DisplayName = id
	}
	var a *hcl.Attribute
	if m.Acquirer, a = nonEmpty("acquirer", "give the id of the merchant's institution."); a != nil {
		d.acquirerRanges[id] = a.Expr.Range()
	}
	if s, a := str("api_key_sha256"); a != nil {
		s = strings.ToLower(s)
		if !sha256RE.MatchString(s) {
			d.diags = d.diags.Append(attrError(a, "Invalid API key hash",
				"api_key_sha256 must be the SHA-256 of the merchant's API key as 64 hex digits, e.g. from `printf %s \"$KEY\" | sha256sum`. Never put the key itself here."))
		} else {
			_, _ = hex.Decode(m.APIKeySHA256[:], []byte(s))
		}
	}
	m.SettlementAccount, _ = nonEmpty("settlement_account", "it is the account credited at the acquirer.")
	if s, a := str("webhook_url"); a != nil {
		if err := checkHTTPURL(s); err != nil {
			d.diags = d.diags.Append(attrError(a, "Invalid webhook URL", "webhook_url "+err.Error()+"."))
		} else {
			m.WebhookURL = s
		}
	}
	if s, a := str("webhook_secret"); a != nil {
		if err := checkWebhookSecret(s); err != nil {
			d.diags = d.diags.Append(&hcl.Diagnostic{
				Severity: hcl.DiagError, Summary: "Invalid webhook secret", Detail: "webhook_secret " + err.Error() + ".",
				Subject: a.Expr.Range().Ptr(), Context: a.Range.Ptr(), Extra: sensitiveInline{},
			})
		} else {
			m.WebhookSecret = s
			if !usesSecretFunc(a.Expr) {
				d.diags = d.diags.Append(&hcl.Diagnostic{
					Severity: hcl.DiagWarning, Summary: "Webhook secret written inline",
					Detail:  `The webhook secret is in the configuration in clear. Prefer webhook_secret = env("VARIABLE") or file("path").`,
					Subject: a.Expr.Range().Ptr(), Context: a.Range.Ptr(), Extra: sensitiveInline{},
				})
			}
		}
	}
	m.SigningKeyID, _ = nonEmpty("signing_key_id", "it names the merchant's order-signing key at the acquirer's authenticator.")
	if s, a := str("return_url"); a != nil && s != "" {
		if err := checkHTTPURL(s); err != nil {
			d.diags = d.diags.Append(attrError(a, "Invalid return URL", "return_url "+err.Error()+"."))
		} else {
			m.ReturnURL = s
		}
	}
	return m
}

// checkHTTPURL accepts an absolute http or https URL with a host.
func checkHTTPURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("is not a URL: %w", unwrapURLError(err))
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("must be an absolute http:// or https:// URL")
	}
	if u.Host == "" {
		return fmt.Errorf("must name a host, as in https://shop.example/hooks")
	}
	return nil
}

func unwrapURLError(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err
	}
	return err
}

// checkWebhookSecret accepts "whsec_" + base64 of at least
// MinWebhookSecretBytes bytes (the Standard Webhooks format). The error
// never contains the secret.
func checkWebhookSecret(s string) error {
	rest, ok := strings.CutPrefix(s, "whsec_")
	if !ok {
		return fmt.Errorf(`must start with "whsec_" followed by base64 (generate one with: printf 'whsec_%%s' "$(head -c 32 /dev/urandom | base64)")`)
	}
	raw, err := base64.StdEncoding.DecodeString(rest)
	if err != nil {
		return fmt.Errorf(`must be "whsec_" followed by standard base64, and the rest is not valid base64`)
	}
	if len(raw) < MinWebhookSecretBytes {
		return fmt.Errorf("must carry at least %d random bytes, it has %d", MinWebhookSecretBytes, len(raw))
	}
	return nil
}

// ParseBINRange parses "start-end" with two equal-length digit strings and
// start <= end.
func ParseBINRange(s string) (BINRange, error) {
	start, end, ok := strings.Cut(s, "-")
	if !ok {
		return BINRange{}, fmt.Errorf("%q has no '-'", s)
	}
	if start == "" || end == "" || !allDigits(start) || !allDigits(end) {
		return BINRange{}, fmt.Errorf("%q: both ends must be digits only", s)
	}
	if len(start) != len(end) {
		return BINRange{}, fmt.Errorf("%q: start and end have unequal lengths (%d and %d)", s, len(start), len(end))
	}
	if len(start) > 19 {
		return BINRange{}, fmt.Errorf("%q: longer than a card number", s)
	}
	if start > end {
		return BINRange{}, fmt.Errorf("%q: start is after end", s)
	}
	return BINRange{Start: start, End: end}, nil
}

func allDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// overlaps reports whether two ranges, possibly of different lengths, can
// both match one PAN.
func (r BINRange) overlaps(o BINRange) bool {
	n := max(len(r.Start), len(o.Start))
	pad := func(s string, c byte) string { return s + strings.Repeat(string(c), n-len(s)) }
	return pad(r.Start, '0') <= pad(o.End, '9') && pad(o.Start, '0') <= pad(r.End, '9')
}

// crossCheck runs the checks that span blocks.
func (d *decoder) crossCheck(n *Network, insts []*Institution, merchants []*Merchant) {
	anyMethod := map[pb.Method]bool{}
	for _, inst := range insts {
		issuer, acquirer := inst.HasRole(RoleIssuer), inst.HasRole(RoleAcquirer)
		if issuer {
			for m := range inst.Methods {
				anyMethod[m] = true
			}
		}
		if d.brokenAuth[inst.ID] {
			// Already reported at the broken block.
		} else if len(inst.Authenticators) == 0 && (issuer || acquirer) {
			d.diags = d.diags.Append(errorAt(inst.Range, "Institution without authenticator",
				fmt.Sprintf("Institution %q has no authenticator block; an issuer needs one that authenticates payers (step C), an acquirer one that authenticates sellers (step B).", inst.ID)))
		} else if d.infos != nil {
			if issuer && inst.PayerAuth == nil {
				d.diags = d.diags.Append(errorAt(inst.Range, "Issuer without payer authenticator",
					fmt.Sprintf("Issuer %q has no authenticator with the %q capability (e.g. ocra or passkey), so its payers cannot authenticate at step C.", inst.ID, sdk.CapMutualAuth)))
			}
			if acquirer && inst.SellerAuth == nil {
				d.diags = d.diags.Append(errorAt(inst.Range, "Acquirer without seller authenticator",
					fmt.Sprintf("Acquirer %q has no authenticator with the %q capability (e.g. merchantsig), so its sellers cannot be checked at step B.", inst.ID, sdk.CapSellerAuth)))
			}
		}
		if issuer && len(inst.Methods) == 0 && !d.brokenMethod[inst.ID] {
			d.diags = d.diags.Append(errorAt(inst.Range, "Issuer without payment method",
				fmt.Sprintf("Issuer %q offers no method; add a method \"card\" or method \"bank_transfer\" block.", inst.ID)))
		}
		if acquirer && !issuer && len(inst.Methods) == 0 && !d.brokenMethod[inst.ID] {
			d.diags = d.diags.Append(errorAt(inst.Range, "Acquirer without payment method",
				fmt.Sprintf("Acquirer %q has no method block, so it cannot credit its sellers at step D.", inst.ID)))
		}
		if len(inst.BINRanges) > 0 && !issuer {
			d.diags = d.diags.Append(errorAt(d.binRangesRange[inst.ID], "BIN ranges on a non-issuer",
				fmt.Sprintf("Institution %q has bin_ranges but not the %q role; cards are routed only to issuers.", inst.ID, RoleIssuer)))
		}
		if issuer && inst.Methods[pb.Method_METHOD_CARD] != nil && len(inst.BINRanges) == 0 {
			d.diags = d.diags.Append(errorAt(inst.Range, "Card issuer without BIN ranges",
				fmt.Sprintf("Issuer %q offers cards but has no bin_ranges, so no card can be routed to it.", inst.ID)))
		}
		if issuer && inst.Methods[pb.Method_METHOD_BANK_TRANSFER] != nil && inst.BankCode == "" {
			if _, bad := d.bankCodeRanges[inst.ID]; !bad {
				d.diags = d.diags.Append(errorAt(inst.Range, "Bank-transfer issuer without bank code",
					fmt.Sprintf("Issuer %q offers bank transfers but has no bank_code, so no transfer can be routed to it.", inst.ID)))
			}
		}
	}
	// Acquirers must be able to credit every method some issuer offers.
	for _, inst := range insts {
		if !inst.HasRole(RoleAcquirer) || len(inst.Methods) == 0 {
			continue
		}
		for _, m := range []pb.Method{pb.Method_METHOD_CARD, pb.Method_METHOD_BANK_TRANSFER} {
			if anyMethod[m] && inst.Methods[m] == nil {
				d.diags = d.diags.Append(warningAt(inst.Range, "Acquirer cannot credit a method",
					fmt.Sprintf("Some issuer offers %q but acquirer %q has no %q method, so such payments to its sellers will fail at step D.", MethodName(m), inst.ID, MethodName(m))))
			}
		}
	}
	// Bank codes are unique.
	byCode := map[string]*Institution{}
	for _, inst := range insts {
		if inst.BankCode == "" {
			continue
		}
		if prev, ok := byCode[inst.BankCode]; ok {
			d.diags = d.diags.Append(errorAt(d.bankCodeRanges[inst.ID], "Duplicate bank code",
				fmt.Sprintf("Bank code %q is already used by institution %q (%s); bank transfers could not be routed.", inst.BankCode, prev.ID, rangeString(d.bankCodeRanges[prev.ID]))))
			continue
		}
		byCode[inst.BankCode] = inst
	}
	// BIN ranges do not overlap between institutions.
	for i, a := range insts {
		for _, b := range insts[i+1:] {
			for _, ra := range a.BINRanges {
				for _, rb := range b.BINRanges {
					if ra.overlaps(rb) {
						d.diags = d.diags.Append(errorAt(rb.Range, "Overlapping BIN ranges",
							fmt.Sprintf("BIN range %s of %q overlaps %s of %q (%s); a card must route to exactly one issuer.", rb, b.ID, ra, a.ID, rangeString(ra.Range))))
					}
				}
			}
		}
		for j, ra := range a.BINRanges {
			for _, rb := range a.BINRanges[j+1:] {
				if ra.overlaps(rb) {
					d.diags = d.diags.Append(warningAt(rb.Range, "Overlapping BIN ranges",
						fmt.Sprintf("BIN range %s overlaps %s of the same institution (%s).", rb, ra, rangeString(ra.Range))))
				}
			}
		}
	}
	// Merchants: acquirer exists and is one; API keys are unique.
	byKey := map[[32]byte]*Merchant{}
	for _, m := range merchants {
		if m.Acquirer != "" {
			r := d.acquirerRanges[m.ID]
			inst, ok := n.Institutions[m.Acquirer]
			switch {
			case !ok:
				d.diags = d.diags.Append(errorAt(r, "Unknown acquirer",
					fmt.Sprintf("Merchant %q names acquirer %q, but no institution has that id.", m.ID, m.Acquirer)))
			case !inst.HasRole(RoleAcquirer):
				d.diags = d.diags.Append(errorAt(r, "Institution is not an acquirer",
					fmt.Sprintf("Merchant %q names %q as acquirer, but %q does not have the %q role (%s).", m.ID, m.Acquirer, m.Acquirer, RoleAcquirer, rangeString(inst.Range))))
			}
		}
		if m.APIKeySHA256 != ([32]byte{}) {
			if prev, ok := byKey[m.APIKeySHA256]; ok {
				d.diags = d.diags.Append(errorAt(m.Range, "Duplicate API key",
					fmt.Sprintf("Merchant %q has the same api_key_sha256 as merchant %q; each merchant needs its own key.", m.ID, prev.ID)))
			} else {
				byKey[m.APIKeySHA256] = m
			}
		}
	}
	// Plugins nobody uses.
	names := make([]string, 0, len(n.Plugins))
	for name := range n.Plugins {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if !d.used[name] {
			d.diags = d.diags.Append(warningAt(n.Plugins[name].Range, "Plugin not used",
				fmt.Sprintf("No institution uses plugin %q; it will still be launched.", name)))
		}
	}
}
