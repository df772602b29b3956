package sdk

import (
	"bytes"
	"maps"
	"slices"

	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
)

// StateMap is a set of state records held in memory, by key, as a host
// keeps one instance's records (see StateHolder): the switch's in-memory
// store for `switchd validate`, the conformance kit, and tests that play
// the host. It is not safe for concurrent use.
type StateMap map[string][]byte

// Apply applies writes in order: a write with an empty value deletes its
// key, any other puts a copy of its value.
func (m StateMap) Apply(writes []*pb.StateWrite) {
	for _, w := range writes {
		if len(w.GetValue()) == 0 {
			delete(m, string(w.GetKey()))
			continue
		}
		m[string(w.GetKey())] = bytes.Clone(w.GetValue())
	}
}

// Records returns the records in key order, as a host streams them to
// LoadState. The values are shared with m.
func (m StateMap) Records() []*pb.StateWrite {
	out := make([]*pb.StateWrite, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, &pb.StateWrite{Key: []byte(k), Value: m[k]})
	}
	return out
}
