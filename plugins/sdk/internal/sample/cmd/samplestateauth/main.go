// Command samplestateauth serves the sample host_state authenticator as a
// plugin process, for the conformance kit's own tests.
package main

import (
	"github.com/switchd/switchd/plugins/sdk"
	"github.com/switchd/switchd/plugins/sdk/internal/sample"
)

func main() { sdk.Serve(sample.NewStateAuthenticator(0)) }
