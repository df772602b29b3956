package merchantsigplugin

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"path/filepath"
	"slices"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"

	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
	"github.com/switchd/switchd/plugins/sdk"
	"github.com/switchd/switchd/plugins/sdk/order"
)

// mustCall calls AuthenticateSeller and returns its decline code ("" for
// an approval whose attestation is there).
func mustCall(t testing.TB, p *Plugin, req *pb.AuthenticateSellerRequest) string {
	t.Helper()
	res, err := p.AuthenticateSeller(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if res.GetVerdict() == pb.Verdict_VERDICT_APPROVED && res.GetAttestation() == nil {
		t.Fatal("approved without attestation")
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

// stateKeys lists, for the instance "acq" of the file in dir, the approved
// bucket's keys and whether the buckets of version 1.0.0 are there.
func stateKeys(t testing.TB, p *Plugin) (keys [][]byte, legacy bool) {
	t.Helper()
	inst, err := p.instance("acq")
	if err != nil {
		t.Fatal(err)
	}
	if err := inst.db.DB().View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("acq"))
		legacy = b.Bucket(legacySigs) != nil || b.Bucket(legacyExpiry) != nil
		return b.Bucket(bucketApproved).ForEach(func(k, _ []byte) error {
			keys = append(keys, bytes.Clone(k))
			return nil
		})
	}); err != nil {
		t.Fatal(err)
	}
	return keys, legacy
}

func keyOf(req *pb.AuthenticateSellerRequest) []byte {
	sum := sha256.Sum256(req.GetSellerSignature())
	return recordKey(req.GetSignedAtUnixMs(), sum[:])
}

func TestStateLayout(t *testing.T) {
	now := t0
	p, _ := MustPlugin(t, t.TempDir(), &now)
	req := signedAtOffset("pay-1", -time.Second)
	if code := mustCall(t, p, req); code != "" {
		t.Fatalf("declined %q", code)
	}
	inst, _ := p.instance("acq")
	var got []byte
	if err := inst.db.DB().View(func(tx *bolt.Tx) error {
		got = bytes.Clone(tx.Bucket([]byte("acq")).Bucket(bucketApproved).Get(keyOf(req)))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	k := keyOf(req)
	if len(k) != 40 || int64(binary.BigEndian.Uint64(k)) != t0.Add(-time.Second).UnixMilli() {
		t.Fatalf("key %x does not start with signed_at", k)
	}
	paymentID, merchantID, err := decodeRecord(got)
	if err != nil || paymentID != "pay-1" || merchantID != "shop-1" {
		t.Fatalf("record %x = %q %q %v", got, paymentID, merchantID, err)
	}
	if keys, legacy := stateKeys(t, p); len(keys) != 1 || legacy {
		t.Fatalf("%d records, legacy buckets %v", len(keys), legacy)
	}

	for _, bad := range [][]byte{nil, {0x80}, {5, 'a'}} {
		if _, _, err := decodeRecord(bad); err == nil {
			t.Errorf("decodeRecord(%x) accepted", bad)
		}
	}
}

// TestReplayAcrossRestart closes the plugin after each step and opens the
// file again: what was approved stays approved for its payment and
// refused for any other.
func TestReplayAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	now := t0
	first := signedAtOffset("pay-1", 0)
	approved, err := func() (*pb.AuthenticateSellerResponse, error) {
		p, _ := MustPlugin(t, dir, &now)
		defer p.Close()
		return p.AuthenticateSeller(context.Background(), first)
	}()
	if err != nil || approved.GetVerdict() != pb.Verdict_VERDICT_APPROVED {
		t.Fatalf("first use: %v %v", approved, err)
	}
	tests := []struct {
		name string
		at   time.Duration
		req  *pb.AuthenticateSellerRequest
		want string
	}{
		{"another payment", time.Second, forPayment(first, "pay-2"), sdk.DeclineReplay},
		{"the same payment again", 2 * time.Second, first, ""},
		{"another payment at the window's edge", 300 * time.Second, forPayment(first, "pay-3"), sdk.DeclineReplay},
		{"the same payment at the window's edge", 300 * time.Second, first, ""},
		{"another payment after the window", 300*time.Second + time.Millisecond, forPayment(first, "pay-4"), sdk.DeclineStaleSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now = t0.Add(tt.at)
			p, _ := MustPlugin(t, dir, &now)
			defer p.Close()
			res, err := p.AuthenticateSeller(context.Background(), tt.req)
			if err != nil || res.GetDeclineCode() != tt.want {
				t.Fatalf("got %v %v, want %q", res, err, tt.want)
			}
			if tt.want == "" && !proto.Equal(res, approved) {
				t.Fatalf("re-ask answered %v, want the first answer %v", res, approved)
			}
		})
	}
}

