package merchantsigplugin

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
	"github.com/switchd/switchd/plugins/sdk"
	"github.com/switchd/switchd/plugins/sdk/order"
)

// hostStore stands in for the host's records of instance "acq": it applies
// an answer's state_writes as the host commits them (an empty value
// deletes).
type hostStore map[string][]byte

func (h hostStore) apply(writes []*pb.StateWrite) {
	for _, w := range writes {
		if len(w.GetValue()) == 0 {
			delete(h, string(w.GetKey()))
		} else {
			h[string(w.GetKey())] = bytes.Clone(w.GetValue())
		}
	}
}

// records returns the records in key order, as LoadState gets them.
func (h hostStore) records() []*pb.StateWrite {
	out := make([]*pb.StateWrite, 0, len(h))
	for k, v := range h {
		out = append(out, &pb.StateWrite{Key: []byte(k), Value: v})
	}
	slices.SortFunc(out, func(a, b *pb.StateWrite) int { return bytes.Compare(a.Key, b.Key) })
	return out
}

func (p *Plugin) instanceState(t testing.TB, id string) *replay {
	t.Helper()
	inst, err := p.instance(id)
	if err != nil {
		t.Fatal(err)
	}
	return inst.state
}

// mustCall calls AuthenticateSeller, applies its writes to host (if not
// nil) and returns its decline code ("" for an approval whose attestation
// is there).
func mustCall(t testing.TB, p *Plugin, host hostStore, req *pb.AuthenticateSellerRequest) string {
	t.Helper()
	res, err := p.AuthenticateSeller(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if res.GetVerdict() == pb.Verdict_VERDICT_APPROVED && res.GetAttestation() == nil {
		t.Fatal("approved without attestation")
	}
	if res.GetVerdict() != pb.Verdict_VERDICT_APPROVED && len(res.GetStateWrites()) != 0 {
		t.Fatalf("decline %q writes %d records", res.GetDeclineCode(), len(res.GetStateWrites()))
	}
	if host != nil {
		host.apply(res.GetStateWrites())
	}
	return res.GetDeclineCode()
}

// forPayment is req with its signature presented for payment id: same
// terms, so the signature still verifies.
func forPayment(req *pb.AuthenticateSellerRequest, id string) *pb.AuthenticateSellerRequest {
	r := proto.Clone(req).(*pb.AuthenticateSellerRequest)
	r.Order.PaymentId = id
	d := order.Digest(r.Order)
	r.OrderDigest = d[:]
	return r
}

// signedAtOffset is a distinct order for payment id, signed at t0+off.
func signedAtOffset(id string, off time.Duration) *pb.AuthenticateSellerRequest {
	o := testOrder(id)
	o.OrderRef = "ref-" + id
	return signedRequest(o, sellerKey, "k1", t0.Add(off))
}

func keyOf(req *pb.AuthenticateSellerRequest) []byte {
	sum := sha256.Sum256(req.GetSellerSignature())
	return recordKey(req.GetSignedAtUnixMs(), sum[:])
}

// record is the record an approval of req writes.
func record(req *pb.AuthenticateSellerRequest) *pb.StateWrite {
	return &pb.StateWrite{Key: keyOf(req), Value: encodeRecord(req.GetOrder().GetPaymentId(), req.GetOrder().GetMerchantId())}
}

// deleteOf is the delete of req's record.
func deleteOf(req *pb.AuthenticateSellerRequest) *pb.StateWrite {
	return &pb.StateWrite{Key: keyOf(req)}
}

func sameWrites(t testing.TB, got, want []*pb.StateWrite) {
	t.Helper()
	if !slices.EqualFunc(got, want, func(a, b *pb.StateWrite) bool { return proto.Equal(a, b) }) {
		t.Fatalf("writes:\n got  %v\n want %v", got, want)
	}
}

func TestRecordFormat(t *testing.T) {
	now := t0
	p, _ := MustPlugin(t, &now)
	req := signedAtOffset("pay-1", -time.Second)
	res, err := p.AuthenticateSeller(context.Background(), req)
	if err != nil || len(res.GetStateWrites()) != 1 {
		t.Fatalf("approval: %v %v", res, err)
	}
	w := res.GetStateWrites()[0]
	sum := sha256.Sum256(req.GetSellerSignature())
	if len(w.Key) != 40 || keyMS(w.Key) != t0.Add(-time.Second).UnixMilli() || !bytes.Equal(w.Key[8:], sum[:]) {
		t.Fatalf("key %x is not signed_at || sha256(signature)", w.Key)
	}
	if want := append([]byte{5}, "pay-1shop-1"...); !bytes.Equal(w.Value, want) {
		t.Fatalf("value %q, want %q", w.Value, want)
	}
	for _, bad := range [][]byte{nil, {0x80}, {5, 'a'}, {0, 's'}} {
		if _, _, err := decodeRecord(bad); !errors.Is(err, ErrCorruptRecord) {
			t.Errorf("decodeRecord(%x) = %v", bad, err)
		}
	}
}

// TestAnswers runs calls in order on one plugin and checks each answer's
// decline code and state_writes.
func TestAnswers(t *testing.T) {
	first := signedAtOffset("pay-1", 0)
	second := signedAtOffset("pay-2", 50*time.Second)
	badSig := signedAtOffset("pay-3", 0)
	badSig.SellerSignature = bytes.Clone(badSig.SellerSignature)
	badSig.SellerSignature[0] ^= 1
	steps := []struct {
		name   string
		at     time.Duration
		req    *pb.AuthenticateSellerRequest
		code   string
		writes []*pb.StateWrite
	}{
		{"approval writes its record", 0, first, "", []*pb.StateWrite{record(first)}},
		{"a retry repeats the record", time.Second, first, "", []*pb.StateWrite{record(first)}},
		{"a replay for another payment is declined, writes nothing", 2 * time.Second, forPayment(first, "pay-9"), sdk.DeclineReplay, nil},
		{"a bad signature writes nothing", 3 * time.Second, badSig, sdk.DeclineBadSignature, nil},
		{"a stale signature writes nothing", 400 * time.Second, signedAtOffset("pay-4", 0), sdk.DeclineStaleSignature, nil},
		{"the retry at the window's edge repeats the record", 300 * time.Second, first, "", []*pb.StateWrite{record(first)}},
		{"an approval past the window deletes the expired record", 300*time.Second + time.Millisecond, second, "", []*pb.StateWrite{record(second), deleteOf(first)}},
		{"after the delete the window check refuses the first", 301 * time.Second, forPayment(first, "pay-9"), sdk.DeclineStaleSignature, nil},
		{"a retry of the second writes only its record", 302 * time.Second, second, "", []*pb.StateWrite{record(second)}},
	}
	now := t0
	p, _ := MustPlugin(t, &now)
	var firstAnswer *pb.AuthenticateSellerResponse
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			now = t0.Add(s.at)
			res, err := p.AuthenticateSeller(context.Background(), s.req)
			if err != nil {
				t.Fatal(err)
			}
			if res.GetDeclineCode() != s.code {
				t.Fatalf("decline %q, want %q", res.GetDeclineCode(), s.code)
			}
			sameWrites(t, res.GetStateWrites(), s.writes)
			if s.req == first && s.code == "" {
				if firstAnswer == nil {
					firstAnswer = res
				} else if !proto.Equal(res, firstAnswer) {
					t.Fatalf("retry answered %v, want the first answer %v", res, firstAnswer)
				}
			}
		})
	}
}

