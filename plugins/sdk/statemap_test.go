package sdk

import (
	"testing"

	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
)

func TestStateMap(t *testing.T) {
	m := StateMap{}
	value := []byte("2")
	m.Apply([]*pb.StateWrite{
		{Key: []byte("b"), Value: value}, {Key: []byte("a"), Value: []byte("1")}, {Key: []byte("c"), Value: []byte("3")},
		{Key: []byte("c")},                     // a delete
		{Key: []byte("never"), Value: nil},     // a delete of what is not there
		{Key: []byte("a"), Value: []byte("9")}, // a later put wins
	})
	value[0] = 'x' // Apply kept a copy
	got := m.Records()
	want := []struct{ k, v string }{{"a", "9"}, {"b", "2"}}
	if len(got) != len(want) {
		t.Fatalf("records %v, want %v", got, want)
	}
	for i, w := range want {
		if string(got[i].GetKey()) != w.k || string(got[i].GetValue()) != w.v {
			t.Fatalf("record %d = %q:%q, want %q:%q", i, got[i].GetKey(), got[i].GetValue(), w.k, w.v)
		}
	}
}
