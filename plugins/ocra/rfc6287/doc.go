// Package rfc6287 implements OCRA, the OATH Challenge-Response Algorithm of
// RFC 6287: parsing an OCRA suite ("OCRA-1:HOTP-SHA256-8:QA08"), building
// the DataInput it defines, and computing the response.
//
// Supported: HOTP-SHA1, HOTP-SHA256 and HOTP-SHA512 with truncation to 4..10
// digits; the data inputs C (counter), Q (challenge, formats A, N and H,
// lengths 04..64), P (PSHA1, PSHA256, PSHA512), S (session information) and
// T (time step in S, M or H). Truncation 0 ("no truncation") is refused
// because the RFC leaves its output format open.
//
// The encodings follow the RFC's reference implementation (Appendix A):
//
//   - C is the counter as 8 bytes, big endian.
//   - Q is 128 bytes. Format A is the challenge's ASCII bytes; format N is
//     the decimal challenge converted to hexadecimal digits; format H is the
//     hexadecimal challenge. For N and H an odd number of hex digits gets a
//     trailing "0" nibble. The bytes are left aligned and padded with zeros
//     on the right.
//   - P is the hash of the PIN/password (see Suite.HashPassword).
//   - S is the session information, left aligned and zero padded to the
//     suite's length.
//   - T is the number of time steps since the Unix epoch, as 8 bytes, big
//     endian (see Suite.TimeSteps).
//
// mutual.go adds switchd's profile of the RFC's mutual challenge-response
// mode, in which the server's challenge is bound to an order digest.
package rfc6287