// TestPurgeViaAnswers approves signatures made at several times, moves the
// clock on and approves one more: its answer deletes the records older
// than the window, oldest first, at most PurgePerAnswer of them, and the
// next approvals delete the rest.
func TestPurgeViaAnswers(t *testing.T) {
	offsets := []time.Duration{-300 * time.Second, -200 * time.Second, -100 * time.Second, 0, 100 * time.Second}
	tests := []struct {
		name    string
		later   time.Duration // clock move after the approvals
		deleted []time.Duration
	}{
		{"nothing expired", 0, nil},
		{"edge kept", 100 * time.Second, offsets[:1]},
		{"one millisecond past the edge", 100*time.Second + time.Millisecond, offsets[:2]},
		{"all but the newest", 350 * time.Second, offsets[:4]},
		{"all", 401 * time.Second, offsets},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := t0
			p, _ := MustPlugin(t, &now)
			host := hostStore{}
			reqs := map[time.Duration]*pb.AuthenticateSellerRequest{}
			for i, off := range offsets {
				reqs[off] = signedAtOffset("pay-"+strconv.Itoa(i), off)
				if code := mustCall(t, p, host, reqs[off]); code != "" {
					t.Fatalf("offset %v declined %q", off, code)
				}
			}
			now = t0.Add(tt.later)
			fresh := signedRequest(testOrder("pay-fresh"), sellerKey, "k1", now)
			res, err := p.AuthenticateSeller(context.Background(), fresh)
			if err != nil {
				t.Fatal(err)
			}
			want := []*pb.StateWrite{record(fresh)}
			for _, off := range tt.deleted {
				want = append(want, deleteOf(reqs[off]))
			}
			sameWrites(t, res.GetStateWrites(), want)
			host.apply(res.GetStateWrites())
			if n, _ := p.instanceState(t, "acq").len(); n != len(host) {
				t.Fatalf("memory holds %d records, the host %d", n, len(host))
			}
			// What is kept still refuses a replay.
			for _, off := range offsets[len(tt.deleted):] {
				if code := mustCall(t, p, nil, forPayment(reqs[off], "other")); code != sdk.DeclineReplay {
					t.Errorf("replay of the record at %v: %q", off, code)
				}
			}
		})
	}

	t.Run("bounded per answer", func(t *testing.T) {
		now := t0
		p, _ := MustPlugin(t, &now)
		host := hostStore{}
		const n = 2*PurgePerAnswer + 5
		for i := range n {
			if code := mustCall(t, p, host, signedAtOffset("old-"+strconv.Itoa(i), time.Duration(i)*time.Millisecond)); code != "" {
				t.Fatalf("declined %q", code)
			}
		}
		now = t0.Add(time.Hour)
		for i, wantDeletes := range []int{PurgePerAnswer, PurgePerAnswer, 5, 0} {
			res, err := p.AuthenticateSeller(context.Background(), signedRequest(testOrder("new-"+strconv.Itoa(i)), sellerKey, "k1", now.Add(time.Duration(i)*time.Millisecond)))
			if err != nil {
				t.Fatal(err)
			}
			if got := len(res.GetStateWrites()) - 1; got != wantDeletes {
				t.Fatalf("approval %d deletes %d records, want %d", i, got, wantDeletes)
			}
			host.apply(res.GetStateWrites())
		}
		if len(host) != 4 {
			t.Fatalf("the host holds %d records, want the 4 new ones", len(host))
		}
	})
}

