package flow

import (
	"regexp"
	"testing"
	"time"
)

// TestPaymentIDs: payment IDs are "pay_" and 24 characters of 0-9a-v;
// an ID made in a later millisecond sorts after an earlier one (so the
// store keeps payments made together on the same pages), and IDs made in
// the same millisecond still differ.
func TestPaymentIDs(t *testing.T) {
	form := regexp.MustCompile(`^pay_[0-9a-v]{24}$`)
	t0 := time.Date(2026, 11, 26, 3, 0, 0, 0, time.UTC)
	prev := ""
	seen := map[string]bool{}
	for i := range 2000 {
		now := t0.Add(time.Duration(i/4) * time.Millisecond) // four IDs per millisecond
		id := newPaymentID(now)
		if !form.MatchString(id) {
			t.Fatalf("ID %q does not have the form pay_[0-9a-v]{24}", id)
		}
		if seen[id] {
			t.Fatalf("ID %q made twice", id)
		}
		seen[id] = true
		if i%4 == 0 && prev != "" && id <= prev {
			t.Fatalf("ID %q made at %s does not sort after %q made a millisecond earlier", id, now, prev)
		}
		prev = id
	}
	// Far apart: the time prefix orders whole years.
	if a, b := newPaymentID(t0), newPaymentID(t0.AddDate(5, 0, 0)); a >= b {
		t.Fatalf("%q (2026) sorts after %q (2031)", a, b)
	}
}
