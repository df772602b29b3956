package wallet

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"github.com/switchd/switchd/plugins/ocra/rfc6287"
	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
)

// FuzzAnswer feeds the wallet arbitrary challenge data (it comes from the
// issuer through the payment page): it must never panic, and it must only
// answer challenge data whose issuer proof and binding verify.
func FuzzAnswer(f *testing.F) {
	p := MustIssuer(f)
	o, digest := testOrder(100)
	w := &OCRA{Key: payerKey}
	w.Begin()
	res, err := p.BeginMutualAuth(context.Background(), &pb.BeginMutualAuthRequest{InstanceId: "iss", Order: o, OrderDigest: digest, PayerRef: "alice", PayerData: w.BeginPayerData()})
	if err != nil {
		f.Fatal(err)
	}
	genuine := res.GetChallengeData()
	f.Add(genuine, digest)
	f.Add(genuine, digest[:31])
	f.Add([]byte(`{"suite":"OCRA-1:HOTP-SHA256-8:QA08","server_response":"","server_challenge":"","nonce":""}`), digest)
	f.Add([]byte(`{"suite":"OCRA-1:HOTP-SHA256-8:QA08","server_response":"1","server_challenge":"A","nonce":"00"}`), digest)
	f.Add([]byte(`null`), []byte{})
	f.Add(bytes.Repeat([]byte("["), 100), digest)
	f.Fuzz(func(t *testing.T, cd, d []byte) {
		out, err := w.Answer(cd, d)
		if err != nil {
			if out != nil {
				t.Fatal("output together with an error")
			}
			return
		}
		var c rfc6287.ChallengeData
		if json.Unmarshal(cd, &c) != nil {
			t.Fatalf("answered unparsable challenge data %q", cd)
		}
		s, _ := rfc6287.ParseSuite(c.Suite)
		nonce, _ := rfc6287.ParseNonce(c.Nonce)
		qs, err := s.ServerChallenge(d, nonce)
		if err != nil || qs != c.ServerChallenge {
			t.Fatalf("answered a challenge not bound to the digest: %q", cd)
		}
		if rs, _ := s.ServerResponse(payerKey, w.ClientChallenge, qs); rs != c.ServerResponse {
			t.Fatalf("answered without a valid issuer proof: %q", cd)
		}
	})
}
