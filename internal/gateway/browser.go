package gateway

import (
	"errors"
	"net/http"
	"sort"

	"github.com/raygate/raygate/internal/audit"
	"github.com/raygate/raygate/internal/authn"
	"github.com/raygate/raygate/internal/authz"
	"github.com/raygate/raygate/internal/identity"
	"github.com/raygate/raygate/internal/signin"
	"github.com/raygate/raygate/internal/ui"
)

// buildBrowser adds what browsers need to a state being built: IAP's
// signed header first in the authentication chain, and browser sign-in.
func (g *Gateway) buildBrowser(st *State, prev *State, verifiers map[string]*authn.OIDC) error {
	cfg := st.Config
	if iap := cfg.Authentication.IAP; iap != nil {
		var ks *authn.KeySet
		if prev != nil && prev.iapKeys != nil && prev.Config.Authentication.IAP != nil && prev.Config.Authentication.IAP.JWKSURL == iap.JWKSURL {
			ks = prev.iapKeys
		} else {
			var err error
			if ks, err = authn.NewKeySet(authn.IAPIssuer, iap.JWKSURL, "", g.metrics); err != nil {
				return err
			}
		}
		st.iapKeys = ks
		tc := cfg.Authentication.TokenCache
		st.Authn = append(authn.Chain{authn.NewIAP(*iap, ks, authn.NewTokenCache(*tc.Size, tc.TTL.D()))}, st.Authn.(authn.Chain)...)
	}
	var prevBrowser *signin.Browser
	if prev != nil {
		prevBrowser = prev.Browser
	}
	b, err := signin.New(signin.Options{Config: cfg, Verifiers: verifiers, Log: g.log, Prev: prevBrowser})
	if err != nil {
		return err
	}
	st.Browser = b
	return nil
}

// browserSession authenticates by the session cookie, after the other
// methods found no credential: a missing cookie keeps the chain's
// missing-credential failure.
func (x *exchange) browserSession(missing error) (*identity.Identity, error) {
	id, err := x.st.Browser.Authenticate(&x.w, x.r)
	if errors.Is(err, authn.ErrNoCredential) {
		return nil, missing
	}
	return id, err
}

// challenge answers a refused credential the browser way, when it applies:
// a cross-site state change is forbidden; a browser loading a page without
// a (live) session is sent to sign-in and back; a browser wanting a page
// gets one. It reports whether it answered.
func (x *exchange) challenge(f *authn.Failure) bool {
	reason := "authentication: " + f.Reason
	switch {
	case f.Status == http.StatusForbidden:
		x.ev.Decision, x.ev.Reason = audit.Deny, reason
		ui.WriteProblem(&x.w, x.r, ui.Problem{Status: http.StatusForbidden, Code: "forbidden", Message: f.Msg, RequestID: x.ev.RequestID,
			Heading: "Refused: this request came from another site"})
		return true
	case x.st.Browser != nil && signin.Redirects(f) && ui.IsNavigation(x.r):
		x.ev.Decision, x.ev.Reason = audit.Deny, reason+"; sent to sign-in"
		http.Redirect(&x.w, x.r, x.st.Browser.SignInURL(x.r), http.StatusFound)
		return true
	case ui.WantsHTML(x.r):
		x.ev.Decision, x.ev.Reason = audit.Deny, reason
		x.w.Header().Set("WWW-Authenticate", `Bearer realm="raygate"`)
		p := ui.Problem{Status: http.StatusUnauthorized, Code: "unauthenticated", Message: f.Msg, RequestID: x.ev.RequestID}
		if x.st.Browser != nil {
			p.SignIn = x.st.Browser.SignInURL(x.r)
		} else {
			p.Message += "; this raygate offers no browser sign-in: use a bearer token, or reach it through your identity-aware proxy"
		}
		ui.WriteProblem(&x.w, x.r, p)
		return true
	}
	return false
}

// intended refuses a request authenticated by a credential the browser
// sends by itself (raygate's session cookie, IAP's) that changes state or
// asks for more than a read, when another site made the browser send it
// (see signin.Browser.Intended and signin.IntendedByProgramOrPage); it
// reports whether the request may go on. For the session cookie, unsafe
// methods and upgrades were refused while authenticating.
func (x *exchange) intended(id *identity.Identity, action authz.Action) bool {
	var f *authn.Failure
	switch id.Method {
	case identity.MethodSession:
		if authz.IsRead(action) {
			return true
		}
		f = x.st.Browser.Intended(x.r)
	case identity.MethodIAP:
		safe := x.r.Method == http.MethodGet || x.r.Method == http.MethodHead
		if authz.IsRead(action) && safe && !isUpgrade(x.r) {
			return true
		}
		f = signin.IntendedByProgramOrPage(x.r, x.st.Config.ExternalURL)
	}
	if f == nil {
		return true
	}
	x.g.metrics.AuthnFailure(f.Reason)
	x.challenge(f)
	return false
}

// forbid refuses an action the caller's role does not allow, naming the
// action and the role it needs.
func (x *exchange) forbid(d authz.Decision, action authz.Action, role authz.Role, cluster string) {
	x.ev.Decision, x.ev.Reason = audit.Deny, d.Reason
	ui.WriteProblem(&x.w, x.r, ui.Problem{
		Status: http.StatusForbidden, Code: "forbidden", Message: "forbidden: " + d.Reason, RequestID: x.ev.RequestID,
		Action: string(action), Needs: d.Needs.String(), Role: role.String(), Cluster: cluster,
		User: &ui.User{Name: x.ev.User, CanSignOut: x.ev.AuthMethod == string(identity.MethodSession)},
	})
}

