package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"

	"github.com/switchd/switchd/internal/testbin"
	"github.com/switchd/switchd/plugins/merchantsig/merchantsigplugin"
	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
	"github.com/switchd/switchd/plugins/sdk"
)

// TestSubprocessImport gives the binary a data dir holding the state file
// of 1.1.0, with a record in its layout ("approved": signed_at ms ||
// sha256(signature) -> record) and one left by 1.0.0 ("sigs":
// sha256(signature) -> JSON, "expiry": expires ms || sha256(signature)),
// both signed a second ago. ExportState streams both and renames the
// file; an export after a host that stopped before committing gives the
// same records from the renamed file. Loaded into a process, they refuse
// both signatures for another payment and approve each again for its own,
// answering with the exported record; so does the next process. (The
// files of earlier releases in merchantsigplugin/testdata are exported in
// that package's tests, with its clock set to when they were written.)
func TestSubprocessImport(t *testing.T) {
	bin := testbin.MustBuild(t, "./plugins/merchantsig")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	seller := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{0x12}, 32))
	cfg := sellerConfig(0xC4, seller)
	ms := time.Now().Add(-time.Second).UnixMilli()
	order := func(id, ref string) *pb.Order {
		return &pb.Order{PaymentId: id, MerchantId: "shop", AcquirerId: "acq", IssuerId: "iss", AmountMinor: 700,
			Currency: "EUR", Method: pb.Method_METHOD_CARD, OrderRef: ref, ExpiresAtUnix: time.Now().Add(time.Hour).Unix()}
	}
	reqOld, replayOld := signedRequests(seller, order("pay-old", "R7"), ms, "pay-new")
	reqCur, replayCur := signedRequests(seller, order("pay-cur", "R8"), ms, "pay-new")
	sumOld, sumCur := sha256.Sum256(reqOld.SellerSignature), sha256.Sum256(reqCur.SellerSignature)
	expires := ms + merchantsigplugin.DefaultReplayWindow.Milliseconds()
	recOld := &pb.StateWrite{Key: append(binary.BigEndian.AppendUint64(nil, uint64(expires)), sumOld[:]...), Value: append([]byte{7}, "pay-oldshop"...)}
	recCur := &pb.StateWrite{Key: append(binary.BigEndian.AppendUint64(nil, uint64(ms)), sumCur[:]...), Value: append([]byte{7}, "pay-curshop"...)}

	dataDir := t.TempDir()
	path := filepath.Join(dataDir, merchantsigplugin.StateFile)
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		b, _ := tx.CreateBucket([]byte("acq"))
		approved, _ := b.CreateBucket([]byte("approved"))
		sigs, _ := b.CreateBucket([]byte("sigs"))
		exp, err := b.CreateBucket([]byte("expiry"))
		if err != nil {
			return err
		}
		if err := approved.Put(recCur.Key, recCur.Value); err != nil {
			return err
		}
		rec, _ := json.Marshal(map[string]any{"payment_id": "pay-old", "merchant_id": "shop", "expires_ms": expires})
		if err := sigs.Put(sumOld[:], rec); err != nil {
			return err
		}
		return exp.Put(append(binary.BigEndian.AppendUint64(nil, uint64(expires)), sumOld[:]...), nil)
	}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	want := []*pb.StateWrite{recCur, recOld} // key order: signed_at < expires
	same := func(t *testing.T, got []*pb.StateWrite) {
		t.Helper()
		if len(got) != len(want) || !proto.Equal(got[0], want[0]) || !proto.Equal(got[1], want[1]) {
			t.Fatalf("exported %v, want %v", got, want)
		}
	}

	p := testbin.LaunchPlugin(t, bin)
	c := p.Client
	exported, err := c.ExportState(ctx, "acq", dataDir)
	if err != nil {
		t.Fatal(err)
	}
	same(t, exported)
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("%s not renamed: %v", path, err)
	}
	// The host stopped before it committed: the next process exports the
	// same records from the renamed file.
	c = p.Restart()
	if exported, err = c.ExportState(ctx, "acq", dataDir); err != nil {
		t.Fatal(err)
	}
	same(t, exported)

	host := hostRecords{}
	host.apply(exported)
	for i := range 2 {
		if i == 1 {
			c = p.Restart()
		}
		if err := c.LoadState(ctx, "acq", host.records()); err != nil {
			t.Fatal(err)
		}
		res, err := c.Configure(ctx, &pb.ConfigureRequest{InstanceId: "acq", Kind: pb.Kind_KIND_AUTHENTICATOR, ConfigJson: cfg,
			DataDir: dataDir, Institution: &pb.InstitutionInfo{Id: "acq", Roles: []string{"acquirer"}}})
		if err != nil || sdk.HasErrors(res.GetDiagnostics()) {
			t.Fatalf("Configure: %v %v", err, res.GetDiagnostics())
		}
		for _, tc := range []struct {
			name          string
			req, replay   *pb.AuthenticateSellerRequest
			wantRecordKey []byte
		}{{"1.0.0 record", reqOld, replayOld, recOld.Key}, {"1.1.0 record", reqCur, replayCur, recCur.Key}} {
			if r, err := c.AuthenticateSeller(ctx, tc.replay); err != nil || r.GetDeclineCode() != sdk.DeclineReplay {
				t.Fatalf("run %d: %s: replay: %v %v", i, tc.name, r, err)
			}
			r, err := c.AuthenticateSeller(ctx, tc.req)
			if err != nil || r.GetVerdict() != pb.Verdict_VERDICT_APPROVED || len(r.GetStateWrites()) != 1 ||
				!bytes.Equal(r.GetStateWrites()[0].GetKey(), tc.wantRecordKey) {
				t.Fatalf("run %d: %s: re-ask of the approved payment: %v %v", i, tc.name, r, err)
			}
			host.apply(r.GetStateWrites())
		}
	}
}
