// Command card is the built-in card payment-method plugin of switchd. The
// host launches it; run by hand it only explains that. See README.md.
package main

import (
	"github.com/switchd/switchd/plugins/card/cardplugin"
	"github.com/switchd/switchd/plugins/sdk"
)

func main() {
	p := cardplugin.New()
	defer p.Close()
	sdk.Serve(p)
}
