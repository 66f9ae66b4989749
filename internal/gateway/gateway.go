// Package gateway is raygate's request pipeline. For every request it
// checks the path, authenticates the caller (authn), resolves the cluster
// (route), classifies the Ray action and authorizes it (authz), forwards it
// (proxy) and writes one audit line (audit). The pipeline reads an
// immutable State that a reload replaces atomically.
package gateway

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/raygate/raygate/internal/audit"
	"github.com/raygate/raygate/internal/authn"
	"github.com/raygate/raygate/internal/authz"
	"github.com/raygate/raygate/internal/decision"
	"github.com/raygate/raygate/internal/httpguard"
	"github.com/raygate/raygate/internal/identity"
	"github.com/raygate/raygate/internal/jobs"
	"github.com/raygate/raygate/internal/limit"
	"github.com/raygate/raygate/internal/metrics"
	"github.com/raygate/raygate/internal/proxy"
	"github.com/raygate/raygate/internal/ui"
	"github.com/raygate/raygate/internal/upgrade"
)

// Gateway serves the public listener.
type Gateway struct {
	state    atomic.Pointer[State]
	metrics  *metrics.Metrics
	log      *slog.Logger
	audit    audit.Sink
	draining atomic.Bool
	// handlers counts requests being handled; upgrades tracks their
	// upgraded connections, which http.Server.Shutdown does not.
	handlers sync.WaitGroup
	upgrades upgrade.Tracker
	kube     *Kubernetes

	idPrefix string
	idSeq    atomic.Uint64
}

// New returns a gateway with no state yet; call Build and Swap before
// serving. Audit events go to sink.
func New(m *metrics.Metrics, log *slog.Logger, sink audit.Sink) *Gateway {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return &Gateway{metrics: m, log: log, audit: sink, idPrefix: hex.EncodeToString(b[:])}
}

// State returns the state in force.
func (g *Gateway) State() *State { return g.state.Load() }

// Swap puts st in force and returns the previous state. Resources of the
// previous state that st does not reuse are released after grace.
func (g *Gateway) Swap(st *State, grace time.Duration) *State {
	old := g.state.Swap(st)
	retire(old, st, grace)
	return old
}

// Drain makes /readyz fail so load balancers stop sending traffic.
func (g *Gateway) Drain() { g.draining.Store(true) }

func (g *Gateway) nextRequestID() string {
	return g.idPrefix + "-" + strconv.FormatUint(g.idSeq.Add(1), 36)
}

// maxAuditPath bounds the path recorded in the audit log.
const maxAuditPath = 2048

// ServeHTTP implements http.Handler.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	st := g.state.Load()
	rid := g.nextRequestID()
	w.Header().Set(proxy.HeaderRequestID, rid)
	escaped := r.URL.EscapedPath()
	path := escaped
	if len(path) > maxAuditPath {
		path = path[:maxAuditPath] + "..."
	}
	// One pooled object holds the exchange, its recorder, event and call.
	x := exchanges.Get().(*exchange)
	*x = exchange{g: g, st: st, r: r, escaped: escaped, clusterLabel: "-"}
	x.w.ResponseWriter = w
	x.ev = audit.Event{
		Time: start.UTC(), RequestID: rid, Method: r.Method, Path: path,
		RemoteAddr: st.proxies.ClientAddr(r.RemoteAddr, r.Header.Values("X-Forwarded-For")), Decision: audit.Deny,
	}
	g.metrics.InFlight(1)
	g.handlers.Add(1)
	defer g.handlers.Done()
	defer func() {
		g.metrics.InFlight(-1)
		x.finish(start)
		x.release()
	}()
	if ref, ok := httpguard.Refused(r); ok {
		x.refused(ref)
		return
	}
	if !x.checkMethod() {
		return
	}
	if decision.IsProbe(r.URL.Path) {
		// Probes need no credentials; they are audited like everything
		// else on the public listener (point probes at the metrics
		// listener to keep them out of the audit log).
		x.ev.Action, x.ev.Decision, x.ev.Reason = decision.ActionHealth, audit.Allow, "health probe"
		if r.URL.Path == "/healthz" {
			Healthz(&x.w, r)
		} else {
			g.Readyz(&x.w, r)
		}
		return
	}
	x.serve()
}

