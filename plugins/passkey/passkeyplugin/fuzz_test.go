package passkeyplugin

import (
	"encoding/json"
	"errors"
	"testing"

	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
	"github.com/switchd/switchd/plugins/sdk"
)

// FuzzFinishMutualAuth feeds arbitrary payer_data to Finish against a fresh
// challenge each time. Whatever the input, the plugin must not panic and
// must never approve: the only valid assertion would need the payer's key
// and the fresh challenge. Seeds are a real assertion (for an older,
// spent challenge) and variations of it.
func FuzzFinishMutualAuth(f *testing.F) {
	fx := MustFixture(f, map[string]any{"max_failures": 100})
	a := fx.enrol("alice")
	o, d := fx.order(1000)
	old, err := a.Get(fx.begin("alice", o, d).GetChallengeData(), d)
	if err != nil {
		f.Fatal(err)
	}
	fx.wantApproved(fx.finish("alice", o, d, old), d)
	f.Add(old)
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"id":"","rawId":"","type":"public-key","response":{}}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, payerData []byte) {
		if _, err := fx.p.BeginMutualAuth(fx.ctx, &pb.BeginMutualAuthRequest{InstanceId: "iss", Order: o, OrderDigest: d, PayerRef: "alice"}); err != nil {
			t.Fatal(err)
		}
		res, err := fx.p.FinishMutualAuth(fx.ctx, &pb.FinishMutualAuthRequest{InstanceId: "iss", Order: o, OrderDigest: d, PayerRef: "alice", PayerData: payerData})
		switch {
		case err != nil && !errors.Is(err, sdk.ErrInvalidArgument):
			t.Fatalf("FinishMutualAuth error %v, want invalid_argument or a decline", err)
		case err == nil && res.GetVerdict() != pb.Verdict_VERDICT_DECLINED:
			t.Fatalf("fuzzed payer_data %q was %v", payerData, res.GetVerdict())
		}
	})
}

// FuzzFinishEnrollment feeds arbitrary payer_data to FinishEnrollment. It
// must not panic, and anything but a well-formed credential is
// INVALID_ARGUMENT.
func FuzzFinishEnrollment(f *testing.F) {
	fx := MustFixture(f, nil)
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"id":"AAAA","rawId":"AAAA","type":"public-key","response":{"clientDataJSON":"e30","attestationObject":"oA"}}`))
	f.Fuzz(func(t *testing.T, payerData []byte) {
		if _, err := fx.p.BeginEnrollment(fx.ctx, &pb.BeginEnrollmentRequest{InstanceId: "iss", PayerRef: "bob", PayerData: codeData(testCodes["bob"])}); err != nil {
			t.Fatal(err)
		}
		_, err := fx.p.FinishEnrollment(fx.ctx, &pb.FinishEnrollmentRequest{InstanceId: "iss", PayerRef: "bob", PayerData: payerData})
		if !errors.Is(err, sdk.ErrInvalidArgument) {
			t.Fatalf("FinishEnrollment(%q) = %v, want invalid_argument", payerData, err)
		}
	})
}

// FuzzBeginEnrollment feeds arbitrary payer_data to BeginEnrollment. It
// must not panic; anything but {"enrollment_code": <bob's code>} is
// refused (INVALID_ARGUMENT when malformed, FAILED_PRECONDITION for a
// wrong code or, after enough of them, the lock).
func FuzzBeginEnrollment(f *testing.F) {
	fx := MustFixture(f, map[string]any{"max_failures": 100})
	for _, s := range []string{``, `{}`, `{"enrollment_code": "bob-code-4411"}]`, `{"enrollment_code": "bob-code-4411"} x`, `{"enrollment_code": "x"}`, `{"enrollment_code": ""}`, `{"enrollment_code": 1}`, `{"enrollment_code": "a", "b": 1}`, `[]`, `null`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, payerData []byte) {
		_, err := fx.p.BeginEnrollment(fx.ctx, &pb.BeginEnrollmentRequest{InstanceId: "iss", PayerRef: "bob", PayerData: payerData})
		var pd struct {
			Code string `json:"enrollment_code"`
		}
		isRight := json.Unmarshal(payerData, &pd) == nil && pd.Code == testCodes["bob"]
		switch {
		case err == nil && !isRight:
			t.Fatalf("BeginEnrollment(%q) accepted", payerData)
		case err != nil && !errors.Is(err, sdk.ErrInvalidArgument) && !errors.Is(err, sdk.ErrFailedPrecondition):
			t.Fatalf("BeginEnrollment(%q) = %v", payerData, err)
		}
	})
}
