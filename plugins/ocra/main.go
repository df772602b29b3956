// Command ocra is the switchd authenticator plugin for step C on the
// issuer's side: RFC 6287 OCRA mutual challenge-response, bound to the order
// digest, with the payer leading. See README.md.
package main

import (
	"github.com/switchd/switchd/plugins/ocra/ocraplugin"
	"github.com/switchd/switchd/plugins/sdk"
)

func main() { sdk.Serve(ocraplugin.New()) }
