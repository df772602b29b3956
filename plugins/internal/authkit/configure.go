package authkit

import (
	"math"
	"time"

	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
	"github.com/switchd/switchd/plugins/sdk"
)

// Parse runs the steps every authenticator's Configure starts with: it
// requires instance_id (else an InvalidArgument error), decodes config_json
// into a C (else it returns the single diagnostic "Invalid <name>
// configuration"), checks it with parse, and requires data_dir (else it
// adds the diagnostic "No data dir" with detail noDataDir). When the
// diagnostics hold an error, Configure must answer with them and keep the
// instance's previous settings.
func Parse[C, S any](req *pb.ConfigureRequest, name, noDataDir string, parse func(*C) (S, []*pb.Diagnostic)) (S, []*pb.Diagnostic, error) {
	var zero S
	if req.GetInstanceId() == "" {
		return zero, nil, sdk.InvalidArgument("instance_id", "is empty")
	}
	var cfg C
	if err := sdk.DecodeConfig(req.GetConfigJson(), &cfg); err != nil {
		return zero, []*pb.Diagnostic{sdk.ErrorDiag(nil, "Invalid "+name+" configuration", "%v", err)}, nil
	}
	s, diags := parse(&cfg)
	if req.GetDataDir() == "" {
		diags = append(diags, sdk.ErrorDiag(nil, "No data dir", "%s", noDataDir))
	}
	return s, diags, nil
}

// ParseLockout checks the optional max_failures (a whole number from 1 to
// 100) and challenge_ttl_seconds (a whole number of seconds from 10 to
// 3600) attributes of a payer authenticator. It sets *failures and *ttl
// from those that are given, leaving the caller's defaults otherwise, and
// returns an error diagnostic for each invalid one (whose result is then
// zero).
func ParseLockout(maxFailures, ttlSeconds *float64, failures *int, ttl *time.Duration) []*pb.Diagnostic {
	var diags []*pb.Diagnostic
	if maxFailures != nil {
		n, ok := wholeNumber(maxFailures, 1, 100)
		if !ok {
			diags = append(diags, sdk.ErrorDiag([]string{"max_failures"}, "Invalid max_failures", "max_failures must be a whole number from 1 to 100."))
		}
		*failures = n
	}
	if ttlSeconds != nil {
		n, ok := wholeNumber(ttlSeconds, 10, 3600)
		if !ok {
			diags = append(diags, sdk.ErrorDiag([]string{"challenge_ttl_seconds"}, "Invalid challenge_ttl_seconds",
				"challenge_ttl_seconds must be a whole number of seconds from 10 to 3600."))
		}
		*ttl = time.Duration(n) * time.Second
	}
	return diags
}

func wholeNumber(p *float64, lo, hi float64) (int, bool) {
	if *p < lo || *p > hi || *p != math.Trunc(*p) {
		return 0, false
	}
	return int(*p), true
}
