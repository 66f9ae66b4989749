package gateway

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/raygate/raygate/internal/audit"
	"github.com/raygate/raygate/internal/authz"
	"github.com/raygate/raygate/internal/config"
)

// admit applies the abuse limits of the state in force to a request of
// user to cluster. It answers 429 with Retry-After and returns false when a
// limit refuses; otherwise the request holds its slots until finish.
func (x *exchange) admit(user, cluster string) bool {
	if x.st.limiter == nil {
		return true
	}
	t, ref := x.st.limiter.Admit(user, cluster, isUpgrade(x.r), time.Now())
	if ref != nil {
		x.g.metrics.Limited(cluster, ref.Scope, ref.Kind)
		x.w.Header().Set("Retry-After", ref.RetryAfterSeconds())
		x.deny(http.StatusTooManyRequests, "too_many_requests", ref.Reason(), ref.Message())
		return false
	}
	x.ticket = t
	return true
}

// beforeForward runs last before a request is forwarded. A request that
// changes the cluster gets its write-ahead audit record, durably written
// first; under audit.onFailure refuse, one whose record cannot be written
// is answered 503 and never forwarded. An upgrade's connection is tracked
// so that shutdown can close it cleanly.
func (x *exchange) beforeForward(action authz.Action) bool {
	if authz.Mutates(action, x.r.Method) {
		rec := x.ev
		rec.Stage, rec.Decision = audit.StageRequest, audit.Allow
		if err := x.g.audit.WriteDurable(&rec); err != nil {
			// The sink has logged and counted the failure.
			if x.st.Config.Audit.OnFailure != config.AuditContinue {
				x.deny(http.StatusServiceUnavailable, "audit_unavailable", "audit log unavailable: not forwarded",
					"the audit log cannot be written, so this request was not forwarded; try again later")
				return false
			}
			x.ev.Reason += "; forwarded without write-ahead audit record"
		}
		x.wroteAhead = true
	}
	if isUpgrade(x.r) {
		x.w.upgrades = &x.g.upgrades
		x.w.websocket = isWebSocket(x.r)
	}
	return true
}

// isWebSocket reads the Upgrade header as httputil.ReverseProxy does.
func isWebSocket(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
}

// Shutdown closes upgraded connections cleanly (a WebSocket gets a close
// frame first) and waits until every request handler has finished and
// written its audit line, or until ctx ends. Call it once the servers stop
// accepting requests.
func (g *Gateway) Shutdown(ctx context.Context) error {
	err := g.upgrades.Shutdown(ctx)
	done := make(chan struct{})
	go func() {
		g.handlers.Wait()
		close(done)
	}()
	select {
	case <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}
