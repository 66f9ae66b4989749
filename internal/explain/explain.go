// Package explain says why the gateway decides what it decides: for one
// request and one caller, every step of the gateway's decision (the
// method and path checks, the cluster, the caller's role and the binding
// that gives it, the Ray action and the role it needs, the job-ownership
// rule, the reason), computed by the gateway's own decision functions
// (package decision) over the same config. It serves raygate explain,
// raygate test and GET /_raygate/explain.
package explain

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/raygate/raygate/internal/audit"
	"github.com/raygate/raygate/internal/authn"
	"github.com/raygate/raygate/internal/authz"
	"github.com/raygate/raygate/internal/config"
	"github.com/raygate/raygate/internal/decision"
	"github.com/raygate/raygate/internal/identity"
	"github.com/raygate/raygate/internal/jobs"
	"github.com/raygate/raygate/internal/rbac"
	"github.com/raygate/raygate/internal/route"
	"github.com/raygate/raygate/internal/signin"
)

// Outcomes of a request, as policy tests name them.
const (
	// OutcomeAllow: the request is forwarded to Ray (or answered by
	// raygate itself: a redirect, a probe, one of its own endpoints).
	OutcomeAllow = "allow"
	// OutcomeDeny: raygate refuses the request (400, 401, 403, 405, 409,
	// 501, 503...).
	OutcomeDeny = "deny"
	// OutcomeNotFound: raygate answers 404, as for a cluster that does
	// not exist.
	OutcomeNotFound = "notfound"
)

// Step results.
const (
	StepPass = "pass"
	StepStop = "stop"
	StepNote = "note"
)

// Explanation is the gateway's decision on one request, step by step.
type Explanation struct {
	// Method, Path and Upgrade are the request explained.
	Method  string `json:"method"`
	Path    string `json:"path"`
	Upgrade bool   `json:"upgrade,omitempty"`
	// Subject is the caller, once authenticated.
	Subject *Subject `json:"subject,omitempty"`
	// Outcome is allow, deny or notfound.
	Outcome string `json:"outcome"`
	// Decision is the audit log's decision: allow or deny.
	Decision string `json:"decision"`
	// Status is raygate's own answer; 0 (omitted) when the request is
	// forwarded and Ray answers.
	Status int `json:"status,omitempty"`
	// Error is the JSON error code of raygate's answer.
	Error string `json:"error,omitempty"`
	// Reason is the audit log's reason.
	Reason string `json:"reason"`
	// Message is what the caller is told.
	Message string `json:"message,omitempty"`
	// Condition, when set, is what an allowed request still depends on
	// (a stop: who owns the job).
	Condition string `json:"condition,omitempty"`
	// Cluster is namespace/name, for a cluster path.
	Cluster string `json:"cluster,omitempty"`
	// ClusterSource is where the cluster comes from: config,
	// kubernetes (discovered) or kubernetes-assumed (offline, a
	// RayCluster discovery would serve).
	ClusterSource string `json:"cluster_source,omitempty"`
	// Action is the Ray action; RequiredRole the least role it needs on
	// the cluster.
	Action       string `json:"action,omitempty"`
	RequiredRole string `json:"required_role,omitempty"`
	// Role is the caller's role on the cluster; RoleSource where it came
	// from ("binding", "rbac ray:write").
	Role       string `json:"role,omitempty"`
	RoleSource string `json:"role_source,omitempty"`
	// Binding is the binding that gives Role, when one does.
	Binding *Binding `json:"binding,omitempty"`
	// RBAC is "asked" when Kubernetes RBAC was asked for the role, "not
	// asked" when it is a source of roles that was not asked (the role is
	// the bindings' alone), "" when it is no source of roles.
	RBAC string `json:"rbac,omitempty"`
	// Reviews are the SubjectAccessReviews made, when recorded.
	Reviews []Review `json:"reviews,omitempty"`
	// JobID is the job the path names.
	JobID string `json:"job_id,omitempty"`
	// Ownership is the ownership rule of a stop or delete.
	Ownership *Ownership `json:"ownership,omitempty"`
	// Origin is the rule for a caller whose credential the browser sends
	// by itself (raygate's session cookie, IAP's), when the request must
	// show that the person meant to send it.
	Origin *Origin `json:"origin,omitempty"`
	// Steps are the gateway's steps, in order.
	Steps []Step `json:"steps"`
}

