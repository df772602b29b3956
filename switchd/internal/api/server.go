package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/switchd/switchd/switchd/internal/flow"
	"github.com/switchd/switchd/switchd/internal/metrics"
	"github.com/switchd/switchd/switchd/internal/store"
)

// Engine is what the API needs from the flow engine; *flow.Engine
// satisfies it.
type Engine interface {
	CreatePayment(ctx context.Context, merchantID, idemKey, bodyHash string, in flow.CreateInput,
		render func(p *store.Payment, token, pageURL string) (status int, body []byte)) (*flow.CreateResult, error)
	GetPayment(ctx context.Context, merchantID, id string) (*store.Payment, error)
	PageURL(p *store.Payment) string
	ListPayments(ctx context.Context, merchantID, cursor string, limit int) ([]*store.Payment, string, error)
	CancelPayment(ctx context.Context, merchantID, id string) (*store.Payment, error)
	Events(ctx context.Context, merchantID, id string) ([]*store.Event, error)

	PayerView(ctx context.Context, token string) (*flow.PayerView, error)
	ChooseMethod(ctx context.Context, token string, in flow.ChooseInput) (*flow.PayerView, error)
	BeginAuth(ctx context.Context, token string, payerData []byte) (*flow.AuthChallenge, error)
	FinishAuth(ctx context.Context, token string, payerData []byte) (*flow.PayerView, error)
	BeginEnrollment(ctx context.Context, token string, payerData []byte) (*flow.AuthChallenge, error)
	FinishEnrollment(ctx context.Context, token string, payerData []byte) error

	ResendWebhook(ctx context.Context, outboxID string) error
}

// AdminDeps are the daemon functions behind the admin endpoints. Any of
// them may be nil: Ready nil means always ready, Status nil reports an
// empty object, Reload nil answers 503.
type AdminDeps struct {
	// Reload re-reads and applies the configuration. diagnostics describes
	// what was wrong (or warnings) and is returned to the caller.
	Reload func(ctx context.Context) (diagnostics string, err error)
	// Status describes institutions and plugins; it is rendered as JSON.
	Status func(ctx context.Context) any
	// Ready returns nil when the daemon can take payments.
	Ready func() error
	// Backup writes a consistent copy of the daemon's database to w while
	// it keeps serving (bbolt's Tx.WriteTo).
	Backup func(w io.Writer) error
}

// Limits bound what one request or one client may cost. Zero fields take
// the defaults.
type Limits struct {
	// MaxBodyBytes caps a request body (default 64 KiB).
	MaxBodyBytes int64
	// MaxJSONDepth caps nesting of objects and arrays (default 32).
	MaxJSONDepth int
	// MerchantRate and MerchantBurst bound each merchant's API requests
	// (default 100 per second, burst 200).
	MerchantRate  float64
	MerchantBurst int
	// PayerRate and PayerBurst bound the payer's step attempts (choose
	// method, auth and enrolment begin/finish) per payment token (default
	// one per 5 seconds, burst 10).
	PayerRate  float64
	PayerBurst int
}

func (l Limits) withDefaults() Limits {
	if l.MaxBodyBytes <= 0 {
		l.MaxBodyBytes = 64 << 10
	}
	if l.MaxJSONDepth <= 0 {
		l.MaxJSONDepth = 32
	}
	if l.MerchantRate <= 0 {
		l.MerchantRate = 100
	}
	if l.MerchantBurst <= 0 {
		l.MerchantBurst = 200
	}
	if l.PayerRate <= 0 {
		l.PayerRate = 0.2
	}
	if l.PayerBurst <= 0 {
		l.PayerBurst = 10
	}
	return l
}

// Options configure a Server.
type Options struct {
	Engine Engine
	// MerchantByKeyHash resolves the SHA-256 of a presented API key to a
	// merchant id. The function compares in constant time.
	MerchantByKeyHash func(sum [32]byte) (merchantID string, ok bool)
	// PublicURL is the base URL payers and merchants reach the public
	// listener at (e.g. https://pay.example.com). Informational: the
	// engine builds payment page URLs.
	PublicURL string
	Metrics   *metrics.Metrics // nil: no metrics
	Logger    *slog.Logger     // nil: discard
	Admin     AdminDeps
	Limits    Limits
	Now       func() time.Time // nil: time.Now
}

// Server is the HTTP API. It holds no global state: create as many as
// needed (one per test).
type Server struct {
	opts     Options
	limits   Limits
	log      *slog.Logger
	merchant *keyedLimiter[string]
	payer    *keyedLimiter[[32]byte]
	counters *requestCounters // nil without metrics
}

