package api

import (
	"crypto/subtle"

	"github.com/switchd/switchd/config"
)

// MerchantsByKeyHash builds Options.MerchantByKeyHash over the current
// merchants (a func, so that a reload is seen at once). It compares the
// presented key's SHA-256 with every merchant's APIKeySHA256 in constant
// time and without stopping at a match, so timing reveals neither the key
// nor which merchant it belongs to.
func MerchantsByKeyHash(merchants func() map[string]*config.Merchant) func(sum [32]byte) (string, bool) {
	return func(sum [32]byte) (string, bool) {
		found := ""
		for id, m := range merchants() {
			if m.APIKeySHA256 == ([32]byte{}) {
				continue // no key configured: nothing may match it
			}
			if subtle.ConstantTimeCompare(sum[:], m.APIKeySHA256[:]) == 1 {
				found = id
			}
		}
		return found, found != ""
	}
}
