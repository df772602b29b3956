package merchantsigplugin

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
	"github.com/switchd/switchd/plugins/sdk"
	"github.com/switchd/switchd/plugins/sdk/order"
)

// The approvals in the fixtures (testdata/README.md).
var (
	fixPay1    = signedAtOffset("pay-1", -100*time.Second)
	fixPay2    = signedAtOffset("pay-2", 0)
	fixPay3    = signedAtOffset("pay-3", 100*time.Second)
	fixLegacy  = signedAtOffset("pay-legacy", -10*time.Second)    // 1.0.0, 300 s window
	fixLegacy2 = signedAtOffset("pay-legacy-2", -250*time.Second) // 1.0.0, 60 s window
)

// converted is the record ExportState makes of a 1.0.0 record of req
// approved under a window of windowS seconds.
func converted(req *pb.AuthenticateSellerRequest, windowS int64) *pb.StateWrite {
	sum := sha256.Sum256(req.GetSellerSignature())
	return &pb.StateWrite{Key: recordKey(req.GetSignedAtUnixMs()+windowS*1000, sum[:]),
		Value: encodeRecord(req.GetOrder().GetPaymentId(), req.GetOrder().GetMerchantId())}
}

// fixPayB1 is instance acq-b's approval in the 1.1.0 fixture.
func fixPayB1() *pb.StateWrite {
	o := testOrder("pay-b1")
	o.AcquirerId = "acq-b"
	sig := ed25519.Sign(sellerKey, order.SellerMessage(order.TermsDigest(o), t0.UnixMilli()))
	sum := sha256.Sum256(sig)
	return &pb.StateWrite{Key: recordKey(t0.UnixMilli(), sum[:]), Value: encodeRecord("pay-b1", "shop-1")}
}

// mustDataDir returns a data dir holding a copy of testdata's fixture as
// the file called name ("" for none).
func mustDataDir(t *testing.T, fixture, name string) string {
	t.Helper()
	dir := t.TempDir()
	if fixture == "" {
		return dir
	}
	b, err := os.ReadFile(filepath.Join("testdata", fixture))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

func exportAt(t *testing.T, at time.Time, instanceID, dir string) ([]*pb.StateWrite, error) {
	t.Helper()
	p := New()
	p.now = func() time.Time { return at }
	return p.ExportState(context.Background(), instanceID, dir)
}

// TestExportState exports from files written by earlier releases: the
// records signed within MaxReplayWindow, 1.0.0 records converted, only
// the instance's own, in key order; the file is renamed, unchanged, and
// exported from again while only the renamed file exists.
func TestExportState(t *testing.T) {
	all := []*pb.StateWrite{converted(fixLegacy2, 60), record(fixPay1), record(fixPay2), record(fixPay3), converted(fixLegacy, 300)}
	tests := []struct {
		name     string
		fixture  string
		file     string // name of the fixture in the data dir
		instance string
		at       time.Duration
		want     []*pb.StateWrite
		renamed  bool
	}{
		{"1.1.0 file with 1.0.0 records", "merchantsig-1.1.0.db", StateFile, "acq", 10 * time.Second, all, true},
		{"1.1.0 file, its other instance", "merchantsig-1.1.0.db", StateFile, "acq-b", 10 * time.Second, []*pb.StateWrite{fixPayB1()}, true},
		{"1.0.0 file", "merchantsig-1.0.0.db", StateFile, "acq", 10 * time.Second, []*pb.StateWrite{converted(fixLegacy2, 60), converted(fixLegacy, 300)}, true},
		{"records at the edge of the widest window", "merchantsig-1.1.0.db", StateFile, "acq", MaxReplayWindow - 190*time.Second, all, true},
		{"records past the widest window", "merchantsig-1.1.0.db", StateFile, "acq", MaxReplayWindow + 150*time.Second, []*pb.StateWrite{converted(fixLegacy, 300)}, true},
		{"every record past the widest window", "merchantsig-1.1.0.db", StateFile, "acq", 2 * MaxReplayWindow, nil, true},
		{"an instance the file does not hold", "merchantsig-1.1.0.db", StateFile, "nobody", 10 * time.Second, nil, true},
		{"only the renamed file", "merchantsig-1.1.0.db", StateFile + ImportedSuffix, "acq", 10 * time.Second, all, false},
		{"no file", "", "", "acq", 10 * time.Second, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := mustDataDir(t, tt.fixture, tt.file)
			got, err := exportAt(t, t0.Add(tt.at), tt.instance, dir)
			if err != nil {
				t.Fatal(err)
			}
			sameWrites(t, got, tt.want)
			if _, err := os.Stat(filepath.Join(dir, StateFile)); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("%s is still there: %v", StateFile, err)
			}
			if tt.fixture == "" {
				return
			}
			imported, err := os.ReadFile(filepath.Join(dir, StateFile+ImportedSuffix))
			if err != nil {
				t.Fatalf("not renamed: %v", err)
			}
			fixture, _ := os.ReadFile(filepath.Join("testdata", tt.fixture))
			if !bytes.Equal(imported, fixture) {
				t.Fatal("the export changed the file")
			}
			// The host may stop before it commits: the next export, from the
			// renamed file, gives the same records.
			again, err := exportAt(t, t0.Add(tt.at), tt.instance, dir)
			if err != nil {
				t.Fatal(err)
			}
			sameWrites(t, again, tt.want)
		})
	}
}