// New creates a Server. Options.Engine and Options.MerchantByKeyHash are
// required.
func New(opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MerchantByKeyHash == nil {
		opts.MerchantByKeyHash = func([32]byte) (string, bool) { return "", false }
	}
	l := opts.Limits.withDefaults()
	s := &Server{
		opts:     opts,
		limits:   l,
		log:      opts.Logger,
		merchant: newKeyedLimiter[string](l.MerchantRate, l.MerchantBurst),
		payer:    newKeyedLimiter[[32]byte](l.PayerRate, l.PayerBurst),
	}
	if opts.Metrics != nil {
		s.counters = &requestCounters{vec: opts.Metrics.HTTPRequests, m: map[routeStatus]prometheus.Counter{}}
	}
	return s
}

// PublicHandler serves the merchant and payer API (/v1/payments...,
// /v1/pay/{token}...). The payment page (/pay/...) is a separate handler
// the daemon mounts beside it.
func (s *Server) PublicHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/v1/payments", methods{
		http.MethodPost: s.merchantOnly(s.createPayment),
		http.MethodGet:  s.merchantOnly(s.listPayments),
	})
	mux.Handle("/v1/payments/{id}", methods{http.MethodGet: s.merchantOnly(s.getPayment)})
	mux.Handle("/v1/payments/{id}/cancel", methods{http.MethodPost: s.merchantOnly(s.cancelPayment)})
	mux.Handle("/v1/payments/{id}/events", methods{http.MethodGet: s.merchantOnly(s.paymentEvents)})
	mux.Handle("/v1/payments/{id}/qr.png", methods{http.MethodGet: s.merchantOnly(s.paymentQR)})

	mux.Handle("/v1/pay/{token}", methods{http.MethodGet: s.payerView})
	mux.Handle("/v1/pay/{token}/method", methods{http.MethodPost: s.payerStep(s.chooseMethod)})
	mux.Handle("/v1/pay/{token}/auth/begin", methods{http.MethodPost: s.payerStep(s.beginAuth)})
	mux.Handle("/v1/pay/{token}/auth/finish", methods{http.MethodPost: s.payerStep(s.finishAuth)})
	mux.Handle("/v1/pay/{token}/enroll/begin", methods{http.MethodPost: s.payerStep(s.beginEnroll)})
	mux.Handle("/v1/pay/{token}/enroll/finish", methods{http.MethodPost: s.payerStep(s.finishEnroll)})

	mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { writeProblem(w, notFound()) }))
	return s.observe(mux)
}

// methods dispatches on the request method; any other method gets a 405
// problem with Allow.
type methods map[string]http.HandlerFunc

func (m methods) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h, ok := m[r.Method]; ok {
		setRoute(w, r)
		h(w, r)
		return
	}
	allow := make([]string, 0, len(m))
	for k := range m {
		allow = append(allow, k)
	}
	slices.Sort(allow)
	w.Header().Set("Allow", strings.Join(allow, ", "))
	writeProblem(w, newProblem(CodeMethodNotAllowed, "This endpoint does not support "+strconv.Quote(r.Method)+"."))
}

// setRoute records the matched route (method and ServeMux pattern) for the
// access log and metrics.
func setRoute(w http.ResponseWriter, r *http.Request) {
	if sw, ok := w.(*statusWriter); ok {
		sw.method, sw.pattern = r.Method, r.Pattern
	}
}

// setMerchant records the authenticated merchant for the access log.
func setMerchant(w http.ResponseWriter, id string) {
	if sw, ok := w.(*statusWriter); ok {
		sw.merchant = id
	}
}

// statusWriter records the status code and size written, and what the
// handlers learnt about the request (route, merchant) for the access log
// and metrics. Handlers reach it as their ResponseWriter: no request
// context copy per request.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int

	method, pattern string // the matched route; empty if none
	merchant        string
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += n
	return n, err
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// route is the route label: "METHOD pattern", or "unmatched".
func (w *statusWriter) route() string {
	if w.method == "" && w.pattern == "" {
		return "unmatched"
	}
	return w.method + " " + w.pattern
}

// routeStatus keys the resolved HTTPRequests counters.
type routeStatus struct {
	method, pattern string
	status          int
}

// requestCounters resolves each (route, status) HTTPRequests counter once:
// WithLabelValues hashes and checks its labels on every call.
type requestCounters struct {
	vec *prometheus.CounterVec
	mu  sync.RWMutex
	m   map[routeStatus]prometheus.Counter
}

// inc counts one request of sw's route and status.
func (c *requestCounters) inc(sw *statusWriter) {
	k := routeStatus{sw.method, sw.pattern, sw.status}
	c.mu.RLock()
	ctr, ok := c.m[k]
	c.mu.RUnlock()
	if !ok {
		ctr = c.vec.WithLabelValues(sw.route(), strconv.Itoa(sw.status))
		c.mu.Lock()
		c.m[k] = ctr
		c.mu.Unlock()
	}
	ctr.Inc()
}

