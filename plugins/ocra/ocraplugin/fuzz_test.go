package ocraplugin

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/switchd/switchd/plugins/ocra/rfc6287"
	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
	"github.com/switchd/switchd/plugins/sdk"
)

// FuzzPayerData sends arbitrary payer_data to Begin and Finish: the plugin
// must never panic, must refuse malformed input as invalid_argument, and
// must never approve anything but the right answer.
func FuzzPayerData(f *testing.F) {
	f.Add([]byte(`{"client_challenge":"ABCD1234"}`), []byte(`{"client_response":"12345678"}`))
	f.Add([]byte(`{"client_challenge":"ABCD123"}`), []byte(`{"client_response":"1234567"}`))
	f.Add([]byte(`{"client_challenge":"ÄBCD1234"}`), []byte(`{"client_response":"１２345678"}`))
	f.Add([]byte(`{"client_challenge":null}`), []byte(`{"client_response":12345678}`))
	f.Add([]byte(`[]`), []byte(`{"client_response":"12345678","client_challenge":"x"}`))
	f.Add([]byte(``), []byte(`{}`))
	f.Add([]byte(`{"client_challenge":"ABCD1234"}{}`), []byte("\xff"))
	now := t0
	p, _ := MustPlugin(f, f.TempDir(), &now)
	ctx := context.Background()
	o := testOrder("fuzz")
	f.Fuzz(func(t *testing.T, beginData, finishData []byte) {
		b, err := p.BeginMutualAuth(ctx, &pb.BeginMutualAuthRequest{InstanceId: "iss", Order: o, OrderDigest: digestOf(o), PayerRef: "alice", PayerData: beginData})
		var qc string
		switch {
		case err != nil:
			if sdk.CodeOf(err) != sdk.CodeInvalidArgument {
				t.Fatalf("Begin(%q): %v, want invalid_argument", beginData, err)
			}
		case b.GetVerdict() == pb.Verdict_VERDICT_APPROVED:
			var in rfc6287.BeginPayerData
			if json.Unmarshal(beginData, &in) != nil {
				t.Fatalf("Begin accepted %q", beginData)
			}
			qc = in.ClientChallenge
		}
		r, err := p.FinishMutualAuth(ctx, &pb.FinishMutualAuthRequest{InstanceId: "iss", Order: o, OrderDigest: digestOf(o), PayerRef: "alice", PayerData: finishData})
		if err != nil {
			if sdk.CodeOf(err) != sdk.CodeInvalidArgument {
				t.Fatalf("Finish(%q): %v, want invalid_argument", finishData, err)
			}
			return
		}
		if r.GetVerdict() == pb.Verdict_VERDICT_APPROVED {
			w := &payerSide{key: aliceKey, suite: DefaultSuite, qc: qc}
			if qc == "" || string(w.answer(t, b.GetChallengeData(), digestOf(o))) != string(finishData) {
				t.Fatalf("Finish approved %q, which is not the right answer", finishData)
			}
		}
		now = now.Add(time.Millisecond)
	})
}
