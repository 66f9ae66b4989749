// Package decision is the gateway's decision on one request, as pure
// functions of the request, the caller and the policy in force: which
// methods are refused (CheckMethod), what a path addresses (Route), which
// of raygate's own endpoints answer what (Endpoints, OwnMethod), which
// upgrades are refused (CheckUpgrade), the caller's role on the cluster,
// the Ray action, the job id check and the authorization with the
// cluster's actionRoles (Decide, Allows), what a browser's own credential
// must show (IntentFor), what raygate answers itself (AnsweredLocally), a
// stop's ownership rule once the cluster has named the job's owner (Stop)
// and a package upload's once it has said whether it holds the package
// (Package). The gateway acts on these results; raygate explain, who-can,
// access, diff and test describe them. Nothing else decides, so what they
// say is what the gateway does.
package decision

import (
	"context"
	"errors"
	"net/http"

	"github.com/raygate/raygate/internal/authz"
	"github.com/raygate/raygate/internal/identity"
	"github.com/raygate/raygate/internal/jobs"
	"github.com/raygate/raygate/internal/route"
)

// Refusal is an answer the gateway gives itself instead of forwarding.
// The zero Refusal refuses nothing.
type Refusal struct {
	// Status is the HTTP status; 0 when the request goes on.
	Status int
	// Code is the JSON error code of the answer.
	Code string
	// Reason is the audit log's reason.
	Reason string
	// Message is what the caller is told; it reveals nothing internal.
	// For a 403 it is left empty: the answer words it with
	// ForbiddenMessage, so that deciding allocates nothing.
	Message string
	// Needs is, for a 403, the least role the action needs.
	Needs authz.Role
}

// Refused reports whether r refuses the request.
func (r Refusal) Refused() bool { return r.Status != 0 }

// The reasons and messages of refusals that never vary.
const (
	ReasonNoRoute  = "no route"
	ReasonNotFound = "cluster not found or no role on it"
	ReasonNoRole   = "authorization unavailable"
	// ReasonLocal ends the reason of a request raygate answers itself
	// (AnsweredLocally).
	ReasonLocal = "answered by raygate"
	msgNotFound = "not found"
)

// CheckMethod refuses, before anything else looks at a request, the
// methods raygate never forwards: CONNECT and TRACE (405), and every
// method HTTP does not define, including known ones not spelled in
// capitals (501; methods are case-sensitive).
func CheckMethod(method string) Refusal {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch, http.MethodOptions:
		return Refusal{}
	case http.MethodConnect, http.MethodTrace:
		return Refusal{Status: http.StatusMethodNotAllowed, Code: "method_not_allowed", Reason: "method " + method + " not allowed", Message: "method " + method + " is not allowed"}
	}
	return Refusal{Status: http.StatusNotImplemented, Code: "not_implemented", Reason: "unknown method", Message: "the request method is not supported"}
}

// IsProbe reports whether path (decoded, as URL.Path) is a health probe,
// which needs no credentials.
func IsProbe(path string) bool { return path == "/healthz" || path == "/readyz" }

// PathKind is what a request path addresses.
type PathKind uint8

// Path kinds.
const (
	// PathRefused is an ambiguous path, refused with 400.
	PathRefused PathKind = iota
	// PathGateway is one of raygate's own endpoints: the landing page
	// (/) and everything under /_raygate/.
	PathGateway
	// PathNone is no route at all (404).
	PathNone
	// PathCluster is /clusters/{namespace}/{name}[/...].
	PathCluster
)

// Path is a request path checked and split.
type Path struct {
	Kind PathKind
	// Target is the cluster and the rest of the path, for PathCluster.
	Target route.Target
	// Refusal answers PathRefused and PathNone.
	Refusal Refusal
}

// Route checks escaped, the path as the client escaped it, and says what
// it addresses: ambiguous forms are refused before anything else reads
// the path, so the gateway, its router and Ray see one path.
func Route(escaped string) Path {
	if err := route.CheckPath(escaped); err != nil {
		form := "ambiguous"
		var pe *route.PathError
		if errors.As(err, &pe) {
			form = pe.Reason
		}
		return Path{Kind: PathRefused, Refusal: Refusal{Status: http.StatusBadRequest, Code: "bad_request",
			Reason: "ambiguous path: " + form, Message: "the request path is ambiguous and was refused (" + form + ")"}}
	}
	if escaped == EndpointLanding || len(escaped) >= len(gatewayPrefix) && escaped[:len(gatewayPrefix)] == gatewayPrefix {
		return Path{Kind: PathGateway}
	}
	t, ok := route.Split(escaped)
	if !ok {
		return Path{Kind: PathNone, Refusal: noRoute}
	}
	return Path{Kind: PathCluster, Target: t}
}

