package bench

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"syscall"
	"time"
)

// httpConn is one keep-alive HTTP/1.1 client connection to the API, owned
// by one goroutine (a payer). It writes each request to the socket itself
// and reads the answer itself with http.ReadResponse (Content-Length,
// chunked or close-delimited bodies). net/http.Transport instead hands
// every request to two goroutines of its own per connection (writeLoop,
// readLoop) and the answer back, with a context and a timer per request:
// that hand-off costs the load generator more CPU than the requests.
type httpConn struct {
	addr    string        // host:port of the server
	timeout time.Duration // for one exchange, dial included
	maxIdle time.Duration // a connection idle longer is not reused
	peek    time.Duration // one idle longer is checked before reuse (alive)

	c         net.Conn // nil until the first request, or after a failure
	br        *bufio.Reader
	reused    bool      // c has carried a complete exchange
	idleSince time.Time // end of the last exchange on c
	req       []byte    // the request being sent, reused
	body      bytes.Buffer
}

// Errors of an exchange. None holds a body, a path or a header: those can
// carry tokens and keys.
var (
	// errDial is returned when no connection could be opened.
	errDial = errors.New("bench: http: dial")
	// errBroken is returned when the connection failed after (part of) the
	// request may have reached the server: it is not sent again, since
	// the server may have acted on it.
	errBroken = errors.New("bench: http: connection broke during the exchange")
	// errRequest is returned for a request that cannot be written as
	// HTTP/1.1 (a path or key with spaces or control characters).
	errRequest = errors.New("bench: http: unusable request")
)

// peekAfter is how long a connection must have been idle before do looks
// whether the server closed it (one non-blocking recv; payers under load
// reuse theirs within microseconds and never pay for it).
const peekAfter = time.Second

// Defaults of newHTTPConn: the timeout net/http's Client had in the bench,
// and its Transport's IdleConnTimeout (the daemon closes idle connections
// after two minutes).
const (
	httpTimeout = 30 * time.Second
	httpMaxIdle = time.Minute
)

func newHTTPConn(addr string) *httpConn {
	return &httpConn{addr: addr, timeout: httpTimeout, maxIdle: httpMaxIdle, peek: peekAfter}
}

// do sends one request (body nil for none; apiKey "" for no Authorization)
// and returns the status and body of the answer. The body is valid until
// the next call.
//
// A request is sent at most once: if the write fails on a reused
// connection before any byte of it left this process, the server cannot
// have seen it, and it is written once on a new connection; any later
// failure is errBroken and the connection is dropped.
func (h *httpConn) do(method, path, apiKey string, body []byte) (int, []byte, error) {
	if !token(path) || path[0] != '/' || (apiKey != "" && !token(apiKey)) {
		return 0, nil, errRequest
	}
	h.build(method, path, apiKey, body)
	if h.c != nil {
		// As net/http.Transport's readLoop notices a server closing an idle
		// connection, look before reusing one idle for a while.
		if idle := time.Since(h.idleSince); idle > h.maxIdle || (idle > h.peek && !h.alive()) {
			h.close()
		}
	}
	for attempt := 0; ; attempt++ {
		fresh := h.c == nil
		if fresh {
			c, err := net.DialTimeout("tcp", h.addr, h.timeout)
			if err != nil {
				return 0, nil, fmt.Errorf("%w: %w", errDial, err)
			}
			h.c, h.reused = c, false
			if h.br == nil {
				h.br = bufio.NewReaderSize(c, 4096)
			} else {
				h.br.Reset(c)
			}
		}
		if err := h.c.SetDeadline(time.Now().Add(h.timeout)); err != nil {
			h.close()
			return 0, nil, fmt.Errorf("%w: %w", errBroken, err)
		}
		n, err := h.c.Write(h.req)
		if err == nil {
			break
		}
		reused := h.reused
		h.close()
		if n == 0 && reused && attempt == 0 {
			continue // nothing was sent: the server closed it while idle
		}
		return 0, nil, fmt.Errorf("%w: %w", errBroken, err)
	}
	status, keep, err := h.read()
	if err != nil {
		h.close()
		return 0, nil, fmt.Errorf("%w: %w", errBroken, err)
	}
	if !keep {
		h.close()
	} else {
		h.reused, h.idleSince = true, time.Now()
	}
	return status, h.body.Bytes(), nil
}

// build writes the request into h.req.
func (h *httpConn) build(method, path, apiKey string, body []byte) {
	b := append(h.req[:0], method...)
	b = append(b, ' ')
	b = append(b, path...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, h.addr...)
	b = append(b, "\r\nUser-Agent: switchd-bench\r\n"...)
	if apiKey != "" {
		b = append(b, "Authorization: Bearer "...)
		b = append(b, apiKey...)
		b = append(b, "\r\n"...)
	}
	if body != nil || method == http.MethodPost {
		b = append(b, "Content-Type: application/json\r\nContent-Length: "...)
		b = strconv.AppendInt(b, int64(len(body)), 10)
		b = append(b, "\r\n"...)
	}
	b = append(b, "\r\n"...)
	h.req = append(b, body...)
}

// read reads one answer into h.body and says whether the connection may
// carry another request.
func (h *httpConn) read() (status int, keep bool, err error) {
	res, err := http.ReadResponse(h.br, nil)
	if err != nil {
		return 0, false, err
	}
	defer res.Body.Close()
	h.body.Reset()
	if res.ContentLength > 0 {
		h.body.Grow(int(min(res.ContentLength, 1<<20)))
	}
	if _, err := h.body.ReadFrom(res.Body); err != nil {
		return 0, false, err
	}
	return res.StatusCode, !res.Close, nil
}

// alive reports whether the idle connection can carry a request: the
// server has neither closed it nor sent anything unasked (a 408 before
// closing, say).
func (h *httpConn) alive() bool {
	if h.br.Buffered() > 0 {
		return false
	}
	sc, ok := h.c.(syscall.Conn)
	if !ok {
		return true
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	alive := false
	var b [1]byte
	err = rc.Read(func(fd uintptr) bool {
		_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		alive = err == syscall.EAGAIN // nothing to read, not even EOF
		return true
	})
	return err == nil && alive
}

// close drops the connection; the next request dials a new one.
func (h *httpConn) close() {
	if h.c != nil {
		_ = h.c.Close()
		h.c = nil
	}
}

// token reports whether s is non-empty printable ASCII without spaces, as
// a request path or a bearer key must be to go into a request line or a
// header unescaped.
func token(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f {
			return false
		}
	}
	return true
}
