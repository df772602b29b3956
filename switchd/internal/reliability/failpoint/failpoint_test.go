package failpoint

import "testing"

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in            string
		point, detail string
		n             int64
		wantErr       bool
	}{
		{in: "store.commit:after@3", point: "store.commit", detail: "after", n: 3},
		{in: "flow.call.before:Debit@1", point: "flow.call.before", detail: "Debit", n: 1},
		{in: "outbox.deliver@12", point: "outbox.deliver", n: 12},
		{in: "store.commit", wantErr: true},
		{in: "store.commit@0", wantErr: true},
		{in: "store.commit@-1", wantErr: true},
		{in: "@3", wantErr: true},
		{in: "store.commit@x", wantErr: true},
	} {
		t.Run(tc.in, func(t *testing.T) {
			point, detail, n, err := Parse(tc.in)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("Parse(%q) accepted", tc.in)
				}
				return
			}
			if err != nil || point != tc.point || detail != tc.detail || n != tc.n {
				t.Fatalf("Parse(%q) = %q, %q, %d, %v", tc.in, point, detail, n, err)
			}
		})
	}
}