// Subject is the caller of an explained request.
type Subject struct {
	User           string   `json:"user"`
	Groups         []string `json:"groups"`
	ServiceAccount string   `json:"service_account,omitempty"`
	// AuthMethod and AuthSource say how a verified credential
	// authenticated; empty for a subject given by name.
	AuthMethod string `json:"auth_method,omitempty"`
	AuthSource string `json:"auth_source,omitempty"`
}

// Binding is the config binding that gives the caller its role.
type Binding struct {
	Role string `json:"role"`
	// Kind and Subject are the name it matched: user, group or
	// serviceAccount.
	Kind    string `json:"kind"`
	Subject string `json:"subject"`
	// File and Line are where it is written; File is left out when
	// explaining to the caller itself.
	File  string `json:"file,omitempty"`
	Line  int    `json:"line,omitempty"`
	Field string `json:"field,omitempty"`
}

// Ownership is the rule a stop or delete is decided by once the cluster
// names the job's owner.
type Ownership struct {
	// Owner is the owner the explanation assumed, when one was given.
	Owner *string `json:"owner,omitempty"`
	// Own, Other and Missing are the answers for the caller's own job,
	// anyone else's (or one with no owner), and a job that does not
	// exist: "allow" or "deny NNN".
	Own     string `json:"own"`
	Other   string `json:"other"`
	Missing string `json:"missing"`
}

// Origin is the rule a request is decided by when the caller's
// credential is one the browser sends by itself, to any site's request:
// who made the browser send it (decision.Intent).
type Origin struct {
	// Credential is the caller's: session or iap.
	Credential string `json:"credential"`
	// Rule says which requests pass.
	Rule string `json:"rule"`
	// OtherSite is the answer when another site made the browser send
	// the request: "deny 403"; Reason is the audit log's reason then.
	OtherSite string `json:"other_site"`
	Reason    string `json:"reason"`
}

// Step is one step of the decision.
type Step struct {
	// Step names it: method, path, upgrade, caller, cluster, role, rbac,
	// action, job id, decision, origin, limits, redirect, answer,
	// ownership, package, submission, audit, forward.
	Step string `json:"step"`
	// Result is pass, stop (the request stops here) or note.
	Result string `json:"result"`
	// Detail says what happened.
	Detail string `json:"detail"`
}

// Caller authenticates the explained request when the gateway would: it
// returns the caller's identity, or an *authn.Failure.
type Caller func(ctx context.Context) (*identity.Identity, error)

// As is the Caller that is id.
func As(id *identity.Identity) Caller {
	return func(context.Context) (*identity.Identity, error) { return id, nil }
}

// Explain runs the gateway's decision on q for the caller who and says
// what happens at each step.
func Explain(ctx context.Context, p Policy, q Query, who Caller) *Explanation {
	b := &builder{p: p, q: q, e: &Explanation{Method: q.Method, Path: q.Path, Upgrade: q.Upgrade, Steps: []Step{}}}
	b.run(ctx, who)
	return b.e
}

type builder struct {
	p Policy
	q Query
	e *Explanation
}

func (b *builder) step(name, result, format string, args ...any) {
	b.e.Steps = append(b.e.Steps, Step{Step: name, Result: result, Detail: fmt.Sprintf(format, args...)})
}

func (b *builder) refuse(ref decision.Refusal) {
	e := b.e
	e.Decision, e.Status, e.Error, e.Reason, e.Message = audit.Deny, ref.Status, ref.Code, ref.Reason, ref.Message
	e.Outcome = OutcomeDeny
	if ref.Status == http.StatusNotFound {
		e.Outcome = OutcomeNotFound
	}
	if ref.Status == http.StatusForbidden {
		e.Message = decision.ForbiddenMessage(ref.Reason)
		if ref.Needs != authz.RoleNone {
			e.RequiredRole = ref.Needs.String()
		}
	}
}

func (b *builder) allow(status int, reason string) {
	b.e.Decision, b.e.Outcome, b.e.Status, b.e.Reason = audit.Allow, OutcomeAllow, status, reason
}

