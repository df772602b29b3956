// Command samplemethod serves the sample bank-transfer payment method as a
// plugin process, for the conformance kit's own tests.
package main

import (
	"github.com/switchd/switchd/plugins/sdk"
	"github.com/switchd/switchd/plugins/sdk/internal/sample"
)

func main() { sdk.Serve(sample.NewMethod(0)) }
