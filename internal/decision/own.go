package decision

import (
	"net/http"

	"github.com/raygate/raygate/internal/loginconfig"
)

// gatewayPrefix starts raygate's own endpoints, beside the landing page.
const gatewayPrefix = "/_raygate/"

// The paths of raygate's own endpoints that answer GET and HEAD. Browser
// sign-in adds its own under /_raygate/ (package signin) when an issuer
// offers it.
const (
	// EndpointLanding is the landing page: for a browser a page listing
	// the caller's clusters, for an API client the same as whoami.
	EndpointLanding = "/"
	// EndpointWhoAmI answers the caller's identity and clusters.
	EndpointWhoAmI = "/_raygate/whoami"
	// EndpointExplain answers the gateway's decision on a request, for
	// the caller itself.
	EndpointExplain = "/_raygate/explain"
	// EndpointLoginConfig is what `raygate login` signs in with (package
	// loginconfig); it needs no credentials.
	EndpointLoginConfig = loginconfig.Path
)

// The audit log's actions of requests raygate answers itself.
const (
	ActionHealth      = "gateway.health"
	ActionLanding     = "gateway.landing"
	ActionWhoAmI      = "gateway.whoami"
	ActionExplain     = "gateway.explain"
	ActionLoginConfig = "gateway.login-config"
)

// The audit log's reasons for answers from raygate's own endpoints.
const (
	// ReasonAuthenticated: any authenticated caller may ask about itself.
	ReasonAuthenticated = "authenticated"
	// ReasonLoginConfig: EndpointLoginConfig is public.
	ReasonLoginConfig = "public login configuration"
)

// Endpoint is one of raygate's own endpoints that answer GET and HEAD.
type Endpoint struct {
	// Action is its action in the audit log.
	Action string
	// Public says that it needs no credentials; the others answer any
	// authenticated caller about itself.
	Public bool
	// Reason is the audit log's reason when it answers.
	Reason string
}

// Endpoints are raygate's own endpoints that answer GET and HEAD, by
// path.
var Endpoints = map[string]Endpoint{
	EndpointLanding:     {Action: ActionLanding, Reason: ReasonAuthenticated},
	EndpointWhoAmI:      {Action: ActionWhoAmI, Reason: ReasonAuthenticated},
	EndpointExplain:     {Action: ActionExplain, Reason: ReasonAuthenticated},
	EndpointLoginConfig: {Action: ActionLoginConfig, Public: true, Reason: ReasonLoginConfig},
}

// OwnMethod refuses, for one of Endpoints, a method other than GET and
// HEAD (405); the answer names them in Allow.
func OwnMethod(method string) Refusal {
	if method == http.MethodGet || method == http.MethodHead {
		return Refusal{}
	}
	return Refusal{Status: http.StatusMethodNotAllowed, Code: "method_not_allowed", Reason: "method not allowed", Message: "use GET"}
}

// OwnAllow is the Allow header of a 405 from OwnMethod.
const OwnAllow = "GET, HEAD"
