// Package examples holds no code of its own: its tests keep the examples
// from rotting. They build and test the plugin-authoring example, which is
// a separate Go module that `go test ./...` at the root does not descend
// into, and build the root Dockerfile where a Docker engine is available.
//
// The examples themselves:
//
//   - quickstart/: the network `make run` serves (two banks, one store,
//     seeded payers, demo test keys);
//   - checkout/: the demo behind `switchd demo`, a store and two payers
//     driving a running switchd through its HTTP API;
//   - plugin-authoring/: a bank's authenticator written from scratch
//     against the public SDK, in its own module.
package examples