// TestPurge approves signatures made at several times, then moves the
// clock on and approves one more: the records older than the window are
// gone, the others (the one at the window's very edge too) are kept.
func TestPurge(t *testing.T) {
	offsets := []time.Duration{-300 * time.Second, -200 * time.Second, -100 * time.Second, 0, 100 * time.Second}
	tests := []struct {
		name  string
		later time.Duration // clock move after the approvals
		kept  []time.Duration
	}{
		{"nothing expired", 0, offsets},
		{"edge kept", 100 * time.Second, offsets[1:]},
		{"one millisecond past the edge", 100*time.Second + time.Millisecond, offsets[2:]},
		{"all but the newest", 350 * time.Second, offsets[4:]},
		{"all", 401 * time.Second, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := t0
			p, _ := MustPlugin(t, t.TempDir(), &now)
			reqs := map[time.Duration]*pb.AuthenticateSellerRequest{}
			for i, off := range offsets {
				reqs[off] = signedAtOffset("pay-"+string(rune('a'+i)), off)
				if code := mustCall(t, p, reqs[off]); code != "" {
					t.Fatalf("offset %v declined %q", off, code)
				}
			}
			now = t0.Add(tt.later)
			fresh := signedRequest(testOrder("pay-fresh"), sellerKey, "k1", now)
			if code := mustCall(t, p, fresh); code != "" {
				t.Fatalf("fresh declined %q", code)
			}
			want := [][]byte{}
			for _, off := range tt.kept {
				want = append(want, keyOf(reqs[off]))
			}
			want = append(want, keyOf(fresh))
			slices.SortFunc(want, bytes.Compare)
			got, _ := stateKeys(t, p)
			if !slices.EqualFunc(got, want, bytes.Equal) {
				t.Fatalf("kept %d records %x, want %d %x", len(got), got, len(want), want)
			}
			// What is kept still refuses a replay.
			for _, off := range tt.kept {
				if code := mustCall(t, p, forPayment(reqs[off], "other")); code != sdk.DeclineReplay {
					t.Errorf("replay of the record at %v: %q", off, code)
				}
			}
		})
	}
}

func TestCancelledContextWritesNothing(t *testing.T) {
	now := t0
	p, _ := MustPlugin(t, t.TempDir(), &now)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req := signedAtOffset("pay-1", 0)
	if _, err := p.AuthenticateSeller(ctx, req); err != context.Canceled {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if keys, _ := stateKeys(t, p); len(keys) != 0 {
		t.Fatalf("%d records written", len(keys))
	}
	// Nothing was remembered, so the signature may still serve another
	// payment.
	if code := mustCall(t, p, forPayment(req, "pay-2")); code != "" {
		t.Fatalf("declined %q", code)
	}
}

func TestCorruptRecordIsUnavailable(t *testing.T) {
	now := t0
	p, _ := MustPlugin(t, t.TempDir(), &now)
	req := signedAtOffset("pay-1", 0)
	inst, _ := p.instance("acq")
	if err := inst.db.Update(context.Background(), func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("acq")).Bucket(bucketApproved).Put(keyOf(req), []byte{0x7f})
	}); err != nil {
		t.Fatal(err)
	}
	_, err := p.AuthenticateSeller(context.Background(), req)
	if sdk.CodeOf(err) != sdk.CodeUnavailable {
		t.Fatalf("err = %v, want Unavailable", err)
	}
}

// legacyApproval is a signature version 1.0.0 approved under a replay
// window of windowS seconds.
type legacyApproval struct {
	req     *pb.AuthenticateSellerRequest
	windowS int64
}