var noRoute = Refusal{Status: http.StatusNotFound, Code: "not_found", Reason: ReasonNoRoute, Message: msgNotFound}

// NoRoute is the answer to a path nothing serves.
func NoRoute() Refusal { return noRoute }

// Request is a request to a cluster, from an authenticated caller.
type Request struct {
	// Method is the request's method, already accepted by CheckMethod.
	Method string
	// Target is the cluster and path, from Route.
	Target route.Target
	// Upgrade says whether the request asks for a protocol upgrade.
	Upgrade bool
	// Identity is the caller.
	Identity *identity.Identity
}

// Result is the gateway's decision on a Request, before the abuse limits
// and, for a stop, before the owner lookup.
type Result struct {
	// Refusal is the answer when the request stops here.
	Refusal
	// Cluster is the cluster the path names; nil when it does not exist.
	// Only a caller with a role on it may learn that it exists.
	Cluster *route.Cluster
	// Request is the classified request: the action, the job id, the
	// body kind.
	Request authz.Request
	// Role is the caller's role on Cluster, and RoleSource where it came
	// from ("binding", "rbac ray:write", ...).
	Role       authz.Role
	RoleSource string
	// Decision is the authorization of the action, when the caller has a
	// role and the job id is valid.
	Decision authz.Decision
	// Err is why the role could not be resolved (the request is refused
	// with 503); never shown to the caller.
	Err error
	// Redirect says that an allowed request named the cluster without a
	// trailing slash: it is answered 308 to the same path with one.
	Redirect bool
	// CheckOwner says that the action is jobs.stop: the gateway asks the
	// cluster who owns the job and decides again with Stop.
	CheckOwner bool
	// Intent says what must show that the person signed in meant to send
	// the request, when the caller's credential is one a browser sends by
	// itself (IntentFor).
	Intent Intent
	// Local says that raygate answers the request itself (AnsweredLocally).
	Local bool
	// CheckPackage says that the request uploads a package: the gateway
	// asks the cluster whether it holds that package already, and refuses
	// the upload if it does (PackageExists), or cannot tell.
	CheckPackage bool
}

// Decide is the gateway's decision on req: the cluster, the caller's
// role on it, the action, the job id and the authorization. roles
// resolves the role (bindings, and Kubernetes RBAC in Kubernetes mode).
// A caller with no role on a cluster gets the same answer as for a
// cluster that does not exist.
func Decide(ctx context.Context, reg route.Registry, roles authz.RoleResolver, req Request) Result {
	var res Result
	t := req.Target
	rest := t.Rest
	if rest == "" {
		rest = "/"
	}
	res.Request = authz.Classify(req.Method, rest, req.Upgrade)
	res.Cluster = reg.Lookup(t.Namespace, t.Name)
	if res.Cluster != nil {
		c := res.Cluster
		role, source, err := roles.RoleOf(ctx, req.Identity, authz.Resource{Namespace: c.Namespace, Name: c.Name, Bindings: c.Bindings})
		if err != nil {
			res.Err = err
			res.Refusal = Refusal{Status: http.StatusServiceUnavailable, Code: "unavailable", Reason: ReasonNoRole,
				Message: "authorization could not be checked; try again later"}
			return res
		}
		if role != authz.RoleNone {
			res.Role, res.RoleSource = role, source
		}
	}
	if res.Role == authz.RoleNone {
		// Indistinguishable from a cluster that does not exist.
		res.Refusal = Refusal{Status: http.StatusNotFound, Code: "not_found", Reason: ReasonNotFound, Message: msgNotFound}
		return res
	}
	if res.Request.JobID != "" {
		if err := jobs.CheckID(res.Request.JobID); err != nil {
			res.Refusal = Refusal{Status: err.Status, Code: err.Code, Reason: err.Msg, Message: err.Msg}
			return res
		}
	}
	res.Decision = Allows(res.Cluster, res.Role, res.Request.Action)
	if !res.Decision.Allow {
		res.Refusal = forbidden(res.Decision)
		return res
	}
	res.Intent = IntentFor(req.Identity.Method, res.Request.Action, req.Method, req.Upgrade)
	res.Redirect = t.Rest == ""
	if res.Redirect {
		return res
	}
	res.Local = AnsweredLocally(req.Method, rest)
	res.CheckOwner = res.Request.Action == authz.ActionJobsStop
	res.CheckPackage = res.Request.Body == authz.BodyPackage && req.Method == http.MethodPut
	return res
}