func (b *builder) run(ctx context.Context, who Caller) {
	q := b.q
	if ref := decision.CheckMethod(q.Method); ref.Refused() {
		b.step("method", StepStop, "%s is refused before anything else reads the request", q.Method)
		b.refuse(ref)
		return
	}
	b.step("method", StepPass, "%s is a method raygate forwards", q.Method)
	if decoded, err := url.PathUnescape(q.Path); err == nil && decision.IsProbe(decoded) {
		b.step("path", StepPass, "a health probe: raygate answers it itself, without credentials")
		b.e.Action = decision.ActionHealth
		b.allow(http.StatusOK, "health probe")
		return
	}
	pth := decision.Route(q.Path)
	switch pth.Kind {
	case decision.PathRefused:
		b.step("path", StepStop, "%s: refused before authentication, so raygate, its router and Ray never read the path differently", pth.Refusal.Reason)
		b.refuse(pth.Refusal)
		return
	case decision.PathNone:
		b.step("path", StepStop, "neither /clusters/{namespace}/{name}/... nor one of raygate's own endpoints")
		b.refuse(pth.Refusal)
		return
	case decision.PathGateway:
		b.own(ctx, who)
		return
	}
	t := pth.Target
	b.e.Cluster = t.Key()
	rest := t.Rest
	if rest == "" {
		rest = "(none)"
	}
	b.step("path", StepPass, "no ambiguous form; cluster %s, Ray path %s", t.Key(), rest)
	if q.Upgrade {
		if ref := decision.CheckUpgrade(q.Method, webSocketHandshake()); ref.Refused() {
			b.step("upgrade", StepStop, "%s (refused before authentication)", ref.Reason)
			b.refuse(ref)
			return
		}
		b.step("upgrade", StepPass, "a WebSocket opening handshake (assumed well-formed: Connection, Sec-WebSocket-Key and -Version 13), the only upgrade raygate forwards")
	}
	id, ok := b.authenticate(ctx, who)
	if !ok {
		return
	}
	b.cluster(ctx, t, id)
}

// own explains raygate's own endpoints.
func (b *builder) own(ctx context.Context, who Caller) {
	path := b.q.Path
	ep, ok := decision.Endpoints[path]
	if !ok {
		if signin.Owns(path) && b.p.Config.LoginEnabled() {
			b.signIn()
			return
		}
		b.step("path", StepStop, "under /_raygate/ but none of raygate's own endpoints")
		b.refuse(decision.NoRoute())
		return
	}
	b.e.Action = ep.Action
	what := "raygate's own endpoint " + path
	if path == decision.EndpointLanding {
		what = "raygate's landing page (a page for a browser, whoami's answer for a program)"
	}
	b.step("path", StepPass, "%s: answered by raygate, never forwarded", what)
	if ref := decision.OwnMethod(b.q.Method); ref.Refused() {
		b.step("method", StepStop, "%s answers GET and HEAD only", path)
		b.refuse(ref)
		return
	}
	if ep.Public {
		b.step("decision", StepPass, "public: answered without credentials")
		b.allow(http.StatusOK, ep.Reason)
		return
	}
	if _, ok := b.authenticate(ctx, who); !ok {
		return
	}
	b.step("decision", StepPass, "every authenticated caller may ask about itself")
	b.allow(http.StatusOK, ep.Reason)
	if path == decision.EndpointExplain {
		b.e.Condition = "with a query ?method=M&path=P; without one, or with a bad one, deny 400 (" + ReasonBadQuery + ")"
	}
}

// signIn explains browser sign-in's endpoints, which an issuer with
// login: true adds.
func (b *builder) signIn() {
	b.e.Action = signin.ActionSignIn
	if p := b.q.Path; p == signin.PathSignOut || p == signin.PathSignedOut {
		b.e.Action = signin.ActionSignOut
	}
	b.step("path", StepPass, "raygate's browser sign-in endpoint %s (an issuer has login: true): answered by raygate without credentials, never forwarded", b.q.Path)
	b.allow(0, "browser sign-in")
	b.e.Condition = "the answer (a redirect or a page) depends on the sign-in or sign-out in progress"
}

// errLookup stands for a lookup the cluster did not answer.
var errLookup = errors.New("explain: no answer")

