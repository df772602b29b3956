package rfc6287

import (
	"errors"
	"testing"
)

func FuzzParseSuite(f *testing.F) {
	for _, v := range rfcVectors {
		f.Add(v.suite)
	}
	for _, s := range []string{"", ":", "::", "OCRA-1::", "OCRA-1:HOTP-SHA1-6:", "OCRA-1:HOTP-SHA1-6:Q", "OCRA-1:HOTP-SHA1-6:QA-1",
		"OCRA-1:HOTP-SHA1-6:QN08-T", "OCRA-1:HOTP-SHA1-6:QN08-T-M", "OCRA-1:HOTP-SHA1-+6:QN08", "OCRA-1:HOTP-SHA1-6:QN08-S+12", "OCRA-1:HOTP-SHA1-6:QN08-T+1M"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		s, err := ParseSuite(raw)
		if err != nil {
			if !errors.Is(err, ErrSuite) {
				t.Fatalf("error %v does not wrap ErrSuite", err)
			}
			return
		}
		if s.Raw != raw || s.Digits < 4 || s.Digits > 10 || s.ChallengeLength < 4 || s.ChallengeLength > 64 {
			t.Fatalf("accepted %q as %+v", raw, s)
		}
		q, err := s.NewChallenge()
		if err != nil {
			t.Fatal(err)
		}
		in := Input{Question: q, Password: s.HashPassword("1234")}
		r, err := s.Compute(key32, in)
		if err != nil {
			t.Fatalf("Compute on a valid suite and challenge: %v", err)
		}
		if len(r) != s.Digits {
			t.Fatalf("response %q is not %d digits", r, s.Digits)
		}
	})
}

func FuzzChallengeResponse(f *testing.F) {
	f.Add("OCRA-1:HOTP-SHA256-8:QA08", "CLI22220", "SRV11110", "15510767")
	f.Add("OCRA-1:HOTP-SHA256-8:QN08", "12345678", "87654321", "00000000")
	f.Add("OCRA-1:HOTP-SHA1-6:QH10", "abcdef0123", "ABCDEF0123", "123456")
	f.Add("OCRA-1:HOTP-SHA256-8:QA08", "CLI2222", "SRV111100", "1551076")
	f.Add("OCRA-1:HOTP-SHA256-8:QA08", "CLI\x00222", "SRV1111\xff", "x")
	f.Fuzz(func(t *testing.T, raw, qc, qs, answer string) {
		s, err := ParseSuite(raw)
		if err != nil {
			return
		}
		rs, err := s.ServerResponse(key32, qc, qs)
		if err != nil {
			if !errors.Is(err, ErrChallenge) && !errors.Is(err, ErrSuite) {
				t.Fatalf("unexpected error class: %v", err)
			}
			return
		}
		rc, err := s.ClientResponse(key32, qs, qc)
		if err != nil {
			t.Fatalf("ServerResponse worked but ClientResponse failed: %v", err)
		}
		if s.CheckResponse(rs) != nil || s.CheckResponse(rc) != nil {
			t.Fatalf("responses %q %q do not have the suite's form", rs, rc)
		}
		_ = s.CheckResponse(answer)
		ok, err := s.Verify(key32, Input{Question: qs + qc}, answer)
		if err != nil {
			t.Fatal(err)
		}
		if ok != (answer == rc) {
			t.Fatalf("Verify(%q) = %v, but the right answer is %q", answer, ok, rc)
		}
	})
}
