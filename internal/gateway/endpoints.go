package gateway

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/raygate/raygate/internal/audit"
	"github.com/raygate/raygate/internal/decision"
	"github.com/raygate/raygate/internal/explain"
	"github.com/raygate/raygate/internal/identity"
	"github.com/raygate/raygate/internal/signin"
)

// Healthz answers 200 while the process runs. It needs no credentials and
// reveals nothing.
func Healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write([]byte("ok\n"))
}

// Readyz answers 200 when the gateway has a config in force, is not
// draining and its audit sink is writing; 503 otherwise.
func (g *Gateway) Readyz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if g.state.Load() == nil || g.draining.Load() || !g.audit.Healthy() {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("not ready\n"))
		return
	}
	_, _ = w.Write([]byte("ok\n"))
}

// WhoAmI is the body of /_raygate/whoami: the caller's identity and the
// clusters it has a role on.
type WhoAmI struct {
	User       string          `json:"user"`
	Groups     []string        `json:"groups"`
	AuthMethod string          `json:"auth_method"`
	Clusters   []ClusterAccess `json:"clusters"`
}

// ClusterAccess is one cluster the caller can see, with its role.
type ClusterAccess struct {
	Cluster string `json:"cluster"`
	Role    string `json:"role"`
	Path    string `json:"path"`
	// Owner is the RayJob or RayService that manages a discovered cluster
	// ("RayJob/name"), omitted for others.
	Owner string `json:"owner,omitempty"`
}

// writeWhoAmI answers with the caller's identity and clusters as JSON.
func (x *exchange) writeWhoAmI(id *identity.Identity, access []clusterAccess) {
	out := WhoAmI{User: id.User, Groups: id.Groups, AuthMethod: string(id.Method), Clusters: []ClusterAccess{}}
	if out.Groups == nil {
		out.Groups = []string{}
	}
	for _, a := range access {
		out.Clusters = append(out.Clusters, a.ClusterAccess)
	}
	x.writeJSON(out)
}

// serveOwn answers the gateway's own endpoints: the landing page and
// everything under /_raygate/.
func (x *exchange) serveOwn(path string) {
	switch path {
	case decision.EndpointWhoAmI:
		x.ev.Action = decision.ActionWhoAmI
		if id, ok := x.ownCaller(); ok {
			x.ev.Decision, x.ev.Reason = audit.Allow, decision.ReasonAuthenticated
			x.writeWhoAmI(id, x.access(id))
		}
	case decision.EndpointExplain:
		x.ev.Action = decision.ActionExplain
		if id, ok := x.ownCaller(); ok {
			x.explain(id)
		}
	case decision.EndpointLoginConfig:
		x.serveLoginConfig()
	case decision.EndpointLanding:
		x.serveLanding()
	default:
		if x.st.Browser != nil && signin.Owns(path) {
			x.serveBrowser()
			return
		}
		x.refuse(decision.NoRoute())
	}
}

// ownCaller answers a method other than GET and HEAD with 405, and
// authenticates the caller.
func (x *exchange) ownCaller() (*identity.Identity, bool) {
	if !x.ownMethod() {
		return nil, false
	}
	return x.authenticate()
}

// ownMethod answers a method other than GET and HEAD to one of raygate's
// own endpoints with 405 (decision.OwnMethod); it reports whether the
// request may go on.
func (x *exchange) ownMethod() bool {
	ref := decision.OwnMethod(x.r.Method)
	if !ref.Refused() {
		return true
	}
	x.w.Header().Set("Allow", decision.OwnAllow)
	x.refuse(ref)
	return false
}

// explain answers GET /_raygate/explain?method=M&path=P: the gateway's
// decision on that request for the caller itself, step by step. A
// cluster the caller has no role on is "not found", whether or not it
// exists.
func (x *exchange) explain(id *identity.Identity) {
	q, err := explain.ParseQuery(x.r.URL.RawQuery)
	if err != nil {
		msg := strings.TrimPrefix(err.Error(), "explain: ")
		x.deny(http.StatusBadRequest, "bad_request", explain.ReasonBadQuery, msg+" (ask ?method=GET&path=/clusters/NAMESPACE/NAME/...)")
		return
	}
	p := explain.Policy{Config: x.st.Config, Registry: x.st.Registry, Roles: x.st.Roles, RBACAsked: true, Private: true}
	e := explain.Explain(x.r.Context(), p, q, explain.As(id))
	x.ev.Decision, x.ev.Reason = audit.Allow, decision.ReasonAuthenticated
	x.writeJSON(e)
}

func (x *exchange) writeJSON(v any) {
	x.w.Header().Set("Content-Type", "application/json")
	x.w.Header().Set("Cache-Control", "no-store")
	x.w.Header().Set("X-Content-Type-Options", "nosniff")
	_ = json.NewEncoder(&x.w).Encode(v)
}
