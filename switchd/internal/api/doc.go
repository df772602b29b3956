// Package api is switchd's HTTP API: the merchant and payer endpoints on
// the public listener and the admin endpoints on the admin listener.
package api