// mustWriteLegacy writes a state file in dir as merchantsig 1.0.0 did:
// under the instance's bucket, "sigs" (sha256(signature) -> JSON with
// payment_id, merchant_id, expires_ms) and "expiry" (expires ms, 8 bytes
// big endian, || sha256(signature) -> empty).
func mustWriteLegacy(t testing.TB, dir string, approvals ...legacyApproval) {
	t.Helper()
	db, err := bolt.Open(filepath.Join(dir, StateFile), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucket([]byte("acq"))
		if err != nil {
			return err
		}
		sigs, err := b.CreateBucket([]byte("sigs"))
		if err != nil {
			return err
		}
		exp, err := b.CreateBucket([]byte("expiry"))
		if err != nil {
			return err
		}
		for _, a := range approvals {
			sum := sha256.Sum256(a.req.GetSellerSignature())
			expires := a.req.GetSignedAtUnixMs() + a.windowS*1000
			rec, err := json.Marshal(map[string]any{"payment_id": a.req.GetOrder().GetPaymentId(), "merchant_id": a.req.GetOrder().GetMerchantId(), "expires_ms": expires})
			if err != nil {
				return err
			}
			if err := sigs.Put(sum[:], rec); err != nil {
				return err
			}
			if err := exp.Put(append(binary.BigEndian.AppendUint64(nil, uint64(expires)), sum[:]...), nil); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// TestUpgrade opens files written in the 1.0.0 layout: the signatures
// approved before the upgrade keep refusing replays (and approving their
// own payment again) for as long as they could pass the window check,
// whatever window they were approved under; the old buckets are dropped
// once nothing in them can matter.
func TestUpgrade(t *testing.T) {
	old := signedAtOffset("pay-old", 0)
	type step struct {
		at   time.Duration
		req  *pb.AuthenticateSellerRequest
		want string
	}
	tests := []struct {
		name      string
		approvals []legacyApproval
		open      time.Duration // clock at Configure
		steps     []step
		legacy    bool // old buckets still there after the steps
	}{
		{
			name:      "same window",
			approvals: []legacyApproval{{old, 300}},
			open:      10 * time.Second,
			steps: []step{
				{20 * time.Second, forPayment(old, "pay-new"), sdk.DeclineReplay},
				{30 * time.Second, old, ""},
				{300 * time.Second, forPayment(old, "pay-new"), sdk.DeclineReplay},
				{301 * time.Second, forPayment(old, "pay-new"), sdk.DeclineStaleSignature},
			},
			legacy: true,
		},
		{
			// 1.0.0 approved under a 60 s window, this plugin runs with
			// 300 s: the signature passes the window check until t0+300s,
			// long after its recorded expiry (t0+60s).
			name:      "window widened since",
			approvals: []legacyApproval{{old, 60}},
			open:      10 * time.Second,
			steps: []step{
				{200 * time.Second, forPayment(old, "pay-new"), sdk.DeclineReplay},
				{300 * time.Second, forPayment(old, "pay-new"), sdk.DeclineReplay},
				{300 * time.Second, old, ""},
				{361 * time.Second, signedAtOffset("pay-fresh", 361*time.Second), ""},
			},
			legacy: false,
		},
		{
			name:      "dropped once no record can matter",
			approvals: []legacyApproval{{old, 300}, {signedAtOffset("pay-older", -100*time.Second), 300}},
			open:      0,
			steps: []step{
				{500 * time.Second, signedAtOffset("pay-a", 500*time.Second), ""},
				{600 * time.Second, forPayment(old, "pay-new"), sdk.DeclineStaleSignature}, // a decline writes nothing
				{600*time.Second + time.Millisecond, signedAtOffset("pay-b", 600*time.Second), ""},
			},
			legacy: false,
		},
		{
			name:      "all expired at upgrade",
			approvals: []legacyApproval{{signedAtOffset("pay-older", -601*time.Second), 300}},
			open:      0,
			legacy:    false,
		},
		{
			name:   "empty old buckets",
			open:   0,
			legacy: false,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			mustWriteLegacy(t, dir, tt.approvals...)
			now := t0.Add(tt.open)
			p, _ := MustPlugin(t, dir, &now)
			for i, s := range tt.steps {
				now = t0.Add(s.at)
				if i == len(tt.steps)/2 { // and across a restart
					if err := p.Close(); err != nil {
						t.Fatal(err)
					}
					p, _ = MustPlugin(t, dir, &now)
				}
				if code := mustCall(t, p, s.req); code != s.want {
					t.Fatalf("step %d (at %v, payment %s): got %q, want %q", i, s.at, s.req.GetOrder().GetPaymentId(), code, s.want)
				}
			}
			if _, legacy := stateKeys(t, p); legacy != tt.legacy {
				t.Fatalf("old buckets there: %v, want %v", legacy, tt.legacy)
			}
		})
	}
}
