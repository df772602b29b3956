// Command passkey is the switchd authenticator plugin for step C on the
// issuer's side: WebAuthn passkeys, with the challenge bound to the order
// digest and a one-time issuer nonce, plus passkey enrolment. See
// README.md.
package main

import (
	"github.com/switchd/switchd/plugins/passkey/passkeyplugin"
	"github.com/switchd/switchd/plugins/sdk"
)

func main() { sdk.Serve(passkeyplugin.New()) }
