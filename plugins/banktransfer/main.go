// Command banktransfer is the built-in bank-transfer payment-method plugin
// of switchd. The host launches it. See README.md.
package main

import (
	"github.com/switchd/switchd/plugins/banktransfer/banktransferplugin"
	"github.com/switchd/switchd/plugins/sdk"
)

func main() {
	p := banktransferplugin.New()
	defer p.Close()
	sdk.Serve(p)
}