// observe logs every request (method, route pattern, status, duration:
// never the path, which may hold a payer token, nor the body or headers),
// counts it in HTTPRequests by route pattern and status, and turns a panic
// into a 500 problem.
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		next := next
		if p := r.URL.Path; p == "" || p[0] != '/' || cleanPath(p) != p {
			// ServeMux would answer a redirect; an API answers 404.
			next = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { writeProblem(w, notFound()) })
		}
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				route := ""
				if sw.method != "" || sw.pattern != "" {
					route = sw.route()
				}
				s.log.Error("api: panic in handler", "route", route, "panic", fmt.Sprint(v))
				if sw.status == 0 {
					writeProblem(sw, newProblem(CodeInternal, "An unexpected error occurred."))
				}
			}
			if sw.status == 0 {
				sw.status = http.StatusOK
			}
			if s.counters != nil {
				s.counters.inc(sw)
			}
			ctx := r.Context()
			if !s.log.Enabled(ctx, slog.LevelInfo) {
				return
			}
			attrs := make([]slog.Attr, 0, 5)
			attrs = append(attrs, slog.String("route", sw.route()), slog.Int("status", sw.status), slog.Int("bytes", sw.bytes),
				slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000))
			if sw.merchant != "" {
				attrs = append(attrs, slog.String("merchant", sw.merchant))
			}
			s.log.LogAttrs(ctx, slog.LevelInfo, "http request", slog.GroupAttrs("http", attrs...))
		}()
		next.ServeHTTP(sw, r)
	})
}

// Response header values, shared by every response: Header.Set would
// allocate a new one-element slice per header per response. The slices
// have no spare capacity, so an append by anyone copies.
var (
	hdrJSON    = []string{"application/json"}
	hdrProblem = []string{"application/problem+json"}
	hdrNoStore = []string{"no-store"}
	hdrNosniff = []string{"nosniff"}
)

// bufPool holds the buffers responses are encoded into.
var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxPooledBuf is the largest buffer put back in bufPool: a rare large
// response (a long payment list) does not stay in memory.
const maxPooledBuf = 64 << 10

// encodeJSON encodes v as json.Marshal does, followed by a newline, into a
// buffer from bufPool; give it back with putBuf.
func encodeJSON(v any) (*bytes.Buffer, error) {
	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	if err := json.NewEncoder(buf).Encode(v); err != nil {
		putBuf(buf)
		return nil, err
	}
	return buf, nil
}

func putBuf(buf *bytes.Buffer) {
	if buf.Cap() <= maxPooledBuf {
		bufPool.Put(buf)
	}
}

// marshalLine is json.Marshal(v) followed by a newline, in a slice of its
// own.
func marshalLine(v any) ([]byte, error) {
	buf, err := encodeJSON(v)
	if err != nil {
		return nil, err
	}
	defer putBuf(buf)
	return bytes.Clone(buf.Bytes()), nil
}

// writeJSON sends v with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	buf, err := encodeJSON(v)
	if err != nil {
		writeProblem(w, newProblem(CodeInternal, "An unexpected error occurred."))
		return
	}
	writeRaw(w, status, buf.Bytes())
	putBuf(buf)
}

// writeRaw sends body, a JSON document, with status.
func writeRaw(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h["Content-Type"] = hdrJSON
	h["Cache-Control"] = hdrNoStore
	h["X-Content-Type-Options"] = hdrNosniff
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// fail logs an internal error (without secrets) and sends the problem for err.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error, secrets ...string) {
	p := engineProblem(err, secrets...)
	if p.Status >= 500 {
		s.log.Error("api: request failed", "code", p.Code, "err", redact(err.Error(), secrets...))
	}
	writeProblem(w, p)
}

// tokenKey is the rate-limit key for a payer token: its hash, so tokens
// are not kept in memory longer than a request.
func tokenKey(token string) [32]byte { return sum256(token) }

// sum256 is sha256.Sum256([]byte(s)) without a heap copy of s when s is at
// most 128 bytes (tokens, API keys).
func sum256(s string) [32]byte {
	var b [128]byte
	if len(s) > len(b) {
		return sha256.Sum256([]byte(s))
	}
	return sha256.Sum256(b[:copy(b[:], s)])
}

var _ Engine = (*flow.Engine)(nil)

// cleanPath is path.Clean keeping a trailing slash, as ServeMux compares.
func cleanPath(p string) string {
	np := path.Clean(p)
	if strings.HasSuffix(p, "/") && np != "/" {
		np += "/"
	}
	return np
}
