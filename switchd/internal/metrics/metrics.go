// Package metrics holds switchd's Prometheus collectors, registered on one
// registry that the admin listener serves at /metrics.
package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics are the collectors the daemon records into.
type Metrics struct {
	Registry *prometheus.Registry
	// PaymentsFinal counts payments by the final state they ended in.
	PaymentsFinal *prometheus.CounterVec // labels: state
	// StepSeconds is the latency of each flow step (A, B, C, D, E).
	StepSeconds *prometheus.HistogramVec // labels: step
	// PluginCallSeconds is the latency of each plugin call.
	PluginCallSeconds *prometheus.HistogramVec // labels: plugin, rpc
	// PluginCallErrors counts failed plugin calls by SDK error code.
	PluginCallErrors *prometheus.CounterVec // labels: plugin, rpc, code
	// HTTPRequests counts API requests by route and status code.
	HTTPRequests *prometheus.CounterVec // labels: route, code
	// WebhookDeliveries counts outbox delivery attempts by kind and result.
	WebhookDeliveries *prometheus.CounterVec // labels: kind, result
}

// New creates the collectors on a fresh registry, with the Go and process
// collectors.
func New() *Metrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	buckets := []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}
	m := &Metrics{
		Registry: reg,
		PaymentsFinal: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "switchd", Name: "payments_final_total", Help: "Payments that reached a final state, by state.",
		}, []string{"state"}),
		StepSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "switchd", Name: "step_duration_seconds", Help: "Latency of each flow step (A-E).", Buckets: buckets,
		}, []string{"step"}),
		PluginCallSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "switchd", Name: "plugin_call_duration_seconds", Help: "Latency of plugin calls.", Buckets: buckets,
		}, []string{"plugin", "rpc"}),
		PluginCallErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "switchd", Name: "plugin_call_errors_total", Help: "Failed plugin calls by SDK error code.",
		}, []string{"plugin", "rpc", "code"}),
		HTTPRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "switchd", Name: "http_requests_total", Help: "API requests by route and status code.",
		}, []string{"route", "code"}),
		WebhookDeliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "switchd", Name: "outbox_deliveries_total", Help: "Outbox delivery attempts by kind and result.",
		}, []string{"kind", "result"}),
	}
	reg.MustRegister(m.PaymentsFinal, m.StepSeconds, m.PluginCallSeconds, m.PluginCallErrors, m.HTTPRequests, m.WebhookDeliveries)
	return m
}
