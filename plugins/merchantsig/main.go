// Command merchantsig is the switchd authenticator plugin that checks a
// seller's Ed25519 signature over its order terms at step B, on the
// acquirer's side. See README.md.
package main

import (
	"github.com/switchd/switchd/plugins/merchantsig/merchantsigplugin"
	"github.com/switchd/switchd/plugins/sdk"
)

func main() { sdk.Serve(merchantsigplugin.New()) }