// TestLoadState loads records of several ages: LoadState keeps those
// signed within MaxReplayWindow, Configure those within its window; the
// dropped ones are deleted by the next approvals, and the kept ones
// decide as before.
func TestLoadState(t *testing.T) {
	ancient := signedAtOffset("pay-ancient", -MaxReplayWindow-time.Millisecond)
	old := signedAtOffset("pay-old", -time.Hour)
	edge := signedAtOffset("pay-edge", -300*time.Second)
	recent := signedAtOffset("pay-recent", -time.Second)
	records := hostStore{}
	records.apply([]*pb.StateWrite{record(ancient), record(old), record(edge), record(recent)})

	now := t0
	p := New()
	p.now = func() time.Time { return now }
	t.Cleanup(func() { _ = p.Close() })
	if err := p.LoadState(context.Background(), "acq", records.records()); err != nil {
		t.Fatal(err)
	}
	if kept, doomed := p.states["acq"].len(); kept != 3 || doomed != 1 {
		t.Fatalf("after LoadState: %d kept, %d to delete; want 3, 1", kept, doomed)
	}
	mustConfigure(t, p)
	if kept, doomed := p.states["acq"].len(); kept != 2 || doomed != 2 {
		t.Fatalf("after Configure: %d kept, %d to delete; want 2, 2", kept, doomed)
	}
	fresh := signedAtOffset("pay-fresh", 0)
	res, err := p.AuthenticateSeller(context.Background(), fresh)
	if err != nil {
		t.Fatal(err)
	}
	sameWrites(t, res.GetStateWrites(), []*pb.StateWrite{record(fresh), deleteOf(ancient), deleteOf(old)})
	tests := []struct {
		name string
		req  *pb.AuthenticateSellerRequest
		want string
	}{
		{"replay of a loaded record", forPayment(recent, "pay-x"), sdk.DeclineReplay},
		{"replay of the record at the window's edge", forPayment(edge, "pay-x"), sdk.DeclineReplay},
		{"retry of a loaded record", recent, ""},
		{"a dropped record's signature is stale", forPayment(old, "pay-x"), sdk.DeclineStaleSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if code := mustCall(t, p, nil, tt.req); code != tt.want {
				t.Fatalf("got %q, want %q", code, tt.want)
			}
		})
	}
}

