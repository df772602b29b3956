package plugintest

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"google.golang.org/protobuf/proto"

	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
	"github.com/switchd/switchd/plugins/sdk"
)

var (
	nameRe    = regexp.MustCompile(`^[a-z0-9_-]+$`)
	versionRe = regexp.MustCompile(`^v?[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.+-]+)?$`)
)

func (e *env) checkInfo(t tb) {
	info := e.info
	if !nameRe.MatchString(info.GetName()) {
		t.Errorf("name %q: want lower case [a-z0-9_-]+", info.GetName())
	}
	if !versionRe.MatchString(info.GetVersion()) {
		t.Errorf("version %q: want a semantic version such as 1.2.0", info.GetVersion())
	}
	if len(info.GetKinds()) == 0 {
		t.Errorf("kinds is empty: a plugin serves at least one kind")
	}
	seen := map[pb.Kind]bool{}
	for _, k := range info.GetKinds() {
		if _, known := pb.Kind_name[int32(k)]; !known || k == pb.Kind_KIND_UNSPECIFIED {
			t.Errorf("kinds lists %v", k)
		}
		if seen[k] {
			t.Errorf("kinds lists %v twice", k)
		}
		seen[k] = true
	}
	if !slices.Contains(info.GetProtocolVersions(), uint32(sdk.ProtocolVersion)) {
		t.Errorf("protocol_versions %v does not contain %d", info.GetProtocolVersions(), sdk.ProtocolVersion)
	}
	if seen[pb.Kind_KIND_PAYMENT_METHOD] && len(info.GetMethods()) == 0 {
		t.Errorf("a payment method plugin lists no methods")
	}
	for _, m := range info.GetMethods() {
		if _, known := pb.Method_name[int32(m)]; !known || m == pb.Method_METHOD_UNSPECIFIED {
			t.Errorf("methods lists %v", m)
		}
	}
	if info.GetConfigSchema() == nil {
		t.Errorf("config_schema is missing; a plugin without settings sends an empty schema")
	}
}

func (e *env) checkSchema(t tb) {
	for _, err := range schemaErrors(e.info.GetConfigSchema(), "") {
		t.Errorf("config_schema: %v", err)
	}
}

// schemaErrors lists every problem of s, a block body at path.
func schemaErrors(s *pb.Schema, path string) []error {
	var errs []error
	names := map[string]bool{}
	add := func(kind, name string) {
		switch {
		case name == "":
			errs = append(errs, fmt.Errorf("%s%s with an empty name", path, kind))
		case !nameRe.MatchString(name):
			errs = append(errs, fmt.Errorf("%s%s %q: names are [a-z0-9_-]+", path, kind, name))
		case names[name]:
			errs = append(errs, fmt.Errorf("%s%s %q: name used twice", path, kind, name))
		}
		names[name] = true
	}
	for _, a := range s.GetAttributes() {
		add("attribute", a.GetName())
		if _, known := pb.AttributeType_name[int32(a.GetType())]; !known || a.GetType() == pb.AttributeType_ATTRIBUTE_TYPE_UNSPECIFIED {
			errs = append(errs, fmt.Errorf("%sattribute %q: type is not set", path, a.GetName()))
		}
	}
	for _, b := range s.GetBlocks() {
		add("block", b.GetName())
		if b.GetMaxItems() > 0 && b.GetMinItems() > b.GetMaxItems() {
			errs = append(errs, fmt.Errorf("%sblock %q: min_items %d > max_items %d", path, b.GetName(), b.GetMinItems(), b.GetMaxItems()))
		}
		labels := map[string]bool{}
		for _, l := range b.GetLabels() {
			if l == "" || labels[l] {
				errs = append(errs, fmt.Errorf("%sblock %q: label %q is empty or repeated", path, b.GetName(), l))
			}
			labels[l] = true
		}
		inner := path + b.GetName() + "."
		errs = append(errs, schemaErrors(b.GetBody(), inner)...)
		for _, a := range b.GetBody().GetAttributes() {
			if labels[a.GetName()] {
				errs = append(errs, fmt.Errorf("%sattribute %q: clashes with a label of the same name in the config JSON", inner, a.GetName()))
			}
		}
	}
	return errs
}

// checkInfoStable checks that GetInfo does not depend on configuration.
func (e *env) checkInfoStable(t tb) {
	ctx, cancel := callCtx()
	defer cancel()
	again, err := e.c.GetInfo(ctx, &pb.GetInfoRequest{})
	if err != nil {
		t.Fatalf("GetInfo after Configure: %v", err)
	}
	if !proto.Equal(again, e.info) {
		t.Errorf("GetInfo changed after Configure:\nbefore %v\nafter  %v", e.info, again)
	}
}

