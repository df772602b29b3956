package passkeyplugin

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/switchd/switchd/plugins/internal/authkit"
	"github.com/switchd/switchd/plugins/passkey/passkeytest"
	"github.com/switchd/switchd/plugins/sdk"
)

// stop closes the plugin, as stopping switchd does, so that the operator's
// command can open the state file. restart starts it again (closing it
// twice is harmless).
func (f *fixture) stop() {
	f.t.Helper()
	if err := f.p.Close(); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) path() string { return filepath.Join(f.dir, StateFile) }

// update changes the stopped plugin's state file directly, as an earlier
// version or a damaged disk would have left it.
func (f *fixture) update(fn func(inst *bolt.Bucket) error) {
	f.t.Helper()
	db, err := bolt.Open(f.path(), 0o600, nil)
	if err != nil {
		f.t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(func(tx *bolt.Tx) error { return fn(tx.Bucket([]byte("iss"))) }); err != nil {
		f.t.Fatal(err)
	}
}

// dump is every key and value in the stopped plugin's state file, by
// bucket path.
func (f *fixture) dump() map[string]string {
	f.t.Helper()
	db, err := bolt.Open(f.path(), 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		f.t.Fatal(err)
	}
	defer db.Close()
	out := map[string]string{}
	var walk func(prefix string, b *bolt.Bucket) error
	walk = func(prefix string, b *bolt.Bucket) error {
		return b.ForEach(func(k, v []byte) error {
			if v == nil {
				return walk(prefix+string(k)+"/", b.Bucket(k))
			}
			out[prefix+string(k)] = string(v)
			return nil
		})
	}
	if err := db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error { return walk(string(name)+"/", b) })
	}); err != nil {
		f.t.Fatal(err)
	}
	return out
}

// mentions lists the records of the dump that hold b, raw or in one of
// the encodings the file or the plugin use.
func mentions(dump map[string]string, b []byte) []string {
	forms := [][]byte{b, []byte(base64.StdEncoding.EncodeToString(b)), []byte(base64.RawURLEncoding.EncodeToString(b))}
	var hits []string
	for k, v := range dump {
		for _, form := range forms {
			if bytes.Contains([]byte(k), form) || bytes.Contains([]byte(v), form) {
				hits = append(hits, k)
				break
			}
		}
	}
	slices.Sort(hits)
	return hits
}

// TestRemoveLostPhone: the operator removes a payer's passkey from a
// passkey.db written by the plugin. The old passkey's assertions are then
// refused, and the payer enrols a new one with the activation code. Other
// payers keep theirs.
func TestRemoveLostPhone(t *testing.T) {
	f := MustFixture(t, nil)
	lost := f.enrol("alice")
	f.wantApproved(f.pay("alice", lost))
	bob := f.enrol("bob")
	// An assertion made before the removal, for a challenge open at that
	// time.
	o, d := f.order(1000)
	early, err := lost.Get(f.begin("alice", o, d).GetChallengeData(), d)
	if err != nil {
		t.Fatal(err)
	}
	// One failure is recorded; remove must leave it.
	res, _ := f.pay("alice", impostor(t, lost))
	wantDecline(t, res, sdk.DeclineAuthFailed)
	f.stop()
	before := f.dump()
	if len(mentions(before, lost.CredentialID)) == 0 || len(mentions(before, lost.UserHandle)) == 0 {
		t.Fatal("the file does not hold alice's credential id and user handle; the checks below would prove nothing")
	}

	r, err := RemovePayer(f.path(), "iss", "alice")
	if err != nil {
		t.Fatal(err)
	}
	want := Removal{CredentialIDs: []string{base64.RawURLEncoding.EncodeToString(lost.CredentialID)}, Account: true, Lockout: authkit.Lockout{Failures: 1}}
	if !removalEqual(r, want) {
		t.Fatalf("RemovePayer = %+v, want %+v", r, want)
	}
	after := f.dump()
	for name, b := range map[string][]byte{"credential id": lost.CredentialID, "user handle": lost.UserHandle} {
		if hits := mentions(after, b); len(hits) != 0 {
			t.Errorf("alice's %s is still in %v", name, hits)
		}
	}
	for k, v := range before {
		if k != "iss/users/alice" && after[k] != v {
			t.Errorf("record %s changed: %q, was %q", k, after[k], v)
		}
	}
	if len(after) != len(before)-1 {
		t.Errorf("%d records after the removal, want %d", len(after), len(before)-1)
	}

	f.restart()
	// (a) The lost passkey is refused: the answer to the challenge open
	// before, and a fresh answer to a new challenge.
	wantDecline(t, f.finish("alice", o, d, early), DeclineUnknownPayer)
	o, d = f.order(1000)
	if b := f.begin("alice", o, d); b.GetDeclineCode() != DeclineUnknownPayer {
		t.Fatalf("Begin after the removal: %v", b)
	}
	// (b) The payer enrols again with the activation code, and pays with
	// the new passkey.
	phone, err := passkeytest.New(testOrigin)
	if err != nil {
		t.Fatal(err)
	}
	f.enrolWith("alice", phone)
	if bytes.Equal(phone.UserHandle, lost.UserHandle) {
		t.Error("the new passkey has the old user handle")
	}
	f.wantApproved(f.pay("alice", phone))
	// The lost passkey signing the new challenge (a page that ignores
	// allowCredentials) is refused and counted.
	o, d = f.order(1000)
	b := f.begin("alice", o, d)
	if _, err := lost.Get(b.GetChallengeData(), d); !errors.Is(err, passkeytest.ErrNoCredential) {
		t.Fatalf("the new challenge allows the lost passkey: %v", err)
	}
	ans, err := lost.Sign(mustChallenge(t, b.GetChallengeData()))
	if err != nil {
		t.Fatal(err)
	}
	wantDecline(t, f.finish("alice", o, d, ans), sdk.DeclineAuthFailed)
	if st := f.failures("alice"); st.Failures != 1 {
		t.Fatalf("failures after the lost passkey's assertion: %+v", st)
	}
	f.wantApproved(f.pay("alice", phone))
	// Bob was not touched.
	f.wantApproved(f.pay("bob", bob))
}