func TestLoadStateRefusesCorruptRecords(t *testing.T) {
	kept := signedAtOffset("pay-kept", 0)
	good := record(signedAtOffset("pay-good", 0))
	tests := []struct {
		name string
		rec  *pb.StateWrite
	}{
		{"short key", &pb.StateWrite{Key: good.Key[:39], Value: good.Value}},
		{"long key", &pb.StateWrite{Key: append(bytes.Clone(good.Key), 0), Value: good.Value}},
		{"empty value", &pb.StateWrite{Key: good.Key}},
		{"bad length", &pb.StateWrite{Key: good.Key, Value: []byte{9, 'a'}}},
		{"no payment id", &pb.StateWrite{Key: good.Key, Value: []byte{0, 's'}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := t0
			p, _ := MustPlugin(t, &now, record(kept))
			err := p.LoadState(context.Background(), "acq", []*pb.StateWrite{good, tt.rec})
			if sdk.CodeOf(err) != sdk.CodeInvalidArgument || !errors.Is(err, ErrCorruptRecord) {
				t.Fatalf("err = %v, want InvalidArgument wrapping ErrCorruptRecord", err)
			}
			// The state loaded before is still the instance's.
			if code := mustCall(t, p, nil, forPayment(kept, "pay-x")); code != sdk.DeclineReplay {
				t.Fatalf("after the refused load: %q, want replay", code)
			}
		})
	}
}

func TestConfigureBeforeLoadState(t *testing.T) {
	p := New()
	t.Cleanup(func() { _ = p.Close() })
	req := &pb.ConfigureRequest{InstanceId: "acq", Kind: pb.Kind_KIND_AUTHENTICATOR, ConfigJson: testConfig(t),
		Institution: &pb.InstitutionInfo{Id: "acq", Roles: []string{"acquirer"}}}
	if _, err := p.Configure(context.Background(), req); sdk.CodeOf(err) != sdk.CodeFailedPrecondition {
		t.Fatalf("Configure before LoadState: %v, want FailedPrecondition", err)
	}
	if err := p.LoadState(context.Background(), "other", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Configure(context.Background(), req); sdk.CodeOf(err) != sdk.CodeFailedPrecondition {
		t.Fatalf("Configure after another instance's LoadState: %v, want FailedPrecondition", err)
	}
	if err := p.LoadState(context.Background(), "acq", nil); err != nil {
		t.Fatal(err)
	}
	if res, err := p.Configure(context.Background(), req); err != nil || sdk.HasErrors(res.GetDiagnostics()) {
		t.Fatalf("Configure after LoadState: %v %v", res, err)
	}
}

// TestLostAnswer: the host loses an approval's answer (its writes are
// never committed) and restarts the plugin. The plugin loaded without the
// record approves the same payment again and returns the record, which
// the host now commits; after the next restart the signature is still
// refused for another payment.
func TestLostAnswer(t *testing.T) {
	now := t0
	host := hostStore{}
	req := signedAtOffset("pay-1", 0)
	p, _ := MustPlugin(t, &now)
	if code := mustCall(t, p, nil, req); code != "" { // answer lost
		t.Fatalf("declined %q", code)
	}
	p2, _ := MustPlugin(t, &now, host.records()...)
	if code := mustCall(t, p2, host, req); code != "" {
		t.Fatalf("re-ask after the lost answer: %q", code)
	}
	p3, _ := MustPlugin(t, &now, host.records()...)
	if code := mustCall(t, p3, host, forPayment(req, "pay-2")); code != sdk.DeclineReplay {
		t.Fatalf("replay after the second restart: %q", code)
	}
}

// TestLoadStateOverConfigured: the in-process host, whose plugin cannot be
// restarted, loads the committed records again into the configured
// instance when its memory may be ahead (a commit failed). The approval
// that was not committed is forgotten, the committed one is kept, and the
// instance keeps serving with its settings.
func TestLoadStateOverConfigured(t *testing.T) {
	now := t0
	host := hostStore{}
	p, _ := MustPlugin(t, &now)
	committed, lost := signedAtOffset("pay-1", 0), signedAtOffset("pay-2", 0)
	if code := mustCall(t, p, host, committed); code != "" {
		t.Fatalf("declined %q", code)
	}
	if code := mustCall(t, p, nil, lost); code != "" { // its commit failed
		t.Fatalf("declined %q", code)
	}
	if err := p.LoadState(context.Background(), "acq", host.records()); err != nil {
		t.Fatal(err)
	}
	if code := mustCall(t, p, host, forPayment(committed, "pay-x")); code != sdk.DeclineReplay {
		t.Fatalf("committed signature for another payment: %q", code)
	}
	if code := mustCall(t, p, host, forPayment(lost, "pay-x")); code != "" {
		t.Fatalf("uncommitted signature for another payment: %q, want an approval", code)
	}
}

// TestReloadDecidesTheSame drives a plugin through approvals, retries,
// replays and expiry, commits its answers' writes in a shuffled order
// (records must commute), then loads a second plugin from the host's
// records: both give the same answers to the same probes. The shuffle is
// harsher than the host, which commits an answer before the call returns:
// it may commit a retry's record after a later answer deleted it as
// expired, and an expired record decides nothing.
func TestReloadDecidesTheSame(t *testing.T) {
	now := t0
	p, _ := MustPlugin(t, &now)
	var answers [][]*pb.StateWrite
	var reqs []*pb.AuthenticateSellerRequest
	for i := range 60 {
		now = t0.Add(time.Duration(i) * 10 * time.Second)
		r := signedAtOffset("pay-"+strconv.Itoa(i), now.Sub(t0)-time.Duration(i%7)*time.Second)
		reqs = append(reqs, r)
		for _, q := range []*pb.AuthenticateSellerRequest{r, r, forPayment(r, "replay")} {
			res, err := p.AuthenticateSeller(context.Background(), q)
			if err != nil {
				t.Fatal(err)
			}
			answers = append(answers, res.GetStateWrites())
		}
	}
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(answers), func(i, j int) { answers[i], answers[j] = answers[j], answers[i] })
	host := hostStore{}
	for _, a := range answers {
		host.apply(a)
	}
	p2, _ := MustPlugin(t, &now, host.records()...)
	for i, r := range reqs {
		for _, q := range []*pb.AuthenticateSellerRequest{r, forPayment(r, "probe")} {
			a, errA := p.AuthenticateSeller(context.Background(), q)
			b, errB := p2.AuthenticateSeller(context.Background(), q)
			if errA != nil || errB != nil || a.GetVerdict() != b.GetVerdict() || a.GetDeclineCode() != b.GetDeclineCode() {
				t.Fatalf("request %d (%s): before reload %v %v, after %v %v", i, q.GetOrder().GetPaymentId(), a, errA, b, errB)
			}
		}
	}
}

