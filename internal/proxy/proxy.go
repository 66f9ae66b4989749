// Package proxy forwards authorized requests to Ray clusters: an
// httputil.ReverseProxy with Rewrite over a tuned Transport, which strips
// the caller's credentials and identity headers, states the caller's
// identity, injects the cluster's Ray token, passes WebSocket upgrades
// through and turns upstream failures into JSON 502/504 answers.
package proxy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/raygate/raygate/internal/config"
	"github.com/raygate/raygate/internal/identity"
	"github.com/raygate/raygate/internal/route"
)

// Upstream failure kinds, used as metric labels.
const (
	ErrKindTimeout  = "timeout"
	ErrKindConnect  = "connect"
	ErrKindTooLarge = "body_too_large"
	ErrKindAuth     = "auth"
	ErrKindCanceled = "canceled"
	ErrKindOther    = "other"
)

// StatusClientClosed is recorded (never sent) when the caller went away
// before the upstream answered.
const StatusClientClosed = 499

// Call is one request on its way to a cluster. The gateway fills it in and
// puts it in the request's context; the proxy reads it, and records what it
// learns from the upstream for the audit log.
type Call struct {
	Cluster   *route.Cluster
	Target    route.Target
	Identity  *identity.Identity
	RequestID string
	// RayToken, when set, is sent to Ray instead of the cluster's token:
	// the caller's own ServiceAccount token, for a cluster where Ray checks
	// Kubernetes tokens itself.
	RayToken string
	// OnResponse, if not nil, sees the upstream's response before it is
	// relayed (and may read and restore its body); an error turns into a
	// 502.
	OnResponse func(*http.Response) error

	// Set by the proxy.
	ErrorKind string // one of the ErrKind constants after an upstream failure
}

type callKey struct{}

// WithCall returns ctx carrying c.
func WithCall(ctx context.Context, c *Call) context.Context {
	return context.WithValue(ctx, callKey{}, c)
}

func callFrom(ctx context.Context) *Call {
	c, _ := ctx.Value(callKey{}).(*Call)
	return c
}

type rayTokenKey struct{}

// WithRayToken returns ctx carrying the token Send passes to Ray instead of
// the cluster's (see Call.RayToken); "" changes nothing.
func WithRayToken(ctx context.Context, token string) context.Context {
	if token == "" {
		return ctx
	}
	return context.WithValue(ctx, rayTokenKey{}, token)
}

func rayTokenFrom(ctx context.Context) string {
	t, _ := ctx.Value(rayTokenKey{}).(string)
	return t
}

// rayToken is what Ray gets: the caller's token where Ray checks
// Kubernetes tokens itself, the cluster's token otherwise.
func rayToken(c *route.Cluster, caller string) string {
	if c.RayChecksKubernetesTokens {
		return caller
	}
	return c.Token
}

// NewTransport returns the upstream transport tuned by cfg. Ray heads speak
// HTTP/1.1; connections are pooled per head.
func NewTransport(cfg config.Proxy) *http.Transport {
	return &http.Transport{
		Proxy: nil, // Ray heads are reached directly, never through an environment proxy
		DialContext: (&net.Dialer{
			Timeout:   cfg.DialTimeout.D(),
			KeepAlive: 30 * time.Second,
		}).DialContext,
		MaxIdleConns:          0, // no global cap; MaxIdleConnsPerHost bounds each head
		MaxIdleConnsPerHost:   cfg.MaxIdleConnsPerHost,
		IdleConnTimeout:       cfg.IdleConnTimeout.D(),
		ResponseHeaderTimeout: cfg.ResponseHeaderTimeout.D(),
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
		ForceAttemptHTTP2:     false,
	}
}

// Proxy forwards requests whose context carries a *Call.
type Proxy struct {
	// ErrorPage, if not nil, answers upstream failures instead of
	// WriteError, so a browser can get a page; set it before serving.
	ErrorPage func(w http.ResponseWriter, r *http.Request, status int, code, msg, requestID string)

	rp        *httputil.ReverseProxy
	transport http.RoundTripper
	log       *slog.Logger
	onError   func(cluster, kind string)
}

// New returns a Proxy over transport. onError, if not nil, is called for
// every upstream failure.
func New(transport http.RoundTripper, log *slog.Logger, onError func(cluster, kind string)) *Proxy {
	p := &Proxy{transport: transport, log: log, onError: onError}
	p.rp = &httputil.ReverseProxy{
		Rewrite:        rewrite,
		Transport:      transport,
		ModifyResponse: modifyResponse,
		ErrorHandler:   p.errorHandler,
		ErrorLog:       slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		// Copy buffers are reused: without a pool ReverseProxy allocates
		// 32 KiB per response, most of what a proxied request allocates,
		// and the garbage collector runs that much more often.
		BufferPool: copyBuffers,
		// FlushInterval 0: responses without a length (log streams) and
		// text/event-stream are flushed as they arrive.
	}
	return p
}

