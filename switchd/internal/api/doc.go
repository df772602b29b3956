// Package api is switchd's HTTP API: JSON under /v1, merchant and payer
// endpoints on the public listener (Server.PublicHandler) and operator
// endpoints on the admin listener (Server.AdminHandler).
//
// # Conventions
//
// Request bodies are JSON with Content-Type: application/json (charset
// utf-8 if given), at most Limits.MaxBodyBytes (64 KiB), nested at most
// Limits.MaxJSONDepth (32) levels, exactly one JSON value, and, where the
// body is decoded by the API, no unknown fields. Responses are JSON with
// Cache-Control: no-store. Times are RFC 3339 in UTC. Money is an integer
// count of the currency's minor unit (amount_minor) and, in responses,
// also a decimal string with exactly the currency's ISO 4217 places
// (amount: "12.34" EUR, "5000" KRW, "1.005" BHD).
//
// # Errors
//
// Every error is an RFC 9457 problem, Content-Type:
// application/problem+json:
//
//	{"type": "https://switchd.dev/problems/<code>", "title": "...", "status": 400,
//	 "detail": "...", "code": "<code>",
//	 "errors": [{"field": "amount", "message": "..."}]}   // validation errors only
//
// decline_code is added to declined problems and diagnostics to
// reload_failed. Clients branch on code, never on title or detail. Codes:
//
//	code                     status  meaning
//	unauthorized             401     missing, malformed or unknown API key (WWW-Authenticate: Bearer)
//	not_found                404     no such route, payment, token or outbox message; identical for
//	                                 another merchant's payment and a nonexistent one
//	method_not_allowed       405     the route exists but not with this method (Allow lists them)
//	invalid_request          400     malformed JSON, trailing data, wrong types, invalid values; errors
//	                                 lists every bad field at once
//	unknown_field            400     a field the endpoint does not define; errors names it
//	body_too_large           413     body over Limits.MaxBodyBytes
//	json_too_deep            400     nesting over Limits.MaxJSONDepth (checked before decoding)
//	unsupported_media_type   415     Content-Type is not application/json
//	idempotency_key_invalid  400     Idempotency-Key is empty, over 255 bytes or not printable ASCII
//	idempotency_conflict     409     Idempotency-Key reused with a different request
//	unroutable               422     no issuer serves this card BIN or bank code; nothing charged
//	invalid_state            409     the payment's state does not allow this step now
//	payment_expired          410     the payment is past its expiry
//	payment_final            409     the payment already reached a final state
//	declined                 402     a step was declined; decline_code says why
//	rate_limited             429     too many requests; Retry-After gives the seconds to wait
//	plugin_unavailable       503     an institution's plugin cannot be reached; retry later
//	not_ready                503     (admin) the daemon is not ready, or reload is unavailable
//	reload_failed            422     (admin) the new configuration was rejected; old one keeps serving
//	internal                 500     unexpected fault; details are logged, never returned
//
// Nothing is stored for a request that gets a 4xx problem from the API's own
// checks: they all run before the engine is called.
//
// # Merchant endpoints
//
// Authenticated with Authorization: Bearer <api key>. The daemon resolves
// the key by its SHA-256 (Options.MerchantByKeyHash, constant-time). Each
// merchant has a token bucket of Limits.MerchantRate requests per second
// (burst Limits.MerchantBurst).
//
// POST /v1/payments creates a payment. Optional header Idempotency-Key
// (1-255 printable ASCII): a retry with the same key and the same request
// (same method, path and body after decoding, so key order and whitespace
// do not matter) returns the stored first response with header
// Idempotent-Replayed: true; a different request with the same key is
// idempotency_conflict. Body:
//
//	{"amount": "12.34",          // decimal string, or instead:
//	 "amount_minor": 1234,       // integer minor units; exactly one of the two
//	 "currency": "EUR",          // ISO 4217, upper case
//	 "order_ref": "A-1001",      // required, <= 200 bytes
//	 "description": "...",      // optional, <= 1000 bytes
//	 "lines": [{"name": "tea", "quantity": 2, "amount_minor": 617}],   // optional, <= 100
//	 "return_url": "https://shop.example/done",                        // optional, http(s)
//	 "expires_at": "2026-03-01T12:15:00Z",   // optional; default set by the engine
//	 "seller_signature": "<base64>",         // optional Ed25519 over the order terms,
//	 "seller_key_id": "k1",                  //   with the key id
//	 "signed_at_unix_ms": 1772366400000}     //   and signing time
//
// 201 Created, Location: /v1/payments/{id}, body: the payment (below) plus
// payment_page_url and pay_token, the payer's capability token. These two
// are returned only by the first create: the token is never stored, so an
// idempotent replay returns the payment without them.
//
// A payment, as every merchant endpoint renders it (package resource):
//
//	{"id": "pay_...", "object": "payment", "status": "created", "decline_code": "...",
//	 "amount": "12.34", "amount_minor": 1234, "currency": "EUR",
//	 "merchant_id": "shop", "acquirer_id": "bank-a", "issuer_id": "bank-b",
//	 "method": "card", "instrument": "Visa •••• 4242", "last4": "4242",
//	 "order_ref": "A-1001", "description": "...", "lines": [...], "return_url": "...",
//	 "expires_at": "...", "created_at": "...", "updated_at": "...", "credit_reference": "..."}
//
// status is one of created, method_chosen, seller_authenticated,
// payer_authenticated, paid (in progress) or approved, refused, declined,
// expired, cancelled, failed (final).
//
// GET /v1/payments/{id} returns the payment. Another merchant's payment is
// not_found, byte for byte the same answer as an id that does not exist.
//
// GET /v1/payments?limit=20&cursor=... lists the merchant's own payments,
// newest first: {"data": [payment...], "next_cursor": "..."}; limit is 1 to
// 100 (default 20); pass next_cursor back as cursor until it is absent.
//
// POST /v1/payments/{id}/cancel cancels a payment before the payer has
// authenticated (states created, method_chosen, seller_authenticated), when
// no money can have moved; no body. 200 with the payment, or payment_final
// / invalid_state.
//
// GET /v1/payments/{id}/qr.png returns a PNG QR code (320 px, medium error
// correction) of the payment page URL, for an offline store to show at the
// counter; the payer's phone camera opens the page. The URL's capability
// token is derived, not stored, so the code can be fetched again at any
// time; payment_final once the payment has ended.
//
// GET /v1/payments/{id}/events returns the payment's timeline, oldest first:
// {"data": [{"seq": 1, "at": "...", "type": "payment.created", "from": "", "to": "created", "detail": ""}]}.
//
// # Payer endpoints
//
// Used by the payment page (/pay/{token}, package page). The payer is
// identified only by the capability token in the path, never by the payment
// id; a token that is unknown, altered or malformed is not_found. Steps that
// call an institution (method, auth and enrol begin/finish) share a token
// bucket per token of Limits.PayerRate per second (burst Limits.PayerBurst).
//
// GET /v1/pay/{token} returns the payer's view:
//
//	{"payment": {"id", "state", "decline_code", "merchant_id", "acquirer_id", "issuer_id",
//	             "amount", "amount_minor", "currency", "method", "instrument", "order_ref",
//	             "description", "lines", "return_url", "expires_at"},
//	 "merchant_name": "Tea Shop", "acquirer_name": "...", "issuer_name": "...",
//	 "methods": ["card", "bank_transfer"],
//	 "banks": [{"id": "bank-b", "name": "Bank B", "bank_code": "BBBB"}],
//	 "mechanism": "ocra",        // after step B: "ocra" or "webauthn"
//	 "digest_hex": "..."}        // once the order is complete: the page recomputes it
//
// POST /v1/pay/{token}/method chooses the method (step A, then B):
//
//	{"method": "card", "card": {"number": "4111111111111111", "expiry_month": 12, "expiry_year": 2030}}
//	{"method": "bank_transfer", "account": {"bank_code": "BBBB", "account_number": "12345678"}}
//
// The card number must be 12-19 digits with a valid check digit and the
// expiry not past; the account fields letters and digits. 200 with the
// payer's view. The card number and account number are never logged,
// echoed, or put in an error, not even one the engine returns.
//
// POST /v1/pay/{token}/auth/begin and /auth/finish run step C; POST
// /v1/pay/{token}/enroll/begin and /enroll/finish enrol a passkey. The body
// is the authenticator's payer_data, any JSON object, passed through
// unchanged (OCRA: {"client_challenge": "..."} then {"client_response":
// "..."}; WebAuthn: the browser's credential JSON). begin answers
//
//	{"mechanism": "ocra", "challenge_data": {...authenticator JSON...}, "digest_hex": "..."}
//
// auth/finish answers with the payer's view (usually final by then), and
// enroll/finish with {"enrolled": true}.
//
// # Admin endpoints
//
// On the admin listener only, without authentication of their own: bind it
// to loopback or a private network.
//
//	GET  /healthz                        200 {"status": "ok"} while the process serves
//	GET  /readyz                         200 {"status": "ready"}, or 503 not_ready with the reason
//	GET  /v1/admin/status                200 AdminDeps.Status as JSON (institutions; plugins with name, version, kinds, path, sha256, healthy, message, pid, restarts)
//	POST /v1/admin/reload                200 {"reloaded": true, "diagnostics": "..."} or 422 reload_failed
//	POST /v1/admin/outbox/{id}/resend    202 {"resent": id}: the webhook is delivered again
//	GET  /v1/admin/backup                200 a consistent copy of the database, taken while serving
//	GET  /metrics                        Prometheus text format (Options.Metrics.Registry)
//	GET  /debug/pprof/...                net/http/pprof, registered on this mux only
//
// # Logging and metrics
//
// Every request is logged once at Info ("http request") with the route
// pattern (e.g. "POST /v1/pay/{token}/method"), status, size, duration and
// the merchant id when authenticated: never the raw path (it holds payer
// tokens), the query, headers (Authorization) or the body. Requests are
// counted in switchd_http_requests_total{route, code} by the same pattern;
// requests that match no route (or use a method the route does not have)
// are counted as route "unmatched". A non-canonical path (//, /./, /../,
// a trailing slash) is not_found rather than redirected.
package api