// exchange is one request's trip through the pipeline.
type exchange struct {
	g  *Gateway
	st *State
	r  *http.Request
	// escaped is the request path as the client escaped it.
	escaped string
	w       recorder    // pass as &x.w
	ev      audit.Event // written by finish
	call    proxy.Call
	// clusterLabel is the metrics label: the cluster only once the caller
	// is known to have a role on it, so metrics never enumerate clusters.
	clusterLabel string
	// ticket holds the request's abuse-limit slots until finish.
	ticket limit.Ticket
	// wroteAhead is set once the request, a mutation, had its write-ahead
	// record: its response record is written out before the response
	// completes, not gathered with others.
	wroteAhead bool
}

// exchanges holds exchanges for reuse: at about 600 bytes, most of them
// pointers, one per request is a large part of what the collector would
// otherwise scan and sweep.
var exchanges = sync.Pool{New: func() any { return new(exchange) }}

// release returns x to the pool once its request is finished and audited.
// Nothing keeps x, or a pointer into it, past ServeHTTP: the request's
// handlers, the proxy's callbacks (which find &x.call in the request's
// context) and the audit sink (which keeps no event) all return before.
func (x *exchange) release() {
	*x = exchange{}
	exchanges.Put(x)
}

// refuse answers a refusal the decision made.
func (x *exchange) refuse(ref decision.Refusal) {
	x.deny(ref.Status, ref.Code, ref.Reason, ref.Message)
}

func (x *exchange) deny(status int, code, reason, msg string) {
	x.ev.Decision = audit.Deny
	x.ev.Reason = reason
	ui.WriteError(&x.w, x.r, status, code, msg, x.ev.RequestID)
}

// denyWith refuses the request for a reason the jobs package found.
func (x *exchange) denyWith(err *jobs.Error) {
	x.deny(err.Status, err.Code, err.Msg, err.Msg)
}

func (x *exchange) serve() {
	r, escaped := x.r, x.escaped
	p := decision.Route(escaped)
	switch p.Kind {
	case decision.PathRefused, decision.PathNone:
		x.refuse(p.Refusal)
		return
	case decision.PathGateway:
		x.serveOwn(escaped)
		return
	}
	target := p.Target
	x.ev.Cluster = target.Key()
	if ref := decision.CheckUpgrade(r.Method, r.Header); ref.Refused() {
		x.refuse(ref)
		return
	}
	id, ok := x.authenticate()
	if !ok {
		return
	}
	// Cheap checks first: a role that cannot perform the action is
	// refused before anything reaches the cluster (a viewer's stop never
	// triggers an owner lookup).
	d := decision.Decide(r.Context(), x.st.Registry, x.st.Roles, decision.Request{Method: r.Method, Target: target, Upgrade: isUpgrade(r), Identity: id})
	x.ev.Action = string(d.Request.Action)
	x.ev.JobID = d.Request.JobID
	if d.Role != authz.RoleNone {
		x.ev.Role, x.ev.RoleSource = d.Role.String(), d.RoleSource
	}
	if d.Err != nil {
		x.g.log.Warn("role could not be resolved", "request_id", x.ev.RequestID, "cluster", d.Cluster.Key, "error", d.Err)
	}
	x.ev.Reason = d.Decision.Reason
	switch {
	case d.Status == http.StatusForbidden:
		x.forbid(d.Decision, d.Request.Action, d.Role, d.Cluster.Key)
		return
	case d.Refused():
		x.refuse(d.Refusal)
		return
	}
	if !x.intended(d.Intent) {
		return
	}
	cluster := d.Cluster
	x.clusterLabel = cluster.Key
	// Abuse limits, before any call to the cluster (the owner lookup too).
	if !x.admit(id.User, cluster.Key) {
		return
	}
	if d.Redirect {
		x.ev.Decision = audit.Allow
		u := escaped + "/"
		if r.URL.RawQuery != "" {
			u += "?" + r.URL.RawQuery
		}
		http.Redirect(&x.w, r, u, http.StatusPermanentRedirect)
		return
	}
	if x.beforeProxy(id, d.Request.Action, d.Local) {
		return
	}
	x.call = proxy.Call{Cluster: cluster, Target: target, Identity: id, RequestID: x.ev.RequestID, RayToken: callerRayToken(cluster, id, r)}
	// Checks of the request itself come before any call to the cluster.
	if !x.checkEncoding() || !x.limitBody(d.Request.Body) {
		return
	}
	if d.CheckOwner && !x.resolveStop(d.Role, cluster, id.User, d.Request.JobID) {
		return
	}
	if d.CheckPackage && !x.uploadOnce(cluster) {
		return
	}
	if d.Request.Body == authz.BodyJobSubmit && !x.submit(id.User) {
		return
	}
	if !x.beforeForward(authz.Action(x.ev.Action)) {
		return
	}
	x.ev.Decision = audit.Allow
	x.st.Proxy.ServeHTTP(&x.w, r.WithContext(proxy.WithCall(r.Context(), &x.call)))
	if x.call.ErrorKind != "" {
		x.ev.Reason += "; upstream " + x.call.ErrorKind
	}
}