func TestExportStateErrors(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, dir string)
		code  sdk.Code
		is    error
	}{
		{"both files", func(t *testing.T, dir string) {
			for _, name := range []string{StateFile, StateFile + ImportedSuffix} {
				b, _ := os.ReadFile("testdata/merchantsig-1.1.0.db")
				if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
					t.Fatal(err)
				}
			}
		}, sdk.CodeFailedPrecondition, ErrTwoStateFiles},
		{"not a bbolt file", func(t *testing.T, dir string) {
			if err := os.WriteFile(filepath.Join(dir, StateFile), bytes.Repeat([]byte("not bbolt"), 2000), 0o600); err != nil {
				t.Fatal(err)
			}
		}, sdk.CodeFailedPrecondition, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			tt.setup(t, dir)
			before, _ := os.ReadDir(dir)
			_, err := exportAt(t, t0, "acq", dir)
			if sdk.CodeOf(err) != tt.code || (tt.is != nil && !errors.Is(err, tt.is)) {
				t.Fatalf("err = %v, want %v (%v)", err, tt.code, tt.is)
			}
			after, _ := os.ReadDir(dir)
			if len(after) != len(before) || after[0].Name() != before[0].Name() {
				t.Fatalf("files changed: %v -> %v", before, after)
			}
		})
	}
	if _, err := New().ExportState(context.Background(), "", t.TempDir()); sdk.CodeOf(err) != sdk.CodeInvalidArgument {
		t.Fatalf("no instance id: %v", err)
	}
}

// TestExportedDecisions loads what ExportState read from the 1.1.0
// fixture: the signatures approved by 1.1.0 and by 1.0.0 are refused for
// another payment and approved again for their own (with the exported
// record), for as long as 1.1.0 would have kept them.
func TestExportedDecisions(t *testing.T) {
	dir := mustDataDir(t, "merchantsig-1.1.0.db", StateFile)
	records, err := exportAt(t, t0.Add(10*time.Second), "acq", dir)
	if err != nil {
		t.Fatal(err)
	}
	now := t0.Add(20 * time.Second)
	p, _ := MustPlugin(t, &now, records...)
	steps := []struct {
		name   string
		at     time.Duration
		req    *pb.AuthenticateSellerRequest
		code   string
		record *pb.StateWrite // the first write of an approval
	}{
		{"1.1.0 approval, another payment", 20 * time.Second, forPayment(fixPay1, "pay-x"), sdk.DeclineReplay, nil},
		{"1.1.0 approval, its payment", 21 * time.Second, fixPay1, "", record(fixPay1)},
		{"1.0.0 approval, another payment", 22 * time.Second, forPayment(fixLegacy, "pay-x"), sdk.DeclineReplay, nil},
		{"1.0.0 approval, its payment", 23 * time.Second, fixLegacy, "", converted(fixLegacy, 300)},
		// Approved under a 60 s window, checked under 300 s: it passes the
		// window check until t0+50s, and its record (kept until t0+110s)
		// refuses it until then.
		{"1.0.0 approval under a narrower window, another payment", 49 * time.Second, forPayment(fixLegacy2, "pay-x"), sdk.DeclineReplay, nil},
		{"1.0.0 approval under a narrower window, past the window", 51 * time.Second, forPayment(fixLegacy2, "pay-x"), sdk.DeclineStaleSignature, nil},
		{"1.1.0 approval signed in the future, another payment", 390 * time.Second, forPayment(fixPay3, "pay-x"), sdk.DeclineReplay, nil},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			now = t0.Add(s.at)
			res, err := p.AuthenticateSeller(context.Background(), s.req)
			if err != nil || res.GetDeclineCode() != s.code {
				t.Fatalf("got %v %v, want %q", res, err, s.code)
			}
			if s.record != nil {
				ws := res.GetStateWrites()
				if len(ws) == 0 {
					t.Fatal("approval without its record")
				}
				sameWrites(t, ws[:1], []*pb.StateWrite{s.record})
			}
		})
	}
}
