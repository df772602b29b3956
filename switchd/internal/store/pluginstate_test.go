package store_test

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/switchd/switchd/switchd/internal/store"
)

type rec struct{ k, v string }

func readState(t *testing.T, s store.Store, plugin, instance string) []rec {
	t.Helper()
	var out []rec
	err := s.View(context.Background(), func(tx store.Tx) error {
		return tx.PluginState(plugin, instance, func(k, v []byte) error {
			out = append(out, rec{string(k), string(v)})
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestPluginState(t *testing.T) {
	path := filepath.Join(t.TempDir(), "switchd.db")
	s, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	put := func(plugin, instance, k, v string) error {
		return s.Update(ctx, func(tx store.Tx) error { return tx.PutPluginState(plugin, instance, []byte(k), []byte(v)) })
	}
	for _, w := range []struct{ plugin, instance, k, v string }{
		{"card", "bank-a", "b", "2"}, {"card", "bank-a", "a", "1"}, {"card", "bank-a", "c", "3"},
		{"card", "bank-b", "a", "other instance"}, {"banktransfer", "bank-a", "a", "other plugin"},
	} {
		if err := put(w.plugin, w.instance, w.k, w.v); err != nil {
			t.Fatal(err)
		}
	}
	if err := put("card", "bank-a", "b", ""); err != nil { // delete
		t.Fatal(err)
	}
	if err := put("card", "bank-z", "never", ""); err != nil { // delete in an instance with no state
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// Reopened: the records are durable and kept apart per plugin and instance.
	s, err = store.Open(path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	want := map[[2]string][]rec{
		{"card", "bank-a"}:         {{"a", "1"}, {"c", "3"}},
		{"card", "bank-b"}:         {{"a", "other instance"}},
		{"banktransfer", "bank-a"}: {{"a", "other plugin"}},
		{"card", "bank-z"}:         nil,
	}
	for owner, w := range want {
		got := readState(t, s, owner[0], owner[1])
		if len(got) != len(w) {
			t.Fatalf("%v: got %v, want %v", owner, got, w)
		}
		for i := range w {
			if got[i] != w[i] {
				t.Fatalf("%v: got %v, want %v", owner, got, w)
			}
		}
		var has bool
		if err := s.View(ctx, func(tx store.Tx) (err error) { has, err = tx.HasPluginState(owner[0], owner[1]); return err }); err != nil {
			t.Fatal(err)
		}
		if has != (len(w) > 0) {
			t.Fatalf("%v: HasPluginState = %v", owner, has)
		}
	}
}

func TestPluginStateRefusesBadRecords(t *testing.T) {
	s, err := store.Open(filepath.Join(t.TempDir(), "switchd.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	tests := []struct {
		name             string
		plugin, instance string
		key, value       []byte
	}{
		{"no plugin", "", "bank-a", []byte("k"), []byte("v")},
		{"no instance", "card", "", []byte("k"), []byte("v")},
		{"empty key", "card", "bank-a", nil, []byte("v")},
		{"key too long", "card", "bank-a", bytes.Repeat([]byte("k"), store.MaxStateKey+1), []byte("v")},
		{"value too long", "card", "bank-a", []byte("k"), bytes.Repeat([]byte("v"), store.MaxStateValue+1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.Update(ctx, func(tx store.Tx) error {
				if err := tx.PutPluginState("card", "bank-a", []byte("good"), []byte("1")); err != nil {
					return err
				}
				return tx.PutPluginState(tt.plugin, tt.instance, tt.key, tt.value)
			})
			if !errors.Is(err, store.ErrInvalid) {
				t.Fatalf("got %v, want ErrInvalid", err)
			}
			if got := readState(t, s, "card", "bank-a"); len(got) != 0 {
				t.Fatalf("a refused transaction left %v", got)
			}
		})
	}
}
