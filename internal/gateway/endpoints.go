package gateway

import (
	"encoding/json"
	"net/http"

	"github.com/raygate/raygate/internal/audit"
	"github.com/raygate/raygate/internal/identity"
	"github.com/raygate/raygate/internal/loginconfig"
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
	x.w.Header().Set("Content-Type", "application/json")
	x.w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(&x.w).Encode(out)
}

// serveOwn answers the gateway's own endpoints under /_raygate/.
func (x *exchange) serveOwn(path string) {
	switch path {
	case "/_raygate/whoami":
		x.ev.Action = "gateway.whoami"
		if x.r.Method != http.MethodGet && x.r.Method != http.MethodHead {
			x.w.Header().Set("Allow", "GET, HEAD")
			x.deny(http.StatusMethodNotAllowed, "method_not_allowed", "method not allowed", "use GET")
			return
		}
		id, ok := x.authenticate()
		if !ok {
			return
		}
		x.ev.Decision, x.ev.Reason = audit.Allow, "authenticated"
		x.writeWhoAmI(id, x.access(id))
	case loginconfig.Path:
		x.serveLoginConfig()
	default:
		if x.st.Browser != nil && signin.Owns(path) {
			x.serveBrowser()
			return
		}
		x.deny(http.StatusNotFound, "not_found", "no route", "not found")
	}
}
