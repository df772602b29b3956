// Command ocra is the switchd authenticator plugin for step C on the
// issuer's side: RFC 6287 OCRA mutual challenge-response, bound to the order
// digest, with the payer leading. See README.md.
package main

import (
	"os"

	"github.com/switchd/switchd/plugins/internal/authkit"
	"github.com/switchd/switchd/plugins/ocra/ocraplugin"
	"github.com/switchd/switchd/plugins/sdk"
)

// main serves the plugin, as the host starts it (no arguments), or runs
// the operator command "unlock" (see the README).
func main() {
	if len(os.Args) > 1 && os.Args[1] == "unlock" {
		os.Exit(authkit.UnlockMain(ocraplugin.Name, ocraplugin.StateFile, os.Args[2:], os.Stdout, os.Stderr))
	}
	sdk.Serve(ocraplugin.New())
}
