package authkit

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
	"github.com/switchd/switchd/plugins/sdk"
	"github.com/switchd/switchd/plugins/sdk/order"
)

var (
	errEnc  = errors.New("bad encoding")
	errSize = errors.New("bad size")
)

func TestInstances(t *testing.T) {
	s := NewInstances[*int]("demo")
	if _, err := s.Get("a"); sdk.CodeOf(err) != sdk.CodeFailedPrecondition || !strings.Contains(err.Error(), `demo: instance "a" is not configured`) {
		t.Fatalf("Get of unknown instance: %v", err)
	}
	ctx := context.Background()
	if h, _ := s.Health(ctx, &pb.HealthRequest{InstanceId: "a"}); h.GetServing() || h.GetMessage() != "instance is not configured" {
		t.Fatalf("Health of unknown instance: %v", h)
	}
	if h, _ := s.Health(ctx, &pb.HealthRequest{}); !h.GetServing() {
		t.Fatalf("Health of the plugin: %v", h)
	}
	one := 1
	s.Put("a", &one)
	if got, err := s.Get("a"); err != nil || got != &one {
		t.Fatalf("Get = %v, %v", got, err)
	}
	if h, _ := s.Health(ctx, &pb.HealthRequest{InstanceId: "a"}); !h.GetServing() {
		t.Fatalf("Health of configured instance: %v", h)
	}

	dir := t.TempDir()
	db, d := s.OpenState(dir, "demo.db", "a", []byte("x"), []byte("y"))
	if d != nil {
		t.Fatal(d)
	}
	db2, d := s.OpenState(dir, "demo.db", "b")
	if d != nil || db2 != db {
		t.Fatalf("a second instance in the same dir does not share the file: %v", d)
	}
	if err := db.DB().View(func(tx *bolt.Tx) error {
		if b := tx.Bucket([]byte("a")); b == nil || b.Bucket([]byte("x")) == nil || b.Bucket([]byte("y")) == nil {
			t.Error("buckets of a missing")
		}
		if tx.Bucket([]byte("b")) == nil {
			t.Error("bucket b missing")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, d := s.OpenState(filepath.Join(dir, "missing"), "demo.db", "c"); d.GetSummary() != "Cannot open state file" || !strings.Contains(d.GetDetail(), "demo: open ") {
		t.Fatalf("open in a missing dir: %v", d)
	}

	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get("a"); err == nil {
		t.Fatal("instance kept after Close")
	}
	// The file is closed: another handle can open it at once.
	s2 := NewInstances[int]("demo")
	if _, d := s2.OpenState(dir, "demo.db", "a"); d != nil {
		t.Fatal(d)
	}
	if err := s2.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "demo.db")); err != nil {
		t.Fatal(err)
	}
}

func TestInstitutionID(t *testing.T) {
	if got := InstitutionID(&pb.ConfigureRequest{InstanceId: "i", Institution: &pb.InstitutionInfo{Id: "bank"}}); got != "bank" {
		t.Fatalf("got %q", got)
	}
	if got := InstitutionID(&pb.ConfigureRequest{InstanceId: "i"}); got != "i" {
		t.Fatalf("got %q", got)
	}
}

func TestDecode32(t *testing.T) {
	raw := bytes.Repeat([]byte{0xA7}, 32)
	for _, in := range []string{
		hex.EncodeToString(raw), base64.StdEncoding.EncodeToString(raw), base64.RawStdEncoding.EncodeToString(raw),
		base64.URLEncoding.EncodeToString(raw), base64.RawURLEncoding.EncodeToString(raw),
	} {
		if b, err := Decode32(in, errEnc, errSize); err != nil || !bytes.Equal(b, raw) {
			t.Errorf("Decode32(%q) = %x, %v", in, b, err)
		}
	}
	for in, want := range map[string]error{
		"":                           errSize,
		"not a key!!":                errEnc,
		strings.Repeat("zz", 32):     errEnc,
		hex.EncodeToString(raw[:16]): errSize,
		base64.StdEncoding.EncodeToString(raw[:31]): errSize,
	} {
		if _, err := Decode32(in, errEnc, errSize); err != want {
			t.Errorf("Decode32(%q) error = %v, want %v", in, err, want)
		}
	}
}

func TestParseKey(t *testing.T) {
	seed := bytes.Repeat([]byte{0x11}, 32)
	k, diags := ParseKey(hex.EncodeToString(seed), "k-1", "issuer", errEnc, errSize)
	if len(diags) != 0 || k.ID != "k-1" || !k.Priv.Equal(ed25519.NewKeyFromSeed(seed)) {
		t.Fatalf("valid key: %v %v", k, diags)
	}
	pub := k.Public()
	if pub.GetKeyId() != "k-1" || !bytes.Equal(pub.GetEd25519(), ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey)) {
		t.Fatalf("Public = %v", pub)
	}
	digest := bytes.Repeat([]byte{0x42}, 32)
	a := k.Attest("C", "bank", digest)
	if a.GetStep() != "C" || a.GetInstitutionId() != "bank" || a.GetKeyId() != "k-1" ||
		!ed25519.Verify(pub.GetEd25519(), order.AttestationMessage("C", "bank", digest), a.GetSignature()) {
		t.Fatalf("attestation does not verify: %v", a)
	}

	_, diags = ParseKey("", "", "acquirer", errEnc, errSize)
	if len(diags) != 2 || diags[0].GetDetail() != "Set attestation_key to the acquirer's 32-byte Ed25519 seed, from env() or file()." ||
		strings.Join(diags[1].GetPath(), "/") != "attestation_key_id" || diags[1].GetSummary() != "Missing attestation key id" {
		t.Fatalf("missing key: %v", diags)
	}
	k, diags = ParseKey("secret!!", "k", "issuer", errEnc, errSize)
	if len(diags) != 1 || k.Priv != nil || diags[0].GetSeverity() != pb.Severity_SEVERITY_ERROR ||
		diags[0].GetDetail() != "attestation_key bad encoding; it must be a 32-byte Ed25519 seed in hex or base64." {
		t.Fatalf("invalid key: %v", diags)
	}
}

