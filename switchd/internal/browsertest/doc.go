// Package browsertest drives the payer's payment page (package page) in a
// real headless Chromium against a real switchd daemon with its plugin
// subprocesses, bbolt files and a local webhook receiver. It has no
// non-test code: the tests are the product.
//
// What the tests cover:
//
//   - bank transfer with OCRA mutual authentication, the payer's answers
//     computed by switchd/wallet from what the page shows;
//   - card with a passkey, enrolled and used through Chromium's virtual
//     authenticator (CDP WebAuthn domain);
//   - dynamic linking: the stored amount is changed while the daemon is
//     stopped, and step C then fails with nothing charged;
//   - expiry: an expired payment shows as expired and cannot be paid;
//   - the page's Content-Security-Policy, its Korean text by
//     Accept-Language, and no console errors or exceptions on any page.
//
// Every step is saved as a PNG under
// $TMPDIR/switchd-screenshots/<test>/NN-step.png; the tests print the
// folder. Chromium is /usr/bin/chromium (or $SWITCHD_CHROMIUM, or chromium
// on PATH). Without it the tests fail when CI=true and skip otherwise.
package browsertest
