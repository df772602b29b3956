package sdk

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"

	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
)

// stateRecorder is a single-unit test double: a StateHolder that keeps what
// it was loaded with and exports a fixed set of records.
type stateRecorder struct {
	*recorder
	mu       sync.Mutex
	loaded   map[string][]*pb.StateWrite
	exported []*pb.StateWrite
	exportIn []string
}

func (s *stateRecorder) LoadState(_ context.Context, id string, records []*pb.StateWrite) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if id == "refuse" {
		return FailedPrecondition("instance %q refuses its state", id)
	}
	s.loaded[id] = records
	return nil
}

func (s *stateRecorder) ExportState(_ context.Context, id, dataDir string) ([]*pb.StateWrite, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.exportIn = append(s.exportIn, id+"@"+dataDir)
	return s.exported, nil
}

// records returns n records whose values are size bytes each.
func records(n, size int) []*pb.StateWrite {
	out := make([]*pb.StateWrite, n)
	for i := range out {
		out[i] = &pb.StateWrite{Key: fmt.Appendf(nil, "k%06d", i), Value: bytes.Repeat([]byte{byte(i)}, size)}
	}
	return out
}

func sameRecords(t *testing.T, got, want []*pb.StateWrite) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d records, want %d", len(got), len(want))
	}
	for i := range want {
		if !bytes.Equal(got[i].GetKey(), want[i].GetKey()) || !bytes.Equal(got[i].GetValue(), want[i].GetValue()) {
			t.Fatalf("record %d: got key %q (%d bytes), want key %q (%d bytes)", i, got[i].GetKey(), len(got[i].GetValue()), want[i].GetKey(), len(want[i].GetValue()))
		}
	}
}

func TestStateRoundTrip(t *testing.T) {
	tests := []struct {
		name    string
		records []*pb.StateWrite
	}{
		{"empty state", nil},
		{"one record", records(1, 10)},
		// 12 MiB in 3 KiB records: 12+ chunks, each under gRPC's 4 MiB limit.
		{"larger than one message", records(4096, 3<<10)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			impl := &stateRecorder{recorder: &recorder{}, loaded: map[string][]*pb.StateWrite{}, exported: tt.records}
			c := dial(t, impl)
			ctx := context.Background()
			if err := c.LoadState(ctx, "bank-a", tt.records); err != nil {
				t.Fatal(err)
			}
			got, ok := impl.loaded["bank-a"]
			if !ok {
				t.Fatal("LoadState did not reach the plugin")
			}
			sameRecords(t, got, tt.records)
			exp, err := c.ExportState(ctx, "bank-a", "/data/bank-a")
			if err != nil {
				t.Fatal(err)
			}
			sameRecords(t, exp, tt.records)
			if len(impl.exportIn) != 1 || impl.exportIn[0] != "bank-a@/data/bank-a" {
				t.Fatalf("ExportState saw %q", impl.exportIn)
			}
		})
	}
}

func TestStateErrors(t *testing.T) {
	ctx := context.Background()
	t.Run("plugin without the capability", func(t *testing.T) {
		c := dial(t, &recorder{})
		if err := c.LoadState(ctx, "bank-a", records(2, 1)); CodeOf(err) != CodeUnimplemented {
			t.Fatalf("LoadState: got %v, want CodeUnimplemented", err)
		}
		if _, err := c.ExportState(ctx, "bank-a", "/d"); CodeOf(err) != CodeUnimplemented {
			t.Fatalf("ExportState: got %v, want CodeUnimplemented", err)
		}
	})
	t.Run("refused load keeps its code", func(t *testing.T) {
		impl := &stateRecorder{recorder: &recorder{}, loaded: map[string][]*pb.StateWrite{}}
		c := dial(t, impl)
		if err := c.LoadState(ctx, "refuse", records(2, 1)); CodeOf(err) != CodeFailedPrecondition {
			t.Fatalf("got %v, want CodeFailedPrecondition", err)
		}
	})
	t.Run("missing instance", func(t *testing.T) {
		impl := &stateRecorder{recorder: &recorder{}, loaded: map[string][]*pb.StateWrite{}}
		c := dial(t, impl)
		if err := c.LoadState(ctx, "", nil); CodeOf(err) != CodeInvalidArgument {
			t.Fatalf("LoadState: got %v, want CodeInvalidArgument", err)
		}
		if _, err := c.ExportState(ctx, "", "/d"); CodeOf(err) != CodeInvalidArgument {
			t.Fatalf("ExportState: got %v, want CodeInvalidArgument", err)
		}
		if len(impl.loaded) != 0 {
			t.Fatalf("a refused load reached the plugin: %v", impl.loaded)
		}
	})
}

func TestStateChunks(t *testing.T) {
	big := records(1, StateChunkBytes+10)
	tests := []struct {
		name    string
		records []*pb.StateWrite
		want    int
	}{
		{"none", nil, 0},
		{"small ones share a chunk", records(100, 100), 1},
		{"a record larger than a chunk is alone", append(records(2, 10), big...), 2},
		{"split by size", records(3, StateChunkBytes/2), 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := StateChunks(tt.records)
			if len(got) != tt.want {
				t.Fatalf("got %d chunks, want %d", len(got), tt.want)
			}
			var all []*pb.StateWrite
			for _, c := range got {
				all = append(all, c...)
			}
			sameRecords(t, all, tt.records)
		})
	}
}