type demoConfig struct {
	N int `json:"n"`
}

func TestParse(t *testing.T) {
	parse := func(c *demoConfig) (int, []*pb.Diagnostic) {
		if c.N < 0 {
			return 0, []*pb.Diagnostic{sdk.ErrorDiag([]string{"n"}, "Negative", "n is negative.")}
		}
		return c.N, nil
	}
	if _, _, err := Parse(&pb.ConfigureRequest{ConfigJson: []byte(`{"n":1}`), DataDir: "d"}, "demo", "why", parse); sdk.CodeOf(err) != sdk.CodeInvalidArgument {
		t.Fatalf("no instance id: %v", err)
	}
	n, diags, err := Parse(&pb.ConfigureRequest{InstanceId: "i", ConfigJson: []byte(`{"n":7}`), DataDir: "d"}, "demo", "why", parse)
	if err != nil || n != 7 || len(diags) != 0 {
		t.Fatalf("valid: %v %v %v", n, diags, err)
	}
	_, diags, err = Parse(&pb.ConfigureRequest{InstanceId: "i", ConfigJson: []byte(`{"m":1}`)}, "demo", "why", parse)
	if err != nil || len(diags) != 1 || diags[0].GetSummary() != "Invalid demo configuration" {
		t.Fatalf("undecodable: %v %v", diags, err)
	}
	_, diags, err = Parse(&pb.ConfigureRequest{InstanceId: "i", ConfigJson: []byte(`{"n":-1}`)}, "demo", "demo needs a data dir.", parse)
	if err != nil || len(diags) != 2 || diags[0].GetSummary() != "Negative" ||
		diags[1].GetSummary() != "No data dir" || diags[1].GetDetail() != "demo needs a data dir." || !sdk.HasErrors(diags) {
		t.Fatalf("invalid without data dir: %v %v", diags, err)
	}
}

func TestParseLockout(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	failures, ttl := 5, 300*time.Second
	if d := ParseLockout(nil, nil, &failures, &ttl); d != nil || failures != 5 || ttl != 300*time.Second {
		t.Fatalf("defaults: %v %v %v", d, failures, ttl)
	}
	if d := ParseLockout(f(3), f(60), &failures, &ttl); d != nil || failures != 3 || ttl != time.Minute {
		t.Fatalf("set: %v %v %v", d, failures, ttl)
	}
	d := ParseLockout(f(0), f(30.5), &failures, &ttl)
	if len(d) != 2 || strings.Join(d[0].GetPath(), "/") != "max_failures" || strings.Join(d[1].GetPath(), "/") != "challenge_ttl_seconds" ||
		!strings.Contains(d[0].GetDetail(), "1 to 100") || !strings.Contains(d[1].GetDetail(), "whole number") {
		t.Fatalf("invalid: %v", d)
	}
	if d := ParseLockout(f(101), f(3601), &failures, &ttl); len(d) != 2 {
		t.Fatalf("out of range: %v", d)
	}
}

// TestKeyAttrs: the schema attributes ParseKey reads are both required,
// the seed is sensitive (so the host refuses it as a literal and redacts
// it) and its id is not, and the description names the owner and step.
func TestKeyAttrs(t *testing.T) {
	attrs := KeyAttrs("acquirer", "B")
	if len(attrs) != 2 {
		t.Fatalf("%d attributes, want 2", len(attrs))
	}
	seed, id := attrs[0], attrs[1]
	if seed.GetName() != "attestation_key" || !seed.GetRequired() || !seed.GetSensitive() ||
		!strings.Contains(seed.GetDescription(), "acquirer's") || !strings.Contains(seed.GetDescription(), "step-B") {
		t.Errorf("seed attribute %v", seed)
	}
	if id.GetName() != "attestation_key_id" || !id.GetRequired() || id.GetSensitive() {
		t.Errorf("key id attribute %v", id)
	}
}
