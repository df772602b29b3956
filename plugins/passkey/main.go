// Command passkey is the switchd authenticator plugin for step C on the
// issuer's side: WebAuthn passkeys, with the challenge bound to the order
// digest and a one-time issuer nonce, plus passkey enrolment. See
// README.md.
package main

import (
	"os"

	"github.com/switchd/switchd/plugins/internal/authkit"
	"github.com/switchd/switchd/plugins/passkey/passkeyplugin"
	"github.com/switchd/switchd/plugins/sdk"
)

// main serves the plugin, as the host starts it (no arguments), or runs
// the operator command "unlock" or "remove" (see the README).
func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "unlock":
			os.Exit(authkit.UnlockMain(passkeyplugin.Name, passkeyplugin.StateFile, os.Args[2:], os.Stdout, os.Stderr))
		case "remove":
			os.Exit(removeMain(os.Args[2:], os.Stdout, os.Stderr))
		}
	}
	sdk.Serve(passkeyplugin.New())
}
