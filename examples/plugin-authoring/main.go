// Command acmeauth is Acme Bank's step-C authenticator plugin for switchd,
// built outside the switchd module against its public SDK. See README.md.
package main

import (
	"github.com/switchd/switchd/plugins/sdk"

	"example.com/acmebank-auth/acmeauth"
)

func main() { sdk.Serve(acmeauth.New()) }