// webSocketHandshake is the header of a well-formed WebSocket opening
// handshake, as an explained upgrade is assumed to send.
func webSocketHandshake() http.Header {
	h := http.Header{}
	h.Set("Upgrade", "websocket")
	h.Set("Connection", "Upgrade")
	h.Set("Sec-WebSocket-Key", "AAAAAAAAAAAAAAAAAAAAAA==")
	h.Set("Sec-WebSocket-Version", "13")
	return h
}

func (b *builder) authenticate(ctx context.Context, who Caller) (*identity.Identity, bool) {
	id, err := who(ctx)
	if err != nil {
		var f *authn.Failure
		if !errors.As(err, &f) {
			f = &authn.Failure{Reason: authn.ReasonMalformed, Msg: "credential could not be verified", Status: http.StatusUnauthorized}
		}
		b.step("caller", StepStop, "the credential is refused: %s (%s)", f.Msg, f.Reason)
		b.refuse(decision.Refusal{Status: f.Status, Code: failureCode(f.Status), Reason: "authentication: " + f.Reason, Message: f.Msg})
		return nil, false
	}
	s := &Subject{User: id.User, Groups: id.Groups, ServiceAccount: id.ServiceAccount, AuthMethod: string(id.Method), AuthSource: id.Source}
	if s.Groups == nil {
		s.Groups = []string{}
	}
	b.e.Subject = s
	b.step("caller", StepPass, "%s", describeSubject(s))
	if id.Method == identity.MethodSession && decision.ChangesState(b.q.Method, b.q.Upgrade) {
		b.origin(id.Method, ruleChangesState)
	}
	return id, true
}

func failureCode(status int) string {
	if status == http.StatusServiceUnavailable {
		return "unavailable"
	}
	return "unauthenticated"
}

func describeSubject(s *Subject) string {
	var b strings.Builder
	b.WriteString(s.User)
	if len(s.Groups) > 0 {
		b.WriteString(", groups " + strings.Join(s.Groups, ", "))
	} else {
		b.WriteString(", no groups")
	}
	if s.ServiceAccount != "" {
		b.WriteString(", service account " + s.ServiceAccount)
	}
	switch {
	case s.AuthMethod == "":
		b.WriteString(" (as given)")
	case s.AuthSource != "":
		fmt.Fprintf(&b, " (verified: %s, %s)", s.AuthMethod, s.AuthSource)
	default:
		fmt.Fprintf(&b, " (verified: %s)", s.AuthMethod)
	}
	return b.String()
}