// copyBufferSize is the size of the buffers responses are copied through,
// ReverseProxy's own default.
const copyBufferSize = 32 << 10

// bufferPool is an httputil.BufferPool over a sync.Pool of arrays (a
// pointer to an array goes in and out of the pool without allocating).
type bufferPool struct{ p sync.Pool }

var copyBuffers = &bufferPool{p: sync.Pool{New: func() any { return new([copyBufferSize]byte) }}}

// Get returns a buffer of copyBufferSize bytes.
func (bp *bufferPool) Get() []byte { return bp.p.Get().(*[copyBufferSize]byte)[:] }

// Put returns b to the pool; buffers of another size are dropped.
func (bp *bufferPool) Put(b []byte) {
	if cap(b) < copyBufferSize {
		return
	}
	bp.p.Put((*[copyBufferSize]byte)(b[:copyBufferSize]))
}

// ServeHTTP forwards r, which must carry a *Call in its context.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if callFrom(r.Context()) == nil {
		WriteError(w, http.StatusInternalServerError, "internal", "request has no route", "")
		return
	}
	p.rp.ServeHTTP(w, r)
}

// rewrite builds the upstream request. It runs after ReverseProxy removed
// hop-by-hop and X-Forwarded-* headers.
func rewrite(pr *httputil.ProxyRequest) {
	c := callFrom(pr.In.Context())
	up := c.Cluster.Upstream
	out := pr.Out
	out.URL.Scheme = up.Scheme
	out.URL.Host = up.Host
	out.URL.Path = joinURLPath(up.Path, c.Target.Rest)
	out.URL.RawPath = joinURLPath(up.EscapedPath(), c.Target.RawRest)
	if out.URL.RawPath == out.URL.Path {
		out.URL.RawPath = ""
	}
	out.URL.RawQuery = pr.In.URL.RawQuery
	out.Host = up.Host
	StripClientHeaders(out.Header)
	pr.SetXForwarded()
	f := fields{h: out.Header, vals: make([]string, 0, 6)}
	f.setIdentity(c.Identity, c.RequestID)
	if tok := rayToken(c.Cluster, c.RayToken); tok != "" {
		f.set(HeaderRayAuth, "Bearer "+tok)
	}
	if _, ok := out.Header["User-Agent"]; !ok {
		f.set("User-Agent", "") // do not add Go's default
	}
}

// fields sets header fields whose values share one array, each value a
// slice of its own that holds only it (so that a value appended to one
// field never lands in another's): one allocation for all of them
// instead of one per field. Keys are in canonical form.
type fields struct {
	h    http.Header
	vals []string
}

func (f *fields) set(key, value string) {
	f.vals = append(f.vals, value)
	n := len(f.vals)
	f.h[key] = f.vals[n-1 : n : n]
}

// setIdentity states the caller's identity and the request's id.
func (f *fields) setIdentity(id *identity.Identity, requestID string) {
	if id != nil {
		f.set(HeaderUser, id.User)
		if strings.Contains(id.User, "@") {
			f.set(HeaderEmail, id.User)
		}
		if len(id.Groups) > 0 {
			f.set(HeaderGroups, strings.Join(id.Groups, ","))
		}
	}
	if requestID != "" {
		f.set(HeaderRequestID, requestID)
	}
}

