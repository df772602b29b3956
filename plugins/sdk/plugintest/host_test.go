package plugintest

import (
	"bytes"
	"strings"
	"testing"

	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
)

// TestHostTake checks the kit's host on its own: which answers it
// commits, and which it reports.
func TestHostTake(t *testing.T) {
	w := func(k string, n int) *pb.StateWrite {
		return &pb.StateWrite{Key: []byte(k), Value: bytes.Repeat([]byte{1}, n)}
	}
	tests := []struct {
		name        string
		on, isError bool
		writes      []*pb.StateWrite
		wantProblem string // "" for none
		wantKeys    int    // committed records after
	}{
		{"well-formed", true, false, []*pb.StateWrite{w("a", 1), w("b", maxStateValue)}, "", 3},
		{"longest key", true, false, []*pb.StateWrite{w(strings.Repeat("k", maxStateKey), 1)}, "", 2},
		{"delete", true, false, []*pb.StateWrite{w("seed", 0)}, "", 0},
		{"empty key", true, false, []*pb.StateWrite{w("", 1)}, "empty key", 1},
		{"key too long", true, false, []*pb.StateWrite{w("a", 1), w(strings.Repeat("k", maxStateKey+1), 1)}, "513-byte key", 1},
		{"value too long", true, false, []*pb.StateWrite{w("a", maxStateValue+1)}, "65537-byte value", 1},
		{"writes on an error", true, true, []*pb.StateWrite{w("a", 1)}, "error answer carries none", 1},
		{"writes without the capability", false, false, []*pb.StateWrite{w("a", 1)}, "without the \"host_state\" capability", 1},
		{"no writes on an error", true, true, nil, "", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHost(nil, tt.on)
			h.commit("bank", []*pb.StateWrite{w("seed", 1)})
			h.take("Debit p1", "bank", tt.writes, tt.isError)
			switch {
			case tt.wantProblem == "" && len(h.problems) > 0:
				t.Errorf("problems %q, want none", h.problems)
			case tt.wantProblem != "" && (len(h.problems) == 0 || !strings.Contains(strings.Join(h.problems, "\n"), tt.wantProblem)):
				t.Errorf("problems %q, want one containing %q", h.problems, tt.wantProblem)
			}
			if got := len(h.records("bank")); got != tt.wantKeys {
				t.Errorf("%d records committed, want %d (an answer is committed whole or not at all)", got, tt.wantKeys)
			}
		})
	}
}

// TestHostSecrets checks that a record holding a secret is reported
// (rule 5), wherever in the key or value it sits.
func TestHostSecrets(t *testing.T) {
	tests := []struct {
		name  string
		write *pb.StateWrite
		want  bool
	}{
		{"journal entry", &pb.StateWrite{Key: []byte("op/DEBIT/p1"), Value: []byte(`{"amount":1000}`)}, false},
		{"card number in a value", &pb.StateWrite{Key: []byte("op/DEBIT/p1"), Value: []byte(`{"pan":"4111111111111111"}`)}, true},
		{"key in a key", &pb.StateWrite{Key: []byte("k/00112233445566778899"), Value: []byte{1}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHost(nil, true)
			h.secrets = [][]byte{[]byte("4111111111111111"), []byte("00112233445566778899")}
			h.take("Debit p1", "bank", []*pb.StateWrite{tt.write}, false)
			got := strings.Contains(strings.Join(h.problems, "\n"), "rule 5")
			if got != tt.want {
				t.Errorf("reported %v (%q), want %v", got, h.problems, tt.want)
			}
			for _, sec := range h.secrets {
				if strings.Contains(strings.Join(h.problems, "\n"), string(sec)) {
					t.Errorf("the report repeats a secret")
				}
			}
		})
	}
}

// TestHostRecordsInKeyOrder checks that LoadState gets the records in key
// order, as the contract says.
func TestHostRecordsInKeyOrder(t *testing.T) {
	h := newHost(nil, true)
	h.commit("bank", []*pb.StateWrite{{Key: []byte("op/b"), Value: []byte{1}}, {Key: []byte("acct/1"), Value: []byte{2}}, {Key: []byte("op/a"), Value: []byte{3}}})
	var keys []string
	for _, r := range h.records("bank") {
		keys = append(keys, string(r.GetKey()))
	}
	if got := strings.Join(keys, " "); got != "acct/1 op/a op/b" {
		t.Errorf("records in order %q, want key order", got)
	}
}
