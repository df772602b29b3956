package ocraplugin

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"

	"github.com/switchd/switchd/plugins/internal/cpubench"
	"github.com/switchd/switchd/plugins/ocra/rfc6287"
	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
	"github.com/switchd/switchd/plugins/sdk"
	"github.com/switchd/switchd/plugins/sdk/order"
)

var (
	attSeed  = bytes.Repeat([]byte{0x3C}, 32)
	aliceKey = []byte("12345678901234567890123456789012")
	bobKey   = bytes.Repeat([]byte{0xB0}, 20)
	t0       = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
)

func testConfig(t testing.TB, extra map[string]any) []byte {
	t.Helper()
	m := map[string]any{
		"attestation_key":    hex.EncodeToString(attSeed),
		"attestation_key_id": "iss-2026",
		"payer": []any{
			map[string]any{"id": "alice", "key": hex.EncodeToString(aliceKey)},
			map[string]any{"id": "bob", "key": hex.EncodeToString(bobKey), "suite": "OCRA-1:HOTP-SHA1-6:QN10"},
		},
	}
	for k, v := range extra {
		m[k] = v
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// MustPlugin returns a plugin configured as issuer "iss" with data dir dir,
// whose clock reads *now.
func MustPlugin(t testing.TB, dir string, now *time.Time) (*Plugin, *pb.ConfigureResponse) {
	t.Helper()
	p := New()
	p.now = func() time.Time { return *now }
	res, err := p.Configure(context.Background(), &pb.ConfigureRequest{
		InstanceId: "iss", Kind: pb.Kind_KIND_AUTHENTICATOR, ConfigJson: testConfig(t, nil), DataDir: dir,
		Institution: &pb.InstitutionInfo{Id: "iss", Roles: []string{"issuer"}},
	})
	if err != nil || sdk.HasErrors(res.GetDiagnostics()) {
		t.Fatalf("Configure: %v %v", err, res.GetDiagnostics())
	}
	t.Cleanup(func() { _ = p.Close() })
	return p, res
}

func testOrder(paymentID string) *pb.Order {
	return &pb.Order{PaymentId: paymentID, MerchantId: "shop", AcquirerId: "acq", IssuerId: "iss",
		AmountMinor: 4200, Currency: "EUR", Method: pb.Method_METHOD_CARD, OrderRef: "R-9", ExpiresAtUnix: t0.Add(time.Hour).Unix()}
}

func digestOf(o *pb.Order) []byte { d := order.Digest(o); return d[:] }

// payerSide is a minimal payer for these unit tests: it checks the issuer's
// proof and the binding, and answers. (switchd/wallet is the real one.)
type payerSide struct {
	key   []byte
	suite string
	qc    string
}

func (w *payerSide) begin(t testing.TB) []byte {
	s, err := rfc6287.ParseSuite(w.suite)
	if err != nil {
		t.Fatal(err)
	}
	if w.qc, err = s.NewChallenge(); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(rfc6287.BeginPayerData{ClientChallenge: w.qc})
	return b
}

func (w *payerSide) answer(t testing.TB, challengeData, digest []byte) []byte {
	t.Helper()
	var cd rfc6287.ChallengeData
	if err := json.Unmarshal(challengeData, &cd); err != nil {
		t.Fatal(err)
	}
	s, err := rfc6287.ParseSuite(cd.Suite)
	if err != nil || cd.Suite != w.suite {
		t.Fatalf("suite %q: %v", cd.Suite, err)
	}
	nonce, err := rfc6287.ParseNonce(cd.Nonce)
	if err != nil {
		t.Fatal(err)
	}
	qs, err := s.ServerChallenge(digest, nonce)
	if err != nil || qs != cd.ServerChallenge {
		t.Fatalf("server challenge not bound to the digest: %q vs %q (%v)", qs, cd.ServerChallenge, err)
	}
	rs, err := s.ServerResponse(w.key, w.qc, qs)
	if err != nil || rs != cd.ServerResponse {
		t.Fatalf("issuer proof wrong: %q vs %q (%v)", rs, cd.ServerResponse, err)
	}
	rc, err := s.ClientResponse(w.key, qs, w.qc)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(rfc6287.FinishPayerData{ClientResponse: rc})
	return b
}

func begin(t testing.TB, p *Plugin, payerRef string, o *pb.Order, payerData []byte) *pb.BeginMutualAuthResponse {
	t.Helper()
	res, err := p.BeginMutualAuth(context.Background(), &pb.BeginMutualAuthRequest{InstanceId: "iss", Order: o, OrderDigest: digestOf(o), PayerRef: payerRef, PayerData: payerData})
	if err != nil {
		t.Fatalf("Begin: %v", err)
	}
	return res
}

func finish(t testing.TB, p *Plugin, payerRef string, o *pb.Order, payerData []byte) *pb.FinishMutualAuthResponse {
	t.Helper()
	res, err := p.FinishMutualAuth(context.Background(), &pb.FinishMutualAuthRequest{InstanceId: "iss", Order: o, OrderDigest: digestOf(o), PayerRef: payerRef, PayerData: payerData})
	if err != nil {
		t.Fatalf("Finish: %v", err)
	}
	return res
}

func wrongAnswer(right []byte) []byte {
	var f rfc6287.FinishPayerData
	_ = json.Unmarshal(right, &f)
	b := []byte(f.ClientResponse)
	b[len(b)-1] = '0' + (b[len(b)-1]-'0'+1)%10
	out, _ := json.Marshal(rfc6287.FinishPayerData{ClientResponse: string(b)})
	return out
}

func TestMutualAuth(t *testing.T) {
	now := t0
	p, conf := MustPlugin(t, t.TempDir(), &now)
	attPub := conf.GetAttestationKeys()[0].GetEd25519()
	for _, tt := range []struct{ payer, suite string }{{"alice", DefaultSuite}, {"bob", "OCRA-1:HOTP-SHA1-6:QN10"}} {
		t.Run(tt.payer, func(t *testing.T) {
			key := aliceKey
			if tt.payer == "bob" {
				key = bobKey
			}
			w := &payerSide{key: key, suite: tt.suite}
			o := testOrder("pay-" + tt.payer)
			b := begin(t, p, tt.payer, o, w.begin(t))
			if b.GetVerdict() != pb.Verdict_VERDICT_APPROVED || b.GetMechanism() != Mechanism {
				t.Fatalf("Begin: %v", b)
			}
			res := finish(t, p, tt.payer, o, w.answer(t, b.GetChallengeData(), digestOf(o)))
			if res.GetVerdict() != pb.Verdict_VERDICT_APPROVED {
				t.Fatalf("Finish: %v", res)
			}
			a := res.GetAttestation()
			if a.GetStep() != "C" || a.GetInstitutionId() != "iss" || a.GetKeyId() != "iss-2026" ||
				!ed25519.Verify(attPub, order.AttestationMessage("C", "iss", digestOf(o)), a.GetSignature()) {
				t.Fatalf("attestation does not verify: %v", a)
			}
		})
	}
}

func TestChallengeIsOneTime(t *testing.T) {
	now := t0
	p, _ := MustPlugin(t, t.TempDir(), &now)
	w := &payerSide{key: aliceKey, suite: DefaultSuite}
	o := testOrder("pay-1")
	b := begin(t, p, "alice", o, w.begin(t))
	ans := w.answer(t, b.GetChallengeData(), digestOf(o))
	if r := finish(t, p, "alice", o, ans); r.GetVerdict() != pb.Verdict_VERDICT_APPROVED {
		t.Fatalf("first Finish: %v", r)
	}
	if r := finish(t, p, "alice", o, ans); r.GetVerdict() != pb.Verdict_VERDICT_DECLINED || r.GetDeclineCode() != sdk.DeclineReplay || r.GetAttestation() != nil {
		t.Fatalf("second Finish with the same answer: %v", r)
	}

	// A wrong answer spends the challenge too: the right one no longer works.
	b = begin(t, p, "alice", o, w.begin(t))
	ans = w.answer(t, b.GetChallengeData(), digestOf(o))
	if r := finish(t, p, "alice", o, wrongAnswer(ans)); r.GetDeclineCode() != sdk.DeclineAuthFailed {
		t.Fatalf("wrong answer: %v", r)
	}
	if r := finish(t, p, "alice", o, ans); r.GetDeclineCode() != sdk.DeclineReplay {
		t.Fatalf("right answer after the challenge was spent: %v", r)
	}

	// A new Begin replaces the open challenge: the old answer is worthless.
	b1 := begin(t, p, "alice", o, w.begin(t))
	old := w.answer(t, b1.GetChallengeData(), digestOf(o))
	b2 := begin(t, p, "alice", o, w.begin(t))
	if r := finish(t, p, "alice", o, old); r.GetDeclineCode() != sdk.DeclineAuthFailed {
		t.Fatalf("answer to a replaced challenge: %v", r)
	}
	_ = b2

	// An expired challenge cannot be answered.
	b = begin(t, p, "alice", o, w.begin(t))
	ans = w.answer(t, b.GetChallengeData(), digestOf(o))
	now = now.Add(DefaultChallengeTTL + time.Second)
	if r := finish(t, p, "alice", o, ans); r.GetDeclineCode() != sdk.DeclineReplay {
		t.Fatalf("answer after the challenge expired: %v", r)
	}

	// Challenges never answered are purged once expired, at the payer's
	// next Begin.
	for i := range 3 {
		begin(t, p, "alice", testOrder(fmt.Sprintf("abandoned-%d", i)), w.begin(t))
	}
	if n := openChallenges(t, p); n != 3 {
		t.Fatalf("%d open challenges, want 3", n)
	}
	now = now.Add(DefaultChallengeTTL + time.Second)
	begin(t, p, "alice", o, w.begin(t))
	if n := openChallenges(t, p); n != 1 {
		t.Fatalf("%d open challenges after expiry, want 1", n)
	}
}

func openChallenges(t *testing.T, p *Plugin) int {
	t.Helper()
	return p.open.Count("iss")
}

// lastTx is the id of the last transaction committed to the instance's
// state file: it moves with every write.
func lastTx(t *testing.T, p *Plugin) int {
	t.Helper()
	inst, err := p.instance("iss")
	if err != nil {
		t.Fatal(err)
	}
	var id int
	if err := inst.db.DB().View(func(tx *bolt.Tx) error { id = tx.ID(); return nil }); err != nil {
		t.Fatal(err)
	}
	return id
}

// TestOnlyFailuresAreWritten: an approved Begin and Finish write nothing
// to ocra.db (open challenges live in memory); a wrong answer is written
// at once, and so is the reset of the count by the next right answer.
func TestOnlyFailuresAreWritten(t *testing.T) {
	now := t0
	p, _ := MustPlugin(t, t.TempDir(), &now)
	w := &payerSide{key: aliceKey, suite: DefaultSuite}
	pay := func(id string, right bool) *pb.FinishMutualAuthResponse {
		o := testOrder(id)
		b := begin(t, p, "alice", o, w.begin(t))
		ans := w.answer(t, b.GetChallengeData(), digestOf(o))
		if !right {
			ans = wrongAnswer(ans)
		}
		return finish(t, p, "alice", o, ans)
	}
	tx0 := lastTx(t, p)
	if r := pay("ok-1", true); r.GetVerdict() != pb.Verdict_VERDICT_APPROVED {
		t.Fatalf("Finish: %v", r)
	}
	if tx := lastTx(t, p); tx != tx0 {
		t.Fatalf("an approved Begin and Finish committed %d transactions, want none", tx-tx0)
	}
	if r := pay("wrong-1", false); r.GetDeclineCode() != sdk.DeclineAuthFailed {
		t.Fatalf("wrong answer: %v", r)
	}
	if tx := lastTx(t, p); tx != tx0+1 {
		t.Fatalf("a wrong answer committed %d transactions, want 1", tx-tx0)
	}
	if r := pay("ok-2", true); r.GetVerdict() != pb.Verdict_VERDICT_APPROVED {
		t.Fatalf("Finish after a failure: %v", r)
	}
	if tx := lastTx(t, p); tx != tx0+2 {
		t.Fatalf("the reset after a failure committed %d transactions in all, want 2", tx-tx0)
	}
	if r := pay("ok-3", true); r.GetVerdict() != pb.Verdict_VERDICT_APPROVED || lastTx(t, p) != tx0+2 {
		t.Fatalf("Finish with no failures to reset: %v, %d transactions", r, lastTx(t, p)-tx0)
	}
}

// TestOpenChallengeForgottenAtRestart: open challenges are not kept
// across a restart; an answer to one is declined "replay" (the switch lets
// the payer begin again) and a new Begin works.
func TestOpenChallengeForgottenAtRestart(t *testing.T) {
	now := t0
	dir := t.TempDir()
	p, _ := MustPlugin(t, dir, &now)
	w := &payerSide{key: aliceKey, suite: DefaultSuite}
	o := testOrder("pay-1")
	b := begin(t, p, "alice", o, w.begin(t))
	ans := w.answer(t, b.GetChallengeData(), digestOf(o))
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	p, _ = MustPlugin(t, dir, &now)
	if r := finish(t, p, "alice", o, ans); r.GetDeclineCode() != sdk.DeclineReplay || r.GetAttestation() != nil {
		t.Fatalf("answer to a challenge from before the restart: %v", r)
	}
	b = begin(t, p, "alice", o, w.begin(t))
	if r := finish(t, p, "alice", o, w.answer(t, b.GetChallengeData(), digestOf(o))); r.GetVerdict() != pb.Verdict_VERDICT_APPROVED {
		t.Fatalf("new challenge after the restart: %v", r)
	}
}

// TestLegacyPendingBucketDropped: a state file written by a version that
// kept open challenges on disk loses them (they could not be answered
// after that version stopped either) and keeps its lockouts.
func TestLegacyPendingBucketDropped(t *testing.T) {
	dir := t.TempDir()
	db, err := bolt.Open(filepath.Join(dir, StateFile), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		b, _ := tx.CreateBucket([]byte("iss"))
		pending, _ := b.CreateBucket(bucketPending)
		payers, _ := b.CreateBucket(bucketPayers)
		if err := pending.Put([]byte("alice\x00pay-old"), []byte(`{"digest":"00"}`)); err != nil {
			return err
		}
		return payers.Put([]byte("alice"), []byte(`{"failures":5,"locked":true}`))
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	now := t0
	p, _ := MustPlugin(t, dir, &now)
	inst, _ := p.instance("iss")
	if err := inst.db.DB().View(func(tx *bolt.Tx) error {
		if tx.Bucket([]byte("iss")).Bucket(bucketPending) != nil {
			t.Error("the old open challenges are still in the file")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	w := &payerSide{key: aliceKey, suite: DefaultSuite}
	if b := begin(t, p, "alice", testOrder("pay-1"), w.begin(t)); b.GetDeclineCode() != sdk.DeclineLocked {
		t.Fatalf("the lock was not kept: %v", b)
	}
}

// TestOpenChallengesBounded: one payer keeps at most MaxOpenPerPayer
// challenges open; beyond it the one that expires first is forgotten.
func TestOpenChallengesBounded(t *testing.T) {
	now := t0
	p, _ := MustPlugin(t, t.TempDir(), &now)
	w := &payerSide{key: aliceKey, suite: DefaultSuite}
	answers := map[string][]byte{}
	for i := range MaxOpenPerPayer + 1 {
		o := testOrder(fmt.Sprintf("pay-%d", i))
		b := begin(t, p, "alice", o, w.begin(t))
		answers[o.GetPaymentId()] = w.answer(t, b.GetChallengeData(), digestOf(o))
		now = now.Add(time.Millisecond)
	}
	if n := openChallenges(t, p); n != MaxOpenPerPayer {
		t.Fatalf("%d open challenges, want %d", n, MaxOpenPerPayer)
	}
	if r := finish(t, p, "alice", testOrder("pay-0"), answers["pay-0"]); r.GetDeclineCode() != sdk.DeclineReplay {
		t.Fatalf("the oldest challenge was kept: %v", r)
	}
	last := fmt.Sprintf("pay-%d", MaxOpenPerPayer)
	if r := finish(t, p, "alice", testOrder(last), answers[last]); r.GetVerdict() != pb.Verdict_VERDICT_APPROVED {
		t.Fatalf("the newest challenge: %v", r)
	}
}

func TestLockout(t *testing.T) {
	now := t0
	dir := t.TempDir()
	p, _ := MustPlugin(t, dir, &now)
	w := &payerSide{key: aliceKey, suite: DefaultSuite}
	o := testOrder("pay-1")

	// Four wrong answers, then a right one: the count resets.
	for range DefaultMaxFailures - 1 {
		b := begin(t, p, "alice", o, w.begin(t))
		if r := finish(t, p, "alice", o, wrongAnswer(w.answer(t, b.GetChallengeData(), digestOf(o)))); r.GetDeclineCode() != sdk.DeclineAuthFailed {
			t.Fatalf("wrong answer: %v", r)
		}
	}
	b := begin(t, p, "alice", o, w.begin(t))
	if r := finish(t, p, "alice", o, w.answer(t, b.GetChallengeData(), digestOf(o))); r.GetVerdict() != pb.Verdict_VERDICT_APPROVED {
		t.Fatalf("right answer after 4 failures: %v", r)
	}

	// Five wrong answers in a row lock the credential.
	for i := range DefaultMaxFailures {
		b := begin(t, p, "alice", o, w.begin(t))
		if b.GetVerdict() != pb.Verdict_VERDICT_APPROVED {
			t.Fatalf("Begin %d: %v", i, b)
		}
		if r := finish(t, p, "alice", o, wrongAnswer(w.answer(t, b.GetChallengeData(), digestOf(o)))); r.GetDeclineCode() != sdk.DeclineAuthFailed {
			t.Fatalf("wrong answer %d: %v (every wrong answer must say auth_failed)", i, r)
		}
	}
	if b := begin(t, p, "alice", o, w.begin(t)); b.GetVerdict() != pb.Verdict_VERDICT_DECLINED || b.GetDeclineCode() != sdk.DeclineLocked || len(b.GetChallengeData()) != 0 {
		t.Fatalf("Begin after lockout: %v", b)
	}

	// The lock survives a restart, and even a right answer to a challenge
	// issued before the lock is refused.
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	p, _ = MustPlugin(t, dir, &now)
	if b := begin(t, p, "alice", o, w.begin(t)); b.GetDeclineCode() != sdk.DeclineLocked {
		t.Fatalf("Begin after restart: %v", b)
	}
	if r := finish(t, p, "alice", o, []byte(`{"client_response":"12345678"}`)); r.GetDeclineCode() != sdk.DeclineLocked {
		t.Fatalf("Finish after lockout: %v", r)
	}
	// Another payer is not affected.
	wb := &payerSide{key: bobKey, suite: "OCRA-1:HOTP-SHA1-6:QN10"}
	bb := begin(t, p, "bob", o, wb.begin(t))
	if r := finish(t, p, "bob", o, wb.answer(t, bb.GetChallengeData(), digestOf(o))); r.GetVerdict() != pb.Verdict_VERDICT_APPROVED {
		t.Fatalf("other payer: %v", r)
	}
}

func TestLockoutRightAnswerRefused(t *testing.T) {
	now := t0
	p, _ := MustPlugin(t, t.TempDir(), &now)
	w := &payerSide{key: aliceKey, suite: DefaultSuite}
	o := testOrder("pay-1")
	// Open a challenge on another payment, then lock the credential.
	other := testOrder("pay-2")
	open := begin(t, p, "alice", other, w.begin(t))
	openAnswer := w.answer(t, open.GetChallengeData(), digestOf(other))
	for range DefaultMaxFailures {
		b := begin(t, p, "alice", o, w.begin(t))
		finish(t, p, "alice", o, wrongAnswer(w.answer(t, b.GetChallengeData(), digestOf(o))))
	}
	if r := finish(t, p, "alice", other, openAnswer); r.GetVerdict() != pb.Verdict_VERDICT_DECLINED || r.GetDeclineCode() != sdk.DeclineLocked {
		t.Fatalf("right answer after lockout: %v", r)
	}
}

// TestDynamicLinking: an answer for order X is worthless for order Y that
// differs in any field of the digest.
func TestDynamicLinking(t *testing.T) {
	changes := []struct {
		name string
		mut  func(*pb.Order)
	}{
		{"amount", func(o *pb.Order) { o.AmountMinor++ }},
		{"currency", func(o *pb.Order) { o.Currency = "USD" }},
		{"merchant", func(o *pb.Order) { o.MerchantId = "other-shop" }},
		{"acquirer", func(o *pb.Order) { o.AcquirerId = "other-acq" }},
		{"method", func(o *pb.Order) { o.Method = pb.Method_METHOD_BANK_TRANSFER }},
		{"order ref", func(o *pb.Order) { o.OrderRef = "R-10" }},
		{"expiry", func(o *pb.Order) { o.ExpiresAtUnix++ }},
		{"payment id", func(o *pb.Order) { o.PaymentId = "pay-other" }},
	}
	for _, tt := range changes {
		t.Run(tt.name, func(t *testing.T) {
			now := t0
			p, _ := MustPlugin(t, t.TempDir(), &now)
			w := &payerSide{key: aliceKey, suite: DefaultSuite}
			x := testOrder("pay-1")
			y := proto.Clone(x).(*pb.Order)
			tt.mut(y)

			// The answer for X, presented with Y, fails.
			bx := begin(t, p, "alice", x, w.begin(t))
			ansX := w.answer(t, bx.GetChallengeData(), digestOf(x))
			if r := finish(t, p, "alice", y, ansX); r.GetVerdict() == pb.Verdict_VERDICT_APPROVED {
				t.Fatalf("answer for X approved for Y")
			}
			// With a fresh challenge for Y, the answer to X's challenge fails.
			bx = begin(t, p, "alice", x, w.begin(t))
			ansX = w.answer(t, bx.GetChallengeData(), digestOf(x))
			qc := w.qc
			by := begin(t, p, "alice", y, mustJSON(rfc6287.BeginPayerData{ClientChallenge: qc}))
			if r := finish(t, p, "alice", y, ansX); r.GetVerdict() == pb.Verdict_VERDICT_APPROVED {
				t.Fatalf("answer to X's challenge approved for Y's challenge")
			}
			// And the payer refuses Y's challenge while it holds X's digest.
			var cd rfc6287.ChallengeData
			_ = json.Unmarshal(by.GetChallengeData(), &cd)
			s, _ := rfc6287.ParseSuite(cd.Suite)
			nonce, _ := rfc6287.ParseNonce(cd.Nonce)
			if qs, _ := s.ServerChallenge(digestOf(x), nonce); qs == cd.ServerChallenge {
				t.Fatalf("Y's server challenge also derives from X's digest")
			}
		})
	}
	t.Run("issuer", func(t *testing.T) {
		now := t0
		p, _ := MustPlugin(t, t.TempDir(), &now)
		w := &payerSide{key: aliceKey, suite: DefaultSuite}
		x := testOrder("pay-1")
		y := proto.Clone(x).(*pb.Order)
		y.IssuerId = "other-issuer"
		bx := begin(t, p, "alice", x, w.begin(t))
		ans := w.answer(t, bx.GetChallengeData(), digestOf(x))
		_, err := p.FinishMutualAuth(context.Background(), &pb.FinishMutualAuthRequest{InstanceId: "iss", Order: y, OrderDigest: digestOf(y), PayerRef: "alice", PayerData: ans})
		if sdk.CodeOf(err) != sdk.CodeInvalidArgument {
			t.Fatalf("order for another issuer: %v", err)
		}
	})
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func TestBadInputChangesNothing(t *testing.T) {
	now := t0
	p, _ := MustPlugin(t, t.TempDir(), &now)
	w := &payerSide{key: aliceKey, suite: DefaultSuite}
	o := testOrder("pay-1")
	b := begin(t, p, "alice", o, w.begin(t))
	ans := w.answer(t, b.GetChallengeData(), digestOf(o))
	ctx := context.Background()

	begins := []struct {
		name string
		req  *pb.BeginMutualAuthRequest
		code sdk.Code
	}{
		{"unknown instance", &pb.BeginMutualAuthRequest{InstanceId: "x", Order: o, OrderDigest: digestOf(o), PayerRef: "alice", PayerData: []byte(`{"client_challenge":"ABCD1234"}`)}, sdk.CodeFailedPrecondition},
		{"unknown payer", &pb.BeginMutualAuthRequest{InstanceId: "iss", Order: o, OrderDigest: digestOf(o), PayerRef: "carol", PayerData: []byte(`{"client_challenge":"ABCD1234"}`)}, sdk.CodeNotFound},
		{"not json", &pb.BeginMutualAuthRequest{InstanceId: "iss", Order: o, OrderDigest: digestOf(o), PayerRef: "alice", PayerData: []byte(`ABCD1234`)}, sdk.CodeInvalidArgument},
		{"unknown field", &pb.BeginMutualAuthRequest{InstanceId: "iss", Order: o, OrderDigest: digestOf(o), PayerRef: "alice", PayerData: []byte(`{"client_challenge":"ABCD1234","x":1}`)}, sdk.CodeInvalidArgument},
		{"short challenge", &pb.BeginMutualAuthRequest{InstanceId: "iss", Order: o, OrderDigest: digestOf(o), PayerRef: "alice", PayerData: []byte(`{"client_challenge":"ABCD123"}`)}, sdk.CodeInvalidArgument},
		{"bad characters", &pb.BeginMutualAuthRequest{InstanceId: "iss", Order: o, OrderDigest: digestOf(o), PayerRef: "alice", PayerData: []byte(`{"client_challenge":"ABCD-123"}`)}, sdk.CodeInvalidArgument},
		{"digest mismatch", &pb.BeginMutualAuthRequest{InstanceId: "iss", Order: o, OrderDigest: make([]byte, 32), PayerRef: "alice", PayerData: []byte(`{"client_challenge":"ABCD1234"}`)}, sdk.CodeInvalidArgument},
	}
	for _, tt := range begins {
		t.Run("begin/"+tt.name, func(t *testing.T) {
			if _, err := p.BeginMutualAuth(ctx, tt.req); sdk.CodeOf(err) != tt.code {
				t.Fatalf("err = %v, want %v", err, tt.code)
			}
		})
	}
	for _, tt := range []struct{ name, data string }{
		{"not json", `12345678`},
		{"letters", `{"client_response":"1234567a"}`},
		{"too short", `{"client_response":"1234567"}`},
		{"too long", `{"client_response":"123456789"}`},
		{"trailing data", `{"client_response":"12345678"}{}`},
	} {
		t.Run("finish/"+tt.name, func(t *testing.T) {
			_, err := p.FinishMutualAuth(ctx, &pb.FinishMutualAuthRequest{InstanceId: "iss", Order: o, OrderDigest: digestOf(o), PayerRef: "alice", PayerData: []byte(tt.data)})
			if sdk.CodeOf(err) != sdk.CodeInvalidArgument {
				t.Fatalf("err = %v, want invalid_argument", err)
			}
		})
	}
	// None of that spent the challenge or counted as a failure.
	if r := finish(t, p, "alice", o, ans); r.GetVerdict() != pb.Verdict_VERDICT_APPROVED {
		t.Fatalf("the open challenge was disturbed by bad input: %v", r)
	}
}

func TestConfigureReportsEveryProblem(t *testing.T) {
	p := New()
	t.Cleanup(func() { _ = p.Close() })
	cfg := `{"attestation_key":"zz","max_failures":0,"challenge_ttl_seconds":1.5,"payer":[
	  {"id":"alice","key":"nothex"},
	  {"id":"bob","key":"00112233","suite":"OCRA-1:HOTP-SHA256-8:C-QA08"},
	  {"id":"carol","key":"00112233445566778899aabbccddeeff","suite":"OCRA-1:HOTP-SHA256-8:QZ08"},
	  {"id":"alice","key":"00112233445566778899aabbccddeeff"}]}`
	res, err := p.Configure(context.Background(), &pb.ConfigureRequest{InstanceId: "iss", ConfigJson: []byte(cfg), DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"attestation_key", "attestation_key_id", "max_failures", "challenge_ttl_seconds",
		"payer/alice/key", "payer/bob/suite", "payer/bob/key", "payer/carol/suite", "payer/alice"}
	var got []string
	for _, d := range res.GetDiagnostics() {
		got = append(got, strings.Join(d.GetPath(), "/"))
		if strings.Contains(d.GetDetail(), "nothex") || strings.Contains(d.GetDetail(), "00112233") {
			t.Errorf("diagnostic repeats a key: %q", d.GetDetail())
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("diagnostic paths = %v, want %v", got, want)
	}
	if _, err := p.instance("iss"); err == nil {
		t.Fatal("a configuration with errors was applied")
	}
}

// BenchmarkMutualAuth runs Begin+Finish of distinct payments against one
// fsynced state file, in process (no gRPC), and reports the process's CPU
// per payment (cpu-µs/op; the payer's side, one HMAC and two small JSON
// documents, is included). "serial" authenticates one payment at a time,
// so every write is a commit and fsync of its own (the plugin's lot at a
// few hundred payments a second); "64 payers" runs 64 at once, as bank_a's
// ocra.db sees under 64 concurrent payers, so writes share commits. Run
// with
//
//	go test -run '^$' -bench MutualAuth -benchmem ./plugins/ocra/ocraplugin/
func BenchmarkMutualAuth(b *testing.B) {
	cpubench.ForPayerCounts(b, func(b *testing.B, payers int) {
		now := t0
		p, _ := MustPlugin(b, b.TempDir(), &now)
		suite, err := rfc6287.ParseSuite(DefaultSuite)
		if err != nil {
			b.Fatal(err)
		}
		var n atomic.Int64
		pay := func() bool {
			o := testOrder(fmt.Sprint("pay-", n.Add(1)))
			d := digestOf(o)
			qc, err := suite.NewChallenge()
			if err != nil {
				b.Fatal(err)
			}
			bd, _ := json.Marshal(rfc6287.BeginPayerData{ClientChallenge: qc})
			bg, err := p.BeginMutualAuth(context.Background(), &pb.BeginMutualAuthRequest{InstanceId: "iss", Order: o, OrderDigest: d, PayerRef: "alice", PayerData: bd})
			if err != nil {
				b.Error(err)
				return false
			}
			// The payer's answer, without checking the issuer's proof
			// (the tests do): only R_C.
			var cd rfc6287.ChallengeData
			if err := json.Unmarshal(bg.GetChallengeData(), &cd); err != nil {
				b.Error(err)
				return false
			}
			rc, err := suite.ClientResponse(aliceKey, cd.ServerChallenge, qc)
			if err != nil {
				b.Error(err)
				return false
			}
			fd, _ := json.Marshal(rfc6287.FinishPayerData{ClientResponse: rc})
			r, err := p.FinishMutualAuth(context.Background(), &pb.FinishMutualAuthRequest{InstanceId: "iss", Order: o, OrderDigest: d, PayerRef: "alice", PayerData: fd})
			if err != nil || r.GetVerdict() != pb.Verdict_VERDICT_APPROVED {
				b.Error(r, err)
				return false
			}
			return true
		}
		cpubench.Run(b, payers, []struct{}{{}}, func(struct{}) bool { return pay() })
	})
}

// TestConcurrentPayments authenticates many payments at once, some with a
// wrong answer: their writes share commits, yet each payment gets its own
// verdict, every challenge is spent, and the failures are counted.
func TestConcurrentPayments(t *testing.T) {
	now := t0
	p, _ := MustPlugin(t, t.TempDir(), &now)
	const n = 40
	verdicts := make(chan string, n)
	for i := range n {
		go func() {
			w := &payerSide{key: aliceKey, suite: DefaultSuite}
			ref := "alice"
			if i%10 == 0 {
				w, ref = &payerSide{key: bobKey, suite: "OCRA-1:HOTP-SHA1-6:QN10"}, "bob"
			}
			o := testOrder(fmt.Sprint("pay-", i))
			bg, err := p.BeginMutualAuth(context.Background(), &pb.BeginMutualAuthRequest{InstanceId: "iss", Order: o, OrderDigest: digestOf(o), PayerRef: ref, PayerData: w.begin(t)})
			if err != nil {
				t.Error(err)
				verdicts <- "error"
				return
			}
			ans := w.answer(t, bg.GetChallengeData(), digestOf(o))
			if ref == "bob" {
				ans = wrongAnswer(ans)
			}
			r, err := p.FinishMutualAuth(context.Background(), &pb.FinishMutualAuthRequest{InstanceId: "iss", Order: o, OrderDigest: digestOf(o), PayerRef: ref, PayerData: ans})
			if err != nil {
				t.Error(err)
				verdicts <- "error"
				return
			}
			verdicts <- ref + ":" + r.GetVerdict().String() + ":" + r.GetDeclineCode()
		}()
	}
	counts := map[string]int{}
	for range n {
		counts[<-verdicts]++
	}
	want := map[string]int{
		"alice:VERDICT_APPROVED:":                       36,
		"bob:VERDICT_DECLINED:" + sdk.DeclineAuthFailed: 4, // below max_failures (5)
	}
	if fmt.Sprint(counts) != fmt.Sprint(want) {
		t.Errorf("verdicts %v, want %v", counts, want)
	}
	if got := openChallenges(t, p); got != 0 {
		t.Errorf("%d challenges left open", got)
	}
}

// TestConcurrentFinish answers one challenge many times at once: exactly
// one Finish is approved.
func TestConcurrentFinish(t *testing.T) {
	now := t0
	p, _ := MustPlugin(t, t.TempDir(), &now)
	w := &payerSide{key: aliceKey, suite: DefaultSuite}
	o := testOrder("pay-1")
	b := begin(t, p, "alice", o, w.begin(t))
	ans := w.answer(t, b.GetChallengeData(), digestOf(o))
	const n = 16
	results := make(chan *pb.FinishMutualAuthResponse, n)
	for range n {
		go func() {
			res, err := p.FinishMutualAuth(context.Background(), &pb.FinishMutualAuthRequest{InstanceId: "iss", Order: o, OrderDigest: digestOf(o), PayerRef: "alice", PayerData: ans})
			if err != nil {
				t.Error(err)
			}
			results <- res
		}()
	}
	approved := 0
	for range n {
		if r := <-results; r.GetVerdict() == pb.Verdict_VERDICT_APPROVED {
			approved++
		} else if r.GetDeclineCode() != sdk.DeclineReplay {
			t.Errorf("unexpected decline %q", r.GetDeclineCode())
		}
	}
	if approved != 1 {
		t.Fatalf("%d approvals for one challenge, want 1", approved)
	}
}