func removalEqual(a, b Removal) bool {
	return slices.Equal(a.CredentialIDs, b.CredentialIDs) && a.Account == b.Account && a.Enrolment == b.Enrolment &&
		a.Challenges == b.Challenges && a.Lockout == b.Lockout
}

// TestRemovePayer: what RemovePayer removes in each state a payer can be
// in, and that it leaves the other payers' records and every lock alone.
func TestRemovePayer(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(f *fixture) // runs with the plugin running
		edit  func(inst *bolt.Bucket) error
		want  func(f *fixture) Removal
	}{
		{
			name: "nothing stored",
			want: func(*fixture) Removal { return Removal{} },
		},
		{
			name:  "enrolment begun, not finished",
			setup: func(f *fixture) { f.mustBeginEnrol("alice") },
			want:  func(*fixture) Removal { return Removal{Account: true, Enrolment: true} },
		},
		{
			name: "locked, passkey enrolled",
			setup: func(f *fixture) {
				a := f.enrol("alice")
				for range 5 {
					f.pay("alice", impostor(f.t.(*testing.T), a))
				}
			},
			want: func(f *fixture) Removal {
				return Removal{CredentialIDs: f.credentialIDs("alice"), Account: true, Lockout: authkit.Lockout{Failures: 5, Locked: true}}
			},
		},
		{
			name:  "two passkeys and open challenges of an earlier version",
			setup: func(f *fixture) { f.enrol("alice") },
			edit: func(inst *bolt.Bucket) error {
				var rec userRecord
				if _, err := getJSON(inst.Bucket(bucketUsers), []byte("alice"), &rec); err != nil {
					return err
				}
				second := rec.Credentials[0]
				second.ID = []byte("second-credential")
				rec.Credentials = append(rec.Credentials, second)
				if err := putJSON(inst.Bucket(bucketUsers), []byte("alice"), rec); err != nil {
					return err
				}
				pending, err := inst.CreateBucket(bucketPending)
				if err != nil {
					return err
				}
				for _, k := range []string{"alice\x00pay-1", "alice\x00pay-2", "alice2\x00pay-3", "bob\x00pay-4"} {
					if err := pending.Put([]byte(k), []byte(`{}`)); err != nil {
						return err
					}
				}
				return nil
			},
			want: func(f *fixture) Removal {
				return Removal{CredentialIDs: f.credentialIDs("alice"), Account: true, Challenges: 2}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := MustFixture(t, nil)
			f.enrol("bob")
			if tc.setup != nil {
				tc.setup(f)
			}
			f.stop()
			if tc.edit != nil {
				f.update(tc.edit)
			}
			want := tc.want(f)
			before := f.dump()
			r, err := RemovePayer(f.path(), "iss", "alice")
			if err != nil {
				t.Fatal(err)
			}
			if !removalEqual(r, want) || r.Nothing() == (want.Account || want.Enrolment || want.Challenges != 0) {
				t.Fatalf("RemovePayer = %+v (nothing %v), want %+v", r, r.Nothing(), want)
			}
			after := f.dump()
			for k, v := range before {
				ofAlice := k == "iss/users/alice" || k == "iss/enrol/alice" || bytes.HasPrefix([]byte(k), []byte("iss/pending/alice\x00"))
				if got, ok := after[k]; ofAlice == ok || ok && got != v {
					t.Errorf("record %s: removed %v, want %v (or changed)", k, !ok, ofAlice)
				}
			}
			again, err := RemovePayer(f.path(), "iss", "alice")
			if err != nil || !again.Nothing() || again.Lockout != want.Lockout {
				t.Fatalf("second RemovePayer = %+v, %v; want nothing removed, the same lock", again, err)
			}
		})
	}
}

