package api

import (
	"crypto/sha256"
	"testing"

	"github.com/switchd/switchd/config"
)

func TestMerchantsByKeyHash(t *testing.T) {
	current := map[string]*config.Merchant{
		"shop": {ID: "shop", APIKeySHA256: sha256.Sum256([]byte("key-shop"))},
	}
	lookup := MerchantsByKeyHash(func() map[string]*config.Merchant { return current })
	tests := []struct {
		name, key, want string
	}{
		{"known key", "key-shop", "shop"},
		{"unknown key", "key-nope", ""},
		{"empty key", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := lookup(sha256.Sum256([]byte(tt.key)))
			if got != tt.want || ok != (tt.want != "") {
				t.Fatalf("lookup(%q) = %q, %v", tt.key, got, ok)
			}
		})
	}
	t.Run("reload is seen", func(t *testing.T) {
		current = map[string]*config.Merchant{"new": {ID: "new", APIKeySHA256: sha256.Sum256([]byte("key-new"))}}
		if id, ok := lookup(sha256.Sum256([]byte("key-new"))); !ok || id != "new" {
			t.Fatalf("new key: %q %v", id, ok)
		}
		if _, ok := lookup(sha256.Sum256([]byte("key-shop"))); ok {
			t.Fatal("removed merchant's key still accepted")
		}
	})
	t.Run("merchant without a key hash accepts nothing", func(t *testing.T) {
		current = map[string]*config.Merchant{"nokey": {ID: "nokey"}}
		if _, ok := lookup([32]byte{}); ok {
			t.Fatal("all-zero hash matched a merchant with no key")
		}
	})
}