// cluster explains a request to a cluster: the decision package's
// Decide, and Stop for a stop or delete.
func (b *builder) cluster(ctx context.Context, t route.Target, id *identity.Identity) {
	p, e := b.p, b.e
	res := decision.Decide(ctx, p.Registry, p.Roles, decision.Request{Method: b.q.Method, Target: t, Upgrade: b.q.Upgrade, Identity: id})
	if reviews := p.Reviews.take(); !p.Private {
		e.Reviews = reviews
	}
	e.Action, e.JobID = string(res.Request.Action), res.Request.JobID
	// A role that could not be resolved is a 503 whether or not the
	// caller has one; every other answer without a role is "not found".
	if p.Private && (res.Cluster == nil || res.Role == authz.RoleNone) && res.Err == nil {
		// Exactly the same for a cluster that does not exist.
		b.step("cluster", StepStop, "%s: not found: there is no such cluster, or you have no role on it", t.Key())
		b.actionStep(res, nil)
		b.refuse(res.Refusal)
		return
	}
	b.clusterStep(t, res.Cluster)
	if res.Cluster != nil {
		b.roleStep(res, id)
	}
	if res.Err != nil {
		b.refuse(res.Refusal)
		return
	}
	b.actionStep(res, res.Cluster)
	if res.Role == authz.RoleNone {
		b.refuse(res.Refusal)
		return
	}
	if res.Request.JobID != "" {
		if res.Status == http.StatusBadRequest {
			b.step("job id", StepStop, "%q: %s", res.Request.JobID, res.Reason)
			b.refuse(res.Refusal)
			return
		}
		b.step("job id", StepPass, "%s: letters, digits, '-' and '_' only", res.Request.JobID)
	}
	if !res.Decision.Allow {
		b.step("decision", StepStop, "%s", res.Decision.Reason)
		b.refuse(res.Refusal)
		return
	}
	b.step("decision", StepPass, "%s", res.Decision.Reason)
	b.intent(res, id)
	if l := p.Config.Limits; l.PerUser != (config.Limit{}) || l.PerCluster != (config.Limit{}) {
		b.step("limits", StepNote, "abuse limits apply next: a request over one is answered 429 with Retry-After")
	}
	if res.Redirect {
		b.step("redirect", StepPass, "the path names the cluster without a trailing slash: 308 to %s/", b.q.Path)
		b.allow(http.StatusPermanentRedirect, res.Decision.Reason)
		return
	}
	if res.Local {
		b.step("answer", StepPass, "raygate answers %s itself: authentication is disabled, as a caller behind raygate sees it (raygate authenticates callers and adds the cluster's Ray token itself, which no caller holds)", b.rayRequest())
		b.allow(http.StatusOK, res.Decision.Reason+"; "+decision.ReasonLocal)
		return
	}
	rest := t.Rest
	if res.CheckOwner {
		var ok bool
		if rest, ok = b.ownership(res, id); !ok {
			return
		}
	} else {
		b.allow(0, res.Decision.Reason)
	}
	if res.CheckPackage {
		exists, failed := decision.Package(true, nil), decision.Package(false, errLookup)
		b.step("package", StepNote, "packages are written once: raygate asks %s whether it holds this package already; if it does, deny %d (%s); if it cannot tell, deny %d (%s)",
			t.Key(), exists.Status, exists.Reason, failed.Status, failed.Reason)
		if e.Condition == "" {
			e.Condition = fmt.Sprintf("only if the cluster does not hold this package yet; otherwise deny %d (%s)", exists.Status, exists.Reason)
		}
	}
	if res.Request.Body == authz.BodyJobSubmit {
		b.step("submission", StepNote, "raygate reads the submission once (JSON, at most %d bytes), refuses what Ray could read differently, and writes %s=%s into the job's metadata, replacing any value sent",
			p.Config.Proxy.MaxBodyBytes.JobSubmit, jobs.OwnerKey, id.User)
	}
	if authz.Mutates(authz.Action(e.Action), b.q.Method) {
		b.step("audit", StepNote, "the request changes the cluster: its audit record is written durably before it is forwarded (audit.onFailure %s)", p.Config.Audit.OnFailure)
	}
	b.step("forward", StepPass, "to %s as %s %s, without the caller's credentials and with the cluster's Ray token (when it has one); Ray answers", t.Key(), b.q.Method, rest)
}

func (b *builder) clusterStep(t route.Target, c *route.Cluster) {
	e := b.e
	switch {
	case c == nil:
		detail := "no cluster " + t.Key() + " in the config"
		if d := b.p.Config.Discovery.Kubernetes; d != nil && !b.p.Offline {
			detail = "no cluster " + t.Key() + " in the config, and none discovered"
		} else if d != nil {
			detail += "; discovery does not watch namespace " + t.Namespace
		}
		b.step("cluster", StepStop, "%s", detail)
	case c.Source == route.SourceKubernetes && b.p.Offline:
		e.ClusterSource = "kubernetes-assumed"
		detail := "not in the config; discovery.kubernetes serves a RayCluster " + t.Key() + " if one exists, with discovery.kubernetes.access: explained as if it does"
		if b.p.Config.Discovery.Kubernetes.NamespaceSelector != "" {
			detail += " (and namespace " + t.Namespace + " matches namespaceSelector " + strconv.Quote(b.p.Config.Discovery.Kubernetes.NamespaceSelector) + ")"
		}
		b.step("cluster", StepPass, "%s", detail)
	case c.Source == route.SourceKubernetes:
		e.ClusterSource = route.SourceKubernetes
		detail := t.Key() + ": a discovered RayCluster, with discovery.kubernetes.access"
		if c.Owner != "" {
			detail += " (managed by " + c.Owner + ")"
		}
		b.step("cluster", StepPass, "%s", detail)
	default:
		e.ClusterSource = "config"
		b.step("cluster", StepPass, "%s: in the config", t.Key())
	}
}

