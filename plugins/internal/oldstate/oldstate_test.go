package oldstate

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
)

// readContent is a read function that returns the file's content as one
// record, or fails for a file holding "bad".
func readContent(path string) ([]*pb.StateWrite, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if string(b) == "bad" {
		return nil, errors.New("unreadable")
	}
	return []*pb.StateWrite{{Key: []byte("k"), Value: b}}, nil
}

func TestExport(t *testing.T) {
	tests := []struct {
		name         string
		cur, imp     string // file contents; "" means no file
		want         string // the exported record's value; "" means none
		wantErr      error  // nil, ErrBothFiles, or errAny
		wantCur      bool   // the state file still exists afterwards
		wantImported string // the renamed file's content afterwards; "" means none
	}{
		{name: "neither file"},
		{name: "state file: read, then renamed", cur: "v1", want: "v1", wantImported: "v1"},
		{name: "only the renamed file: read again", imp: "v1", want: "v1", wantImported: "v1"},
		{name: "both files", cur: "a", imp: "b", wantErr: ErrBothFiles, wantCur: true, wantImported: "b"},
		{name: "unreadable state file: not renamed", cur: "bad", wantErr: errAny, wantCur: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "state.db")
			for p, c := range map[string]string{path: tt.cur, path + ImportedSuffix: tt.imp} {
				if c != "" {
					if err := os.WriteFile(p, []byte(c), 0o600); err != nil {
						t.Fatal(err)
					}
				}
			}
			recs, err := Export(path, readContent)
			switch {
			case tt.wantErr == nil && err != nil:
				t.Fatalf("err = %v", err)
			case tt.wantErr == errAny && err == nil, tt.wantErr != nil && tt.wantErr != errAny && !errors.Is(err, tt.wantErr):
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			got := ""
			if len(recs) == 1 {
				got = string(recs[0].GetValue())
			}
			if got != tt.want || len(recs) > 1 {
				t.Fatalf("exported %v, want %q", recs, tt.want)
			}
			if _, err := os.Stat(path); (err == nil) != tt.wantCur {
				t.Errorf("state file exists = %v, want %v", err == nil, tt.wantCur)
			}
			b, _ := os.ReadFile(path + ImportedSuffix)
			if string(b) != tt.wantImported {
				t.Errorf("renamed file holds %q, want %q", b, tt.wantImported)
			}
		})
	}
}

// errAny stands for "some error" in the table.
var errAny = errors.New("any error")