func TestCancelledContextWritesNothing(t *testing.T) {
	now := t0
	p, _ := MustPlugin(t, &now)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req := signedAtOffset("pay-1", 0)
	if _, err := p.AuthenticateSeller(ctx, req); err != context.Canceled {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	// Nothing was remembered, so the signature may still serve another
	// payment.
	if code := mustCall(t, p, nil, forPayment(req, "pay-2")); code != "" {
		t.Fatalf("declined %q", code)
	}
}

// TestConcurrentApprovals runs approvals, retries and replays of many
// signatures from many goroutines, with a reload of another instance
// beside them (run with -race): each signature is approved for one payment
// only, and the writes, committed in whatever order the answers came,
// load into a plugin that agrees.
func TestConcurrentApprovals(t *testing.T) {
	now := t0
	p, _ := MustPlugin(t, &now)
	const sigs, callers = 40, 8
	reqs := make([]*pb.AuthenticateSellerRequest, sigs)
	for i := range reqs {
		reqs[i] = signedAtOffset("pay-"+strconv.Itoa(i), time.Duration(i)*time.Millisecond)
	}
	var mu sync.Mutex
	host := hostStore{}
	winners := map[int]map[string]bool{}
	var wg sync.WaitGroup
	for c := range callers {
		wg.Go(func() {
			for i, r := range reqs {
				q := forPayment(r, fmt.Sprintf("pay-%d-caller-%d", i, c%3))
				res, err := p.AuthenticateSeller(context.Background(), q)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				host.apply(res.GetStateWrites())
				if res.GetVerdict() == pb.Verdict_VERDICT_APPROVED {
					if winners[i] == nil {
						winners[i] = map[string]bool{}
					}
					winners[i][q.GetOrder().GetPaymentId()] = true
				}
				mu.Unlock()
			}
		})
	}
	wg.Go(func() {
		for range 20 {
			if err := p.LoadState(context.Background(), "other", host.snapshot(&mu)); err != nil {
				t.Error(err)
			}
		}
	})
	wg.Wait()
	for i := range sigs {
		if len(winners[i]) != 1 {
			t.Fatalf("signature %d approved for %d payments: %v", i, len(winners[i]), winners[i])
		}
	}
	if len(host) != sigs {
		t.Fatalf("the host holds %d records, want %d", len(host), sigs)
	}
	p2, _ := MustPlugin(t, &now, host.records()...)
	for i, r := range reqs {
		for id := range winners[i] {
			if code := mustCall(t, p2, nil, forPayment(r, id)); code != "" {
				t.Fatalf("signature %d, its payment %s after reload: %q", i, id, code)
			}
		}
		if code := mustCall(t, p2, nil, forPayment(r, "someone-else")); code != sdk.DeclineReplay {
			t.Fatalf("signature %d for another payment after reload: %q", i, code)
		}
	}
}

// snapshot returns the records under mu.
func (h hostStore) snapshot(mu *sync.Mutex) []*pb.StateWrite {
	mu.Lock()
	defer mu.Unlock()
	return h.records()
}