func (b *builder) roleStep(res decision.Result, id *identity.Identity) {
	p, e := b.p, b.e
	if p.RBAC() {
		e.RBAC = "not asked"
		if p.RBACAsked {
			e.RBAC = "asked"
		}
	}
	if len(e.Reviews) > 0 {
		parts := make([]string, len(e.Reviews))
		for i, r := range e.Reviews {
			parts[i] = describeReview(r)
		}
		b.step("rbac", StepNote, "SubjectAccessReview of %s on %s.%s %s: %s", id.User, rbac.Resource, rbac.Group, e.Cluster, strings.Join(parts, "; "))
	}
	if res.Err != nil {
		detail := "could not be resolved: " + res.Err.Error()
		if p.Private {
			detail = "could not be resolved (the policy source did not answer); raygate refuses rather than guess"
		}
		b.step("role", StepStop, "%s", detail)
		return
	}
	m := res.Cluster.Bindings.Match(id)
	if res.Role != authz.RoleNone {
		e.Role, e.RoleSource = res.Role.String(), res.RoleSource
	}
	var detail string
	switch {
	case res.Role == authz.RoleNone:
		detail = "none: no binding names " + id.User + ", its groups or its service account"
		if p.RBAC() && p.RBACAsked {
			detail += ", and Kubernetes RBAC allows none of ray:read, ray:write, ray:admin"
		}
		detail += ": answered exactly as a cluster that does not exist"
	case res.RoleSource == authz.ReasonBinding:
		e.Binding = b.binding(m)
		detail = fmt.Sprintf("%s, from the binding of %s %s %s", res.Role, m.Kind, m.Subject, b.where(m.Position))
	default:
		detail = fmt.Sprintf("%s, from Kubernetes RBAC (%s on %s.%s %s)", res.Role, strings.TrimPrefix(res.RoleSource, "rbac "), rbac.Resource, rbac.Group, e.Cluster)
		if m.Role != authz.RoleNone {
			detail += fmt.Sprintf("; the bindings alone give %s (%s %s %s)", m.Role, m.Kind, m.Subject, b.where(m.Position))
		}
	}
	result := StepPass
	if res.Role == authz.RoleNone {
		result = StepStop
	}
	b.step("role", result, "%s", detail)
	if p.RBAC() && !p.RBACAsked && res.Role < authz.RoleAdmin {
		b.step("rbac", StepNote, "roles also come from Kubernetes RBAC (ray:read, ray:write, ray:admin on %s.%s %s), which was not asked: the role above is the bindings' alone, and RBAC may raise it (give a kubeconfig to ask the API server)",
			rbac.Resource, rbac.Group, e.Cluster)
	}
}

func describeReview(r Review) string {
	var s string
	switch {
	case r.Error != "":
		s = r.Verb + " failed: " + r.Error
	case r.Allowed:
		s = r.Verb + " allowed"
	default:
		s = r.Verb + " not allowed"
	}
	if r.Reason != "" {
		s += " (" + r.Reason + ")"
	}
	return s
}

// binding describes the binding m matched.
func (b *builder) binding(m authz.Match) *Binding {
	out := &Binding{Role: m.Role.String(), Kind: m.Kind.String(), Subject: m.Subject, File: m.Position.File, Line: m.Position.Line, Field: m.Position.Field}
	if b.p.Private {
		out.File = ""
	}
	return out
}

// where says where a binding is written: FILE:LINE (field), or for the
// caller itself the field and line only.
func (b *builder) where(pos config.Position) string {
	switch {
	case b.p.Private && pos.Line > 0:
		return fmt.Sprintf("(%s, line %d of the config)", pos.Field, pos.Line)
	case b.p.Private:
		return "(" + pos.Field + ")"
	case pos.File == "":
		return "(" + pos.Field + ")"
	}
	return "at " + pos.String() + " (" + pos.Field + ")"
}

