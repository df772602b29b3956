package outbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/switchd/switchd/switchd/internal/store"
	"github.com/switchd/switchd/switchd/internal/webhook"
)

// WebhookHandler returns the Handler for store.KindWebhook: it POSTs
// m.Body as JSON to the merchant's URL, signed the Standard Webhooks way
// with the merchant's secret, with webhook-id = m.ID on every attempt (a
// fresh webhook-timestamp and signature each time).
//
// A 2xx answer is delivered. 4xx other than 408 and 429 is permanent (the
// receiver rejects the message; an admin can Resend it after fixing
// things). Anything else — 408, 429, 5xx, 3xx (redirects are not
// followed), network errors, timeouts — is retried. A merchant without a
// URL and secret, or with an unusable secret, is permanent too.
//
// secretFor looks up the merchant's webhook URL and secret. client may be
// nil for a client with a 30s timeout that keeps up to 64 idle
// connections per receiver (net/http's default of 2 would close and
// reopen connections whenever more than two deliveries to one shop run at
// once). Errors name the receiver's host,
// never the secret, the full URL or the body.
func WebhookHandler(secretFor func(merchantID string) (url, secret string, ok bool), client *http.Client) Handler {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 64
	c := http.Client{Timeout: 30 * time.Second, Transport: t}
	if client != nil {
		c = *client
	}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return func(ctx context.Context, m *store.OutboxMessage) error {
		target, secret, ok := secretFor(m.MerchantID)
		if !ok || target == "" || secret == "" {
			return Permanent(fmt.Errorf("%w: merchant %q", ErrNoEndpoint, m.MerchantID))
		}
		u, err := url.Parse(target)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return Permanent(fmt.Errorf("%w: merchant %q has an invalid webhook URL", ErrNoEndpoint, m.MerchantID))
		}
		headers, err := webhook.Sign(secret, m.ID, time.Now(), m.Body)
		if err != nil {
			return Permanent(fmt.Errorf("outbox: webhook for merchant %q: %w", m.MerchantID, err))
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(m.Body))
		if err != nil {
			return Permanent(fmt.Errorf("outbox: webhook request to %s: %w", u.Host, err))
		}
		for k, v := range headers {
			req.Header[k] = v
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("User-Agent", "switchd-webhook/1")
		resp, err := c.Do(req)
		if err != nil {
			var uerr *url.Error
			if errors.As(err, &uerr) {
				err = uerr.Err // drop the URL, which may carry credentials
			}
			return fmt.Errorf("outbox: POST to %s: %w", u.Host, err)
		}
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		switch code := resp.StatusCode; {
		case code >= 200 && code < 300:
			return nil
		case code >= 400 && code < 500 && code != http.StatusRequestTimeout && code != http.StatusTooManyRequests:
			return Permanent(fmt.Errorf("%w: %s answered %d", ErrStatus, u.Host, code))
		default:
			return fmt.Errorf("%w: %s answered %d", ErrStatus, u.Host, code)
		}
	}
}
