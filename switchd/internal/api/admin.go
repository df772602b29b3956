package api

import (
	"net/http"
	"net/http/pprof"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// AdminHandler serves the admin listener: health, readiness, status,
// reload, webhook resend, Prometheus metrics and pprof. It has no
// authentication of its own; bind it to loopback or a private network.
func (s *Server) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/healthz", methods{http.MethodGet: func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	}})
	mux.Handle("/readyz", methods{http.MethodGet: s.ready})
	mux.Handle("/v1/admin/status", methods{http.MethodGet: s.status})
	mux.Handle("/v1/admin/reload", methods{http.MethodPost: s.reload})
	mux.Handle("/v1/admin/outbox/{id}/resend", methods{http.MethodPost: s.resend})
	mux.Handle("/v1/admin/backup", methods{http.MethodGet: s.backup})
	if s.opts.Metrics != nil {
		mux.Handle("/metrics", methods{http.MethodGet: promhttp.HandlerFor(s.opts.Metrics.Registry, promhttp.HandlerOpts{}).ServeHTTP})
	}
	// pprof, registered explicitly: nothing touches http.DefaultServeMux.
	mux.Handle("/debug/pprof/", methods{http.MethodGet: pprof.Index})
	mux.Handle("/debug/pprof/cmdline", methods{http.MethodGet: pprof.Cmdline})
	mux.Handle("/debug/pprof/profile", methods{http.MethodGet: pprof.Profile})
	mux.Handle("/debug/pprof/symbol", methods{http.MethodGet: pprof.Symbol, http.MethodPost: pprof.Symbol})
	mux.Handle("/debug/pprof/trace", methods{http.MethodGet: pprof.Trace})
	mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { writeProblem(w, notFound()) }))
	return s.observe(mux)
}

// backup streams a consistent snapshot of the daemon's database, taken in
// one read transaction while payments go on. A failure after the first byte
// cannot become a problem document any more; the connection is then cut, so
// a truncated file is never mistaken for a whole one.
func (s *Server) backup(w http.ResponseWriter, r *http.Request) {
	if s.opts.Admin.Backup == nil {
		writeProblem(w, newProblem(CodeNotReady, "Backups are not available in this process."))
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Disposition", `attachment; filename="switchd.db"`)
	h.Set("Cache-Control", "no-store")
	if err := s.opts.Admin.Backup(w); err != nil {
		s.opts.Logger.Error("backup failed", "err", err)
		panic(http.ErrAbortHandler)
	}
}

func (s *Server) ready(w http.ResponseWriter, r *http.Request) {
	if s.opts.Admin.Ready != nil {
		if err := s.opts.Admin.Ready(); err != nil {
			writeProblem(w, newProblem(CodeNotReady, err.Error()))
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	var v any = map[string]any{}
	if s.opts.Admin.Status != nil {
		v = s.opts.Admin.Status(r.Context())
	}
	writeJSON(w, http.StatusOK, v)
}

// reloadResponse reports an accepted reload.
type reloadResponse struct {
	Reloaded    bool   `json:"reloaded"`
	Diagnostics string `json:"diagnostics,omitempty"`
}

func (s *Server) reload(w http.ResponseWriter, r *http.Request) {
	if s.opts.Admin.Reload == nil {
		writeProblem(w, newProblem(CodeNotReady, "Reload is not available in this process."))
		return
	}
	diags, err := s.opts.Admin.Reload(r.Context())
	if err != nil {
		p := newProblem(CodeReloadFailed, "The new configuration was rejected; the previous one keeps serving.")
		p.Diagnostics = diags
		if p.Diagnostics == "" {
			p.Diagnostics = err.Error()
		}
		s.log.Warn("api: reload rejected", "err", err)
		writeProblem(w, p)
		return
	}
	writeJSON(w, http.StatusOK, reloadResponse{Reloaded: true, Diagnostics: diags})
}

func (s *Server) resend(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if err := s.opts.Engine.ResendWebhook(r.Context(), id); err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]string{"resent": id})
}
