// Command samplestatemethod serves the sample host_state payment method as
// a plugin process, for the conformance kit's own tests.
package main

import (
	"github.com/switchd/switchd/plugins/sdk"
	"github.com/switchd/switchd/plugins/sdk/internal/sample"
)

func main() { sdk.Serve(sample.NewStateMethod(0)) }
