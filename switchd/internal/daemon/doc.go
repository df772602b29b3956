// Package daemon wires switchd together into a running daemon: settings,
// the network configuration, the plugin host, the store, the outbox
// worker, the flow engine and the HTTP listeners.
//
// Start order: open the store (switchd.db), parse and decode the
// configuration (launching every plugin it names and configuring every
// institution's use of each; plugins that list the host_state capability
// keep their records in the store, bucket plugin_state, so it opens
// first), start the outbox worker (which delivers whatever was pending when
// the daemon last stopped), recover interrupted payments, start the expiry
// sweeper, and only then listen on the API and admin addresses.
//
// Reload (SIGHUP or POST /v1/admin/reload) builds the next configuration
// generation completely before it is used: the files are parsed and
// decoded, new plugins are launched, every institution's plugin use is
// configured, and only when all of that succeeded does the engine switch
// to it. A configuration with any error is rejected with its diagnostics
// logged and returned, and the current generation keeps serving. A
// plugin's binary (path or digest) cannot change by reload: that needs a
// restart, and such a reload is rejected saying so. If configuring one of
// the plugin uses fails, the uses already reconfigured are configured back
// to their previous settings.
//
// Plugin uses whose settings did not change are not reconfigured. A plugin
// instance is reconfigured in place (the plugin contract has no separate
// validation call), so while a reload that is finally rejected runs, the
// uses it already reconfigured serve the new settings until they are
// restored; validate a configuration with `switchd validate --plugin-dir`
// before reloading it. A reload that changes a method plugin's token key
// invalidates the instrument tokens of payments that are past step A.
//
// The routes: the public listener serves the API (/v1/...) and the payment
// page (/pay/...); the admin listener serves health, readiness, status,
// reload, webhook resend, metrics and pprof (see package api).
package daemon