// checkUnconfigured checks the calls of each served kind against an
// instance that was never configured: they must be served (not
// Unimplemented) and refuse with FailedPrecondition.
func (e *env) checkUnconfigured(t tb) {
	ctx, cancel := callCtx()
	defer cancel()
	h, err := e.c.Health(ctx, &pb.HealthRequest{InstanceId: unconfiguredInstance})
	if err == nil && h.GetServing() {
		t.Errorf("Health of an unconfigured instance says serving")
	}
	o := e.newOrder("unconfigured")
	// strict calls are well-formed, so only failed_precondition fits; the
	// others carry placeholder payer data or tokens, so invalid_argument
	// is an acceptable answer too.
	type call struct {
		strict bool
		do     func() error
	}
	calls := map[string]call{}
	if e.hasKind[pb.Kind_KIND_PAYMENT_METHOD] {
		calls["Debit"] = call{false, func() error {
			_, err := e.c.Debit(ctx, &pb.DebitRequest{InstanceId: unconfiguredInstance, Order: o, OrderDigest: digest(o), Token: "plugintest"})
			return err
		}}
		calls["GetOperationStatus"] = call{true, func() error {
			_, err := e.c.GetOperationStatus(ctx, &pb.OperationStatusRequest{InstanceId: unconfiguredInstance, PaymentId: o.PaymentId, Operation: pb.Operation_OPERATION_DEBIT})
			return err
		}}
	}
	if e.hasKind[pb.Kind_KIND_AUTHENTICATOR] {
		calls["FinishMutualAuth"] = call{false, func() error {
			_, err := e.c.FinishMutualAuth(ctx, &pb.FinishMutualAuthRequest{InstanceId: unconfiguredInstance, Order: o, OrderDigest: digest(o), PayerRef: e.s.PayerRef})
			return err
		}}
	}
	for _, name := range slices.Sorted(maps.Keys(calls)) {
		c := calls[name]
		err := c.do()
		code := sdk.CodeOf(err)
		switch {
		case err == nil:
			t.Errorf("%s on an unconfigured instance succeeded; want failed_precondition", name)
		case errors.Is(err, sdk.ErrUnimplemented):
			t.Errorf("%s: %v; GetInfo lists the kind but the service is not served", name, err)
		case code == sdk.CodeFailedPrecondition, code == sdk.CodeInvalidArgument && !c.strict:
		default:
			t.Errorf("%s on an unconfigured instance: %v; want failed_precondition", name, err)
		}
	}
}

// checkConfigure checks that every bad config is refused and leaves the
// instance serving with its previous settings.
func (e *env) checkConfigure(t tb) {
	if len(e.s.BadConfigs) == 0 {
		t.Logf("no Suite.BadConfigs: nothing to check")
	}
	ctx, cancel := callCtx()
	for _, inst := range []string{"", e.inst} {
		if h, err := e.c.Health(ctx, &pb.HealthRequest{InstanceId: inst}); err != nil || !h.GetServing() {
			t.Errorf("Health(%q) after Configure: %v, %v; want serving", inst, h, err)
		}
	}
	cancel()
	for _, name := range slices.Sorted(maps.Keys(e.s.BadConfigs)) {
		cfg := e.s.BadConfigs[name]
		t.Run(name, func(t tb) {
			secrets := sensitiveValues(e.info.GetConfigSchema(), cfg)
			for k, dir := range e.dataDir {
				res, err := e.configure(e.inst, k, cfg, dir)
				if !isConfigError(res, err) {
					t.Errorf("Configure(%v) accepted it (err %v, diagnostics %v); want an error diagnostic or invalid_argument", k, err, res.GetDiagnostics())
				}
				for _, d := range res.GetDiagnostics() {
					if d.GetSummary() == "" {
						t.Errorf("diagnostic without a summary: %v", d)
					}
				}
				for _, sec := range secrets {
					if err != nil && strings.Contains(err.Error(), sec) {
						t.Errorf("the Configure error repeats the value of a sensitive attribute")
					}
					for _, d := range res.GetDiagnostics() {
						if strings.Contains(d.GetSummary()+d.GetDetail()+strings.Join(d.GetPath(), "\x00"), sec) {
							t.Errorf("diagnostic %q repeats the value of a sensitive attribute", d.GetSummary())
						}
					}
				}
				ctx, cancel := callCtx()
				h, err := e.c.Health(ctx, &pb.HealthRequest{InstanceId: e.inst})
				cancel()
				if err != nil || !h.GetServing() {
					t.Errorf("after a refused config the instance is not serving (%v, %v); it must keep its previous settings", h, err)
				}
			}
		})
	}
}

// minSecretLen is the shortest sensitive value the kit looks for in
// errors; shorter ones match too much by chance.
const minSecretLen = 6

// sensitiveValues returns the string values of the sensitive attributes
// of schema s found in the config JSON cfg, at any depth of blocks.
func sensitiveValues(s *pb.Schema, cfg []byte) []string {
	var obj map[string]any
	if json.Unmarshal(cfg, &obj) != nil {
		return nil
	}
	var out []string
	var walk func(s *pb.Schema, obj map[string]any)
	walk = func(s *pb.Schema, obj map[string]any) {
		for _, a := range s.GetAttributes() {
			if v, ok := obj[a.GetName()].(string); ok && a.GetSensitive() && len(v) >= minSecretLen {
				out = append(out, v)
			}
		}
		for _, b := range s.GetBlocks() {
			items, _ := obj[b.GetName()].([]any)
			for _, it := range items {
				if m, ok := it.(map[string]any); ok {
					walk(b.GetBody(), m)
				}
			}
		}
	}
	walk(s, obj)
	return out
}