// Allows decides whether role may perform action on cluster c (nil for
// the defaults): the action's least role, raised where the cluster's
// actionRoles say so. It is the one place an action's least role on a
// cluster is read.
func Allows(c *route.Cluster, role authz.Role, action authz.Action) authz.Decision {
	if c == nil {
		return authz.Decide(role, action)
	}
	return c.Policy.Decide(role, action)
}

// AnsweredLocally reports whether raygate answers a request to a cluster
// itself: GET or HEAD /api/authentication_mode, whose true answer, seen
// from a caller behind raygate, is raygate's ("disabled"). Ray says
// "token" when its token authentication is on, and its dashboard then
// asks every caller refused anything for the cluster's Ray token, which
// callers behind raygate never hold: raygate adds it itself.
func AnsweredLocally(method, rest string) bool {
	return rest == "/api/authentication_mode" && (method == http.MethodGet || method == http.MethodHead)
}

func forbidden(d authz.Decision) Refusal {
	return Refusal{Status: http.StatusForbidden, Code: "forbidden", Reason: d.Reason, Needs: d.Needs}
}

// ForbiddenMessage is what a caller refused an action is told.
func ForbiddenMessage(reason string) string { return "forbidden: " + reason }

// StopResult is the decision on a stop or delete once the job's owner is
// known.
type StopResult struct {
	// Refusal is the answer when the stop is refused.
	Refusal
	// Action is jobs.stop for the caller's own job, jobs.stop.any for
	// anyone else's or one whose owner is unknown.
	Action authz.Action
	// Decision is the authorization of Action.
	Decision authz.Decision
	// ID is the submission id to act on, which the cluster reported: the
	// request is forwarded to /api/jobs/{ID} (DELETE) or
	// /api/jobs/{ID}/stop (POST), never with the caller's string.
	ID string
}

// Stop decides a stop (POST) or delete (DELETE) of job jobID on cluster
// c by user with role, once the cluster has answered the owner lookup:
// job and lookupErr are what jobs.Client.Lookup returned. A job it cannot
// attribute (not found, no owner, lookup failed, no unambiguous
// submission id) is jobs.stop.any, which only admins hold.
func Stop(c *route.Cluster, role authz.Role, user, jobID string, job jobs.Job, lookupErr error) StopResult {
	stop := jobs.Stop{Action: authz.ActionJobsStopAny}
	if lookupErr == nil {
		stop = jobs.ResolveStop(job, user)
	}
	res := StopResult{Action: stop.Action, ID: stop.ID}
	res.Decision = Allows(c, role, stop.Action)
	switch {
	case !res.Decision.Allow:
		res.Refusal = forbidden(res.Decision)
	case errors.Is(lookupErr, jobs.ErrNotFound):
		res.Refusal = Refusal{Status: http.StatusNotFound, Code: "not_found", Reason: "job not found", Message: "job " + jobID + " does not exist"}
	case lookupErr != nil:
		res.Refusal = Refusal{Status: http.StatusBadGateway, Code: "bad_gateway", Reason: "job lookup failed", Message: "the job could not be looked up on the Ray cluster"}
	case stop.ID == "":
		res.Refusal = Refusal{Status: http.StatusConflict, Code: "conflict", Reason: "job has no unambiguous submission id",
			Message: "the job has no submission id Ray reads unambiguously (none, or one that could name a driver job); stop it on the cluster itself"}
	}
	return res
}

// Package decides an upload of a package (PUT /api/packages/...) once the
// cluster has answered whether it holds that package: exists and
// lookupErr are what jobs.Client.PackageExists returned. A package is
// written once (see package jobs), so nobody can replace the code another
// user's jobs run: an upload of a package the cluster holds is refused
// (409), and so is one the cluster cannot tell about (502).
func Package(exists bool, lookupErr error) Refusal {
	switch {
	case lookupErr != nil:
		return Refusal{Status: http.StatusBadGateway, Code: "bad_gateway", Reason: "package lookup failed",
			Message: "the Ray cluster could not say whether the package exists, so it was not uploaded"}
	case exists:
		return Refusal{Status: http.StatusConflict, Code: "conflict", Reason: "package exists: packages are written once",
			Message: "the cluster already holds this package, and packages are written once (a package's name stands for its content); upload under the name of your package's content, as Ray's clients do"}
	}
	return Refusal{}
}

// StopPath is the path a stop (POST) or delete (another method) of the
// job with submission id is forwarded to.
func StopPath(method, id string) string {
	if method == http.MethodPost {
		return "/api/jobs/" + id + "/stop"
	}
	return "/api/jobs/" + id
}