// authenticate establishes the caller or answers 401 (503 when the identity
// provider cannot be reached).
func (x *exchange) authenticate() (*identity.Identity, bool) {
	id, err := x.st.Authn.Authenticate(x.r.Context(), x.r)
	if x.st.Browser != nil && isMissing(err) {
		id, err = x.browserSession(err)
	}
	if err == nil {
		x.ev.User, x.ev.Groups = id.User, id.Groups
		x.ev.AuthMethod, x.ev.AuthSource = string(id.Method), id.Source
		return id, true
	}
	var f *authn.Failure
	if !errors.As(err, &f) {
		f = &authn.Failure{Reason: authn.ReasonMalformed, Msg: "credential could not be verified", Status: http.StatusUnauthorized, Err: err}
	}
	x.g.metrics.AuthnFailure(f.Reason)
	if f.Err != nil && f.Reason != authn.ReasonMissing {
		x.g.log.Debug("authentication failed", "request_id", x.ev.RequestID, "reason", f.Reason, "error", f.Err)
	}
	if f.Status == http.StatusServiceUnavailable {
		x.g.log.Warn("identity provider unavailable", "request_id", x.ev.RequestID, "error", f.Err)
		x.deny(http.StatusServiceUnavailable, "unavailable", "authentication: "+f.Reason, f.Msg)
		return nil, false
	}
	if x.challenge(f) {
		return nil, false
	}
	challenge := `Bearer realm="raygate"`
	if f.Reason != authn.ReasonMissing {
		challenge += `, error="invalid_token"`
	}
	x.w.Header().Set("WWW-Authenticate", challenge)
	x.deny(http.StatusUnauthorized, "unauthenticated", "authentication: "+f.Reason, f.Msg)
	return nil, false
}

// finish completes and writes the audit event and records metrics.
func (x *exchange) finish(start time.Time) {
	d := time.Since(start)
	ev := &x.ev
	ev.Status = x.w.statusCode()
	ev.DurationMS = float64(d.Microseconds()) / 1000
	if ev.Status >= 500 && ev.Decision == audit.Allow && ev.Reason == "" {
		ev.Reason = "upstream error"
	}
	x.ticket.Release()
	_ = x.g.audit.Write(ev) // the sink logs and counts a failure
	if x.wroteAhead {
		if f, ok := x.g.audit.(audit.Flusher); ok {
			_ = f.Flush()
		}
	}
	action := ev.Action
	if action == "" {
		action = "-"
	}
	x.g.metrics.Request(x.clusterLabel, action, ev.Decision, ev.Status, d)
}

// isMissing reports whether authentication found no credential at all.
func isMissing(err error) bool {
	var f *authn.Failure
	return errors.As(err, &f) && f.Reason == authn.ReasonMissing
}

func isUpgrade(r *http.Request) bool {
	return r.Header.Get("Upgrade") != ""
}