// credentialIDs reads the payer's stored credential ids, base64url, from
// the stopped plugin's state file.
func (f *fixture) credentialIDs(payerRef string) []string {
	f.t.Helper()
	var rec userRecord
	if err := json.Unmarshal([]byte(f.dump()["iss/users/"+payerRef]), &rec); err != nil {
		f.t.Fatal(err)
	}
	var ids []string
	for _, c := range rec.Credentials {
		ids = append(ids, base64.RawURLEncoding.EncodeToString(c.ID))
	}
	return ids
}

func (f *fixture) mustBeginEnrol(payerRef string) {
	f.t.Helper()
	if _, err := f.beginEnrol(payerRef, codeData(testCodes[payerRef])); err != nil {
		f.t.Fatal(err)
	}
}

// TestRemoveKeepsTheLock: a locked payer whose passkey was removed cannot
// enrol until the operator also unlocks them.
func TestRemoveKeepsTheLock(t *testing.T) {
	f := MustFixture(t, map[string]any{"max_failures": 1})
	lost := f.enrol("alice")
	f.pay("alice", impostor(t, lost))
	if !f.failures("alice").Locked {
		t.Fatal("alice is not locked")
	}
	f.stop()
	if r, err := RemovePayer(f.path(), "iss", "alice"); err != nil || !r.Lockout.Locked || len(r.CredentialIDs) != 1 {
		t.Fatalf("RemovePayer = %+v, %v", r, err)
	}
	f.restart()
	_, err := f.beginEnrol("alice", codeData(testCodes["alice"]))
	wantRefused(t, err, sdk.DeclineLocked, "")
	f.stop()
	if _, err := authkit.UnlockPayer(f.path(), "iss", "alice"); err != nil {
		t.Fatal(err)
	}
	f.restart()
	f.wantApproved(f.pay("alice", f.enrol("alice")))
}

// TestRemovePayerErrors: RemovePayer refuses, and changes nothing, when it
// cannot do its job.
func TestRemovePayerErrors(t *testing.T) {
	for _, tc := range []struct {
		name     string
		running  bool // the plugin holds the file
		path     func(f *fixture) string
		instance string
		payer    string
		corrupt  []byte // bucket whose alice record is damaged first
		want     error
	}{
		{name: "file missing", path: func(f *fixture) string { return filepath.Join(f.dir, "nope", StateFile) }, want: fs.ErrNotExist},
		{name: "file in use", running: true, want: authkit.ErrInUse},
		{name: "institution not in the file", instance: "bank_q", want: ErrNotRemoved},
		{name: "empty payer_ref", payer: "-", want: ErrNotRemoved},
		{name: "corrupt passkey record", corrupt: bucketUsers, want: ErrCorruptRecord},
		{name: "corrupt lock record", corrupt: bucketPayers, want: ErrCorruptRecord},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := MustFixture(t, nil)
			f.pay("alice", impostor(t, f.enrol("alice")))
			f.enrol("bob")
			f.stop()
			if tc.corrupt != nil {
				f.update(func(inst *bolt.Bucket) error {
					return inst.Bucket(tc.corrupt).Put([]byte("alice"), []byte(`{"user_id":`))
				})
			}
			before := f.dump()
			if tc.running {
				f.restart()
			}
			path, inst, payer := f.path(), "iss", "alice"
			if tc.path != nil {
				path = tc.path(f)
			}
			if tc.instance != "" {
				inst = tc.instance
			}
			if tc.payer == "-" {
				payer = ""
			}
			r, err := RemovePayer(path, inst, payer)
			if !errors.Is(err, tc.want) || !errors.Is(err, ErrNotRemoved) || !r.Nothing() {
				t.Fatalf("RemovePayer = %+v, %v; want %v", r, err, tc.want)
			}
			if tc.running {
				f.stop()
			}
			if _, err := os.Stat(path); tc.path != nil && !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("RemovePayer created %s", path)
			}
			after := f.dump()
			for k, v := range before {
				if after[k] != v {
					t.Errorf("record %s changed: %q, was %q", k, after[k], v)
				}
			}
			if len(after) != len(before) {
				t.Errorf("%d records, was %d", len(after), len(before))
			}
		})
	}
}