func (b *builder) actionStep(res decision.Result, c *route.Cluster) {
	a := res.Request.Action
	var detail string
	if a == authz.ActionClusterAdmin {
		detail = "cluster.admin: the request matches no route of raygate's table, and anything not listed is cluster.admin"
	} else {
		detail = fmt.Sprintf("%s (%s)", a, b.rayRequest())
	}
	if c != nil && res.Role != authz.RoleNone {
		needs := res.Decision.Needs
		if needs == authz.RoleNone {
			needs = decision.Allows(c, authz.RoleAdmin, a).Needs
		}
		b.e.RequiredRole = needs.String()
		detail += ", needs " + needs.String()
		if def := authz.LeastRole(a); needs != def {
			detail += fmt.Sprintf(" on this cluster (its actionRoles raise %s from %s)", a, def)
		}
	}
	if b.q.Upgrade {
		detail += "; a WebSocket, which only the job log tail accepts"
	}
	b.step("action", StepPass, "%s", detail)
}

func (b *builder) rayRequest() string {
	t := decision.Route(b.q.Path).Target
	rest := t.Rest
	if rest == "" {
		rest = "/"
	}
	return b.q.Method + " " + rest
}

// ownership explains a stop or delete: the gateway asks the cluster who
// owns the job, then decides with decision.Stop. With the owner given,
// the explanation settles; without, it says what each answer gives. It
// returns the path forwarded, and false when the stop is refused.
func (b *builder) ownership(res decision.Result, id *identity.Identity) (string, bool) {
	e, c, role, jobID := b.e, res.Cluster, res.Role, res.Request.JobID
	// The cluster reports the job's submission id; a driver id (hex) names
	// a job whose submission id raygate acts on instead.
	subID, forwarded := jobID, ""
	if !jobs.ValidSubmissionID(jobID) {
		subID, forwarded = "raysubmit_reported", "{the submission id the cluster reports}"
	}
	own := decision.Stop(c, role, id.User, jobID, jobs.Job{SubmissionID: subID, Owner: id.User}, nil)
	other := decision.Stop(c, role, id.User, jobID, jobs.Job{SubmissionID: subID}, nil)
	missing := decision.Stop(c, role, id.User, jobID, jobs.Job{}, jobs.ErrNotFound)
	e.Ownership = &Ownership{Own: answer(own), Other: answer(other), Missing: answer(missing)}
	rule := fmt.Sprintf("raygate asks %s who owns job %s (its %s metadata): for your own job this is %s (%s); for anyone else's, or one with no owner, %s (%s); a job that does not exist: %s",
		e.Cluster, jobID, jobs.OwnerKey, own.Action, answer(own), other.Action, answer(other), answer(missing))
	if jobs.CouldNameDriver(jobID) {
		rule += "; Ray reads this id as a driver job id first, and raygate acts on the submission id the cluster reports (a job without one answers 409)"
	}
	if o := b.q.JobOwner; o != nil || b.q.JobMissing {
		var stop decision.StopResult
		var told string
		if b.q.JobMissing {
			stop, told = missing, "the cluster reports no job "+jobID
		} else {
			e.Ownership.Owner = o
			stop = decision.Stop(c, role, id.User, jobID, jobs.Job{SubmissionID: subID, Owner: *o}, nil)
			told = "the cluster reports " + strconv.Quote(*o) + " as the owner"
			if *o == "" {
				told = "the cluster reports no owner"
			}
		}
		e.Action = string(stop.Action)
		if stop.Refused() {
			b.step("ownership", StepStop, "%s: %s; %s", told, stop.Action, stop.Reason)
			b.refuse(stop.Refusal)
			return "", false
		}
		b.step("ownership", StepPass, "%s: %s; %s", told, stop.Action, stop.Decision.Reason)
		b.allow(0, stop.Decision.Reason)
		return stopPath(b.q.Method, stop.ID, forwarded), true
	}
	b.step("ownership", StepNote, "%s", rule)
	b.allow(0, own.Decision.Reason)
	if own.Refused() != other.Refused() {
		e.Condition = fmt.Sprintf("only if the cluster reports %s as the job's owner; otherwise %s", id.User, answer(other))
	}
	return stopPath(b.q.Method, subID, forwarded), true
}

// stopPath is the path a stop is forwarded to: with the submission id
// the cluster reports, shown as placeholder when it is not the path's.
func stopPath(method, id, placeholder string) string {
	p := decision.StopPath(method, id)
	if placeholder != "" {
		p = strings.Replace(p, id, placeholder, 1)
	}
	return p
}

func answer(s decision.StopResult) string {
	if s.Refused() {
		return "deny " + strconv.Itoa(s.Status)
	}
	return "allow"
}
