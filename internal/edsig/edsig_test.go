package edsig

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"testing"

	voi "github.com/oasisprotocol/curve25519-voi/primitives/ed25519"
)

// mustHex decodes a test vector.
func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestSignMatchesStdlib: Sign makes the bytes crypto/ed25519.Sign makes,
// for the RFC 8032 test 1 key and for random keys and messages.
func TestSignMatchesStdlib(t *testing.T) {
	seed := mustHex(t, "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
	want := mustHex(t, "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b")
	if got := Sign(ed25519.NewKeyFromSeed(seed), nil); !bytes.Equal(got, want) {
		t.Fatalf("RFC 8032 test 1: got %x", got)
	}
	for i := range 50 {
		_, priv, _ := ed25519.GenerateKey(rand.Reader)
		msg := make([]byte, i*7)
		rand.Read(msg)
		if got, want := Sign(priv, msg), ed25519.Sign(priv, msg); !bytes.Equal(got, want) {
			t.Fatalf("message of %d bytes: got %x, crypto/ed25519 %x", len(msg), got, want)
		}
	}
}

// edgeCases are public keys, messages and signatures on which Ed25519
// implementations are known to disagree: the 12 cases of "Taming the many
// EdDSAs" (Chalkias, Garillot, Nikolaenko 2020), from
// github.com/novifinancial/ed25519-speccheck scripts/cases.json (small-order
// and mixed-order A and R, cofactored against cofactorless equations, S
// not reduced, non-canonical R and A), plus a valid one. Verify must
// decide each as crypto/ed25519 does.
var edgeCases = []struct{ name, pub, msg, sig string }{
	{"valid (RFC 8032 test 2)",
		"3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
		"92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"},
	{"speccheck 0: small-order A and R",
		"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
		"8c93255d71dcab10e8f379c26200f3c7bd5f09d9bc3068d3ef4edeb4853022b6",
		"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a0000000000000000000000000000000000000000000000000000000000000000"},
	{"speccheck 1: small-order A, mixed-order R",
		"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
		"9bd9f44f4dcc75bd531b56b2cd280b0bb38fc1cd6d1230e14861d861de092e79",
		"f7badec5b8abeaf699583992219b7b223f1df3fbbea919844e3f7c554a43dd43a5bb704786be79fc476f91d3f3f89b03984d8068dcf1bb7dfc6637b45450ac04"},
	{"speccheck 2: mixed-order A, small-order R",
		"f7badec5b8abeaf699583992219b7b223f1df3fbbea919844e3f7c554a43dd43",
		"aebf3f2601a0c8c5d39cc7d8911642f740b78168218da8471772b35f9d35b9ab",
		"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa8c4bd45aecaca5b24fb97bc10ac27ac8751a7dfe1baff8b953ec9f5833ca260e"},
	{"speccheck 3: mixed-order A and R",
		"cdb267ce40c5cd45306fa5d2f29731459387dbf9eb933b7bd5aed9a765b88d4d",
		"9bd9f44f4dcc75bd531b56b2cd280b0bb38fc1cd6d1230e14861d861de092e79",
		"9046a64750444938de19f227bb80485e92b83fdb4b6506c160484c016cc1852f87909e14428a7a1d62e9f22f3d3ad7802db02eb2e688b6c52fcd6648a98bd009"},
	{"speccheck 4: mixed-order A and R",
		"cdb267ce40c5cd45306fa5d2f29731459387dbf9eb933b7bd5aed9a765b88d4d",
		"e47d62c63f830dc7a6851a0b1f33ae4bb2f507fb6cffec4011eaccd55b53f56c",
		"160a1cb0dc9c0258cd0a7d23e94d8fa878bcb1925f2c64246b2dee1796bed5125ec6bc982a269b723e0668e540911a9a6a58921d6925e434ab10aa7940551a09"},
	{"speccheck 5: mixed-order A and R",
		"cdb267ce40c5cd45306fa5d2f29731459387dbf9eb933b7bd5aed9a765b88d4d",
		"e47d62c63f830dc7a6851a0b1f33ae4bb2f507fb6cffec4011eaccd55b53f56c",
		"21122a84e0b5fca4052f5b1235c80a537878b38f3142356b2c2384ebad4668b7e40bc836dac0f71076f9abe3a53f9c03c1ceeeddb658d0030494ace586687405"},
	{"speccheck 6: S > L",
		"442aad9f089ad9e14647b1ef9099a1ff4798d78589e66f28eca69c11f582a623",
		"85e241a07d148b41e47d62c63f830dc7a6851a0b1f33ae4bb2f507fb6cffec40",
		"e96f66be976d82e60150baecff9906684aebb1ef181f67a7189ac78ea23b6c0e547f7690a0e2ddcd04d87dbc3490dc19b3b3052f7ff0538cb68afb369ba3a514"},
	{"speccheck 7: S much larger than L",
		"442aad9f089ad9e14647b1ef9099a1ff4798d78589e66f28eca69c11f582a623",
		"85e241a07d148b41e47d62c63f830dc7a6851a0b1f33ae4bb2f507fb6cffec40",
		"8ce5b96c8f26d0ab6c47958c9e68b937104cd36e13c33566acd2fe8d38aa19427e71f98a473474f2f13f06f97c20d58cc3f54b8bd0d272f42b695dd7e89a8c22"},
	{"speccheck 8: non-canonical R (1)",
		"f7badec5b8abeaf699583992219b7b223f1df3fbbea919844e3f7c554a43dd43",
		"9bedc267423725d473888631ebf45988bad3db83851ee85c85e241a07d148b41",
		"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff03be9678ac102edcd92b0210bb34d7428d12ffc5df5f37e359941266a4e35f0f"},
	{"speccheck 9: non-canonical R (2)",
		"f7badec5b8abeaf699583992219b7b223f1df3fbbea919844e3f7c554a43dd43",
		"9bedc267423725d473888631ebf45988bad3db83851ee85c85e241a07d148b41",
		"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffca8c5b64cd208982aa38d4936621a4775aa233aa0505711d8fdcfdaa943d4908"},
	{"speccheck 10: non-canonical A (1)",
		"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
		"e96b7021eb39c1a163b6da4e3093dcd3f21387da4cc4572be588fafae23c155b",
		"a9d55260f765261eb9b84e106f665e00b867287a761990d7135963ee0a7d59dca5bb704786be79fc476f91d3f3f89b03984d8068dcf1bb7dfc6637b45450ac04"},
	{"speccheck 11: non-canonical A (2)",
		"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
		"39a591f5321bbe07fd5a23dc2f39d025d74526615746727ceefd6e82ae65c06f",
		"a9d55260f765261eb9b84e106f665e00b867287a761990d7135963ee0a7d59dca5bb704786be79fc476f91d3f3f89b03984d8068dcf1bb7dfc6637b45450ac04"},
}

// TestVerifyMatchesStdlib: Verify accepts exactly what crypto/ed25519
// accepts, on the edge cases above, on valid signatures of random keys,
// and on each of them with one bit flipped anywhere in the key, message
// or signature; and a key of the wrong length is refused, not a panic.
func TestVerifyMatchesStdlib(t *testing.T) {
	for _, c := range edgeCases {
		t.Run(c.name, func(t *testing.T) {
			pub, msg, sig := mustHex(t, c.pub), mustHex(t, c.msg), mustHex(t, c.sig)
			want := ed25519.Verify(pub, msg, sig)
			for range 2 { // once expanding the key, once from the cache
				if got := Verify(pub, msg, sig); got != want {
					t.Fatalf("Verify = %v, crypto/ed25519 = %v", got, want)
				}
			}
		})
	}
	accepted := 0
	for i := range 40 {
		pub, priv, _ := ed25519.GenerateKey(rand.Reader)
		msg := []byte(fmt.Sprintf("attestation %d", i))
		sig := ed25519.Sign(priv, msg)
		if !Verify(pub, msg, sig) {
			t.Fatalf("valid signature %d refused", i)
		}
		accepted++
		for _, part := range []struct {
			name string
			b    []byte
		}{{"key", pub}, {"message", msg}, {"signature", sig}} {
			for bit := 0; bit < len(part.b)*8; bit += 1 + i%7 {
				part.b[bit/8] ^= 1 << (bit % 8)
				if got, want := Verify(pub, msg, sig), ed25519.Verify(pub, msg, sig); got != want {
					t.Fatalf("%s bit %d flipped: Verify = %v, crypto/ed25519 = %v", part.name, bit, got, want)
				}
				part.b[bit/8] ^= 1 << (bit % 8)
			}
		}
	}
	if Verify(make([]byte, 31), []byte("m"), make([]byte, 64)) {
		t.Fatal("31-byte key accepted")
	}
	if Verify(make([]byte, 32), []byte("m"), make([]byte, 63)) {
		t.Fatal("63-byte signature accepted")
	}
}

// FuzzVerifyMatchesStdlib: for any key, message and signature, Verify and
// crypto/ed25519.Verify agree. The seeds include valid signatures, so the
// fuzzer mutates around the accepting case too.
func FuzzVerifyMatchesStdlib(f *testing.F) {
	for _, c := range edgeCases {
		f.Add(mustHex(f, c.pub), mustHex(f, c.msg), mustHex(f, c.sig))
	}
	for i := range 4 {
		pub, priv, _ := ed25519.GenerateKey(rand.Reader)
		msg := []byte(fmt.Sprintf("seed %d", i))
		f.Add([]byte(pub), msg, ed25519.Sign(priv, msg))
	}
	f.Fuzz(func(t *testing.T, pub, msg, sig []byte) {
		want := len(pub) == ed25519.PublicKeySize && ed25519.Verify(pub, msg, sig)
		if got := Verify(pub, msg, sig); got != want {
			t.Fatalf("Verify(%x, %x, %x) = %v, crypto/ed25519 = %v", pub, msg, sig, got, want)
		}
	})
}

// TestCacheBounded: past MaxCachedKeys keys, Verify still verifies (without
// caching) and the cache does not grow.
func TestCacheBounded(t *testing.T) {
	keys.Lock()
	saved := keys.m
	keys.m = map[string]*voi.ExpandedPublicKey{}
	for i := range MaxCachedKeys {
		keys.m[fmt.Sprint(i)] = nil
	}
	keys.Unlock()
	defer func() { keys.Lock(); keys.m = saved; keys.Unlock() }()
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	sig := ed25519.Sign(priv, []byte("m"))
	if !Verify(pub, []byte("m"), sig) || Verify(pub, []byte("n"), sig) {
		t.Fatal("a full cache changed a verdict")
	}
	keys.RLock()
	n := len(keys.m)
	keys.RUnlock()
	if n != MaxCachedKeys {
		t.Fatalf("cache holds %d keys, want %d", n, MaxCachedKeys)
	}
}

// BenchmarkVerify compares Verify (cached expanded key) and
// crypto/ed25519.Verify on one attestation-sized message.
//
//	go test -run '^$' -bench . ./internal/edsig/
func BenchmarkVerify(b *testing.B) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	msg := bytes.Repeat([]byte("a"), 96)
	sig := ed25519.Sign(priv, msg)
	b.Run("edsig", func(b *testing.B) {
		for b.Loop() {
			if !Verify(pub, msg, sig) {
				b.Fatal("refused")
			}
		}
	})
	b.Run("crypto-ed25519", func(b *testing.B) {
		for b.Loop() {
			if !ed25519.Verify(pub, msg, sig) {
				b.Fatal("refused")
			}
		}
	})
}

// BenchmarkSign compares Sign and crypto/ed25519.Sign.
func BenchmarkSign(b *testing.B) {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	msg := bytes.Repeat([]byte("a"), 96)
	b.Run("edsig", func(b *testing.B) {
		for b.Loop() {
			Sign(priv, msg)
		}
	})
	b.Run("crypto-ed25519", func(b *testing.B) {
		for b.Loop() {
			ed25519.Sign(priv, msg)
		}
	})
}