// serveBrowser answers the sign-in endpoints.
func (x *exchange) serveBrowser() {
	res := x.st.Browser.Serve(&x.w, x.r, x.ev.RequestID)
	x.ev.Action, x.ev.Reason = res.Action, res.Reason
	if res.Allow {
		x.ev.Decision = audit.Allow
	}
	if id := res.Identity; id != nil {
		x.ev.User, x.ev.Groups = id.User, id.Groups
		x.ev.AuthMethod, x.ev.AuthSource = string(id.Method), id.Source
	}
}

// serveLanding answers /: for a browser the landing page, for an API
// client the same as /_raygate/whoami.
func (x *exchange) serveLanding() {
	x.ev.Action = "gateway.landing"
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
	access := x.access(id)
	if !ui.WantsHTML(x.r) {
		x.writeWhoAmI(id, access)
		return
	}
	l := ui.Landing{
		User:   ui.User{Name: id.User, CanSignOut: id.Method == identity.MethodSession},
		Method: methodLabel(id), Groups: id.Groups,
	}
	for _, a := range access {
		l.Clusters = append(l.Clusters, ui.ClusterLink{Namespace: a.namespace, Name: a.name, Role: a.Role, URL: a.Path, RoleHelp: ui.RoleHelp(a.Role)})
	}
	if id.Method == identity.MethodSession {
		l.Until = x.st.Browser.Until(x.r)
	}
	ui.RenderLanding(&x.w, l)
}

// clusterAccess is ClusterAccess with the cluster's parts.
type clusterAccess struct {
	ClusterAccess
	namespace, name string
}

// access lists the clusters id has a role on, sorted.
func (x *exchange) access(id *identity.Identity) []clusterAccess {
	var out []clusterAccess
	for _, c := range x.st.Registry.Clusters() {
		role, _, err := x.st.Roles.RoleOf(x.r.Context(), id, authz.Resource{Namespace: c.Namespace, Name: c.Name, Bindings: c.Bindings})
		if err != nil {
			x.g.log.Warn("role could not be resolved; cluster left out of the caller's list", "request_id", x.ev.RequestID, "cluster", c.Key, "error", err)
			continue
		}
		if role != authz.RoleNone {
			out = append(out, clusterAccess{ClusterAccess{Cluster: c.Key, Role: role.String(), Path: "/clusters/" + c.Key + "/", Owner: c.Owner}, c.Namespace, c.Name})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Cluster < out[j].Cluster })
	return out
}

func methodLabel(id *identity.Identity) string {
	switch id.Method {
	case identity.MethodSession:
		return "browser sign-in with " + id.Source
	case identity.MethodOIDC:
		return "bearer token from " + id.Source
	case identity.MethodIAP:
		return "Google Cloud IAP"
	case identity.MethodAPIKey:
		return "API key " + id.Source
	case identity.MethodKubernetes:
		return "Kubernetes service account"
	}
	return string(id.Method)
}

// beforeProxy does what browsers need before a request goes to Ray, and
// reports whether it answered the request itself. A page shown to a
// browser signed in with its cookie may be framed only by raygate's own
// origin (cross-site frames get no Lax cookie anyway; this covers the
// same site). Every cluster's dashboard shares raygate's origin, and Ray
// answers some requests with HTML or SVG built from what a job's code
// names (profiler flame graphs, served with scripts): every answer but the
// dashboard's own pages is sandboxed, so none runs script, submits a form
// or reaches the origin's cookies, whatever Ray put in it.
func (x *exchange) beforeProxy(id *identity.Identity, action authz.Action, rest string) bool {
	if id.Method == identity.MethodSession {
		x.w.Header().Set("X-Frame-Options", "SAMEORIGIN")
	}
	if action != authz.ActionDashboardView {
		x.w.Header().Set("Content-Security-Policy", "sandbox")
	}
	return x.answerLocally(x.r.Method, rest)
}

// authModeBody is raygate's answer to the dashboard's
// /api/authentication_mode.
const authModeBody = `{"authentication_mode": "disabled"}` + "\n"

// answerLocally answers the one dashboard request whose true answer, seen
// from the caller, is the gateway's: GET /api/authentication_mode. Ray
// says "token" when its token authentication is on, and the dashboard then
// asks every caller whose request Ray or raygate refuses (a viewer's 403)
// for the cluster's Ray token, in a dialog that cannot be dismissed. Behind
// raygate callers never hold that token: raygate authenticates them and
// adds the token itself. So raygate answers "disabled", and the dashboard
// shows refusals as the errors they are.
func (x *exchange) answerLocally(method, rest string) bool {
	if rest != "/api/authentication_mode" || (method != http.MethodGet && method != http.MethodHead) {
		return false
	}
	x.ev.Decision = audit.Allow
	x.ev.Reason += "; answered by raygate"
	h := x.w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	if method == http.MethodHead {
		x.w.WriteHeader(http.StatusOK)
		return true
	}
	_, _ = x.w.Write([]byte(authModeBody))
	return true
}