// Send sends a request of raygate's own to cluster c: method on rest (the
// path after the cluster's upstream base, escaped), with the cluster's
// Ray token and no body. The caller closes the response body.
func (p *Proxy) Send(ctx context.Context, c *route.Cluster, method, rest string) (*http.Response, error) {
	u := *c.Upstream
	u.RawPath = joinURLPath(c.Upstream.EscapedPath(), rest)
	path, err := url.PathUnescape(u.RawPath)
	if err != nil {
		return nil, fmt.Errorf("proxy: send: %w", err)
	}
	u.Path = path
	u.RawQuery = ""
	req, err := http.NewRequestWithContext(ctx, method, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("proxy: send: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header["User-Agent"] = []string{""}
	if tok := rayToken(c, rayTokenFrom(ctx)); tok != "" {
		req.Header.Set(HeaderRayAuth, "Bearer "+tok)
	}
	resp, err := p.transport.RoundTrip(req)
	if err != nil {
		return nil, fmt.Errorf("proxy: send: %w", err)
	}
	return resp, nil
}

// SetIdentityHeaders states the caller's identity to the upstream.
func SetIdentityHeaders(h http.Header, id *identity.Identity, requestID string) {
	f := fields{h: h, vals: make([]string, 0, 4)}
	f.setIdentity(id, requestID)
}

func joinURLPath(base, rest string) string {
	if base == "" || base == "/" {
		if rest == "" {
			return "/"
		}
		return rest
	}
	return strings.TrimSuffix(base, "/") + rest
}

// errUpstreamAuth means the Ray head refused the gateway's own credentials:
// its token is missing or wrong in raygate's config.
var errUpstreamAuth = errors.New("proxy: the Ray cluster refused raygate's token")

// rayTokenRefusal starts the body of Ray's 403 for a wrong token.
const rayTokenRefusal = "Forbidden: Invalid authentication token"

func modifyResponse(resp *http.Response) error {
	StripSetCookies(resp.Header)
	if err := checkUpstreamAuth(resp); err != nil {
		return err
	}
	if c := callFrom(resp.Request.Context()); c != nil && c.OnResponse != nil {
		return c.OnResponse(resp)
	}
	return nil
}

// checkUpstreamAuth turns Ray's refusal of the gateway's token (401, or
// its 403 for a wrong token) into an error, so the caller gets a 502 that
// says so instead of Ray's advice about local token files. Other 403s
// (Ray's own checks) pass through.
func checkUpstreamAuth(resp *http.Response) error {
	switch resp.StatusCode {
	case http.StatusUnauthorized:
		resp.Body.Close()
		return errUpstreamAuth
	case http.StatusForbidden:
		head := make([]byte, len(rayTokenRefusal))
		n, _ := io.ReadFull(resp.Body, head)
		if string(head[:n]) == rayTokenRefusal {
			resp.Body.Close()
			return errUpstreamAuth
		}
		resp.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(head[:n]), resp.Body), resp.Body}
	}
	return nil
}

func (p *Proxy) errorHandler(w http.ResponseWriter, r *http.Request, err error) {
	c := callFrom(r.Context())
	kind, status, msg := classifyError(r.Context(), err)
	cluster := ""
	if c != nil {
		c.ErrorKind = kind
		cluster = c.Cluster.Key
	}
	if p.onError != nil && kind != ErrKindCanceled {
		p.onError(cluster, kind)
	}
	if kind == ErrKindCanceled {
		if rec, ok := w.(interface{ SetStatus(int) }); ok {
			rec.SetStatus(StatusClientClosed)
		}
		return
	}
	p.log.Warn("upstream request failed", "cluster", cluster, "kind", kind, "error", err)
	reqID := ""
	if c != nil {
		reqID = c.RequestID
	}
	if p.ErrorPage != nil {
		p.ErrorPage(w, r, status, kindCode(status), msg, reqID)
		return
	}
	WriteError(w, status, kindCode(status), msg, reqID)
}

func classifyError(ctx context.Context, err error) (kind string, status int, msg string) {
	var mbe *http.MaxBytesError
	var ne net.Error
	var oe *net.OpError
	switch {
	case errors.Is(err, errUpstreamAuth):
		return ErrKindAuth, http.StatusBadGateway, "the Ray cluster refused raygate's credentials (check the cluster's rayTokenFile)"
	case errors.As(err, &mbe):
		return ErrKindTooLarge, http.StatusRequestEntityTooLarge, "request body is too large"
	case ctx.Err() != nil && errors.Is(ctx.Err(), context.Canceled):
		return ErrKindCanceled, StatusClientClosed, ""
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout(),
		strings.Contains(err.Error(), "timeout awaiting response headers"):
		return ErrKindTimeout, http.StatusGatewayTimeout, "the Ray cluster did not answer in time"
	case errors.As(err, &oe) && oe.Op == "dial":
		return ErrKindConnect, http.StatusBadGateway, "the Ray cluster is unreachable"
	default:
		return ErrKindOther, http.StatusBadGateway, "the Ray cluster's answer could not be relayed"
	}
}

func kindCode(status int) string {
	switch status {
	case http.StatusGatewayTimeout:
		return "gateway_timeout"
	case http.StatusRequestEntityTooLarge:
		return "payload_too_large"
	default:
		return "bad_gateway"
	}
}

// ErrorBody is the JSON body of every error the gateway itself answers.
type ErrorBody struct {
	Error     string `json:"error"`
	Message   string `json:"message"`
	RequestID string `json:"request_id,omitempty"`
	// Action, RequiredRole and Role explain a 403: the Ray action refused,
	// the least role it needs on the cluster, and the caller's role.
	Action       string `json:"action,omitempty"`
	RequiredRole string `json:"required_role,omitempty"`
	Role         string `json:"role,omitempty"`
}

// WriteError answers with status and a JSON ErrorBody.
func WriteError(w http.ResponseWriter, status int, code, msg, requestID string) {
	b, _ := json.Marshal(ErrorBody{Error: code, Message: msg, RequestID: requestID})
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}
