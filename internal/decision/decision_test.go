package decision

import (
	"context"
	"errors"
	"net/url"
	"testing"

	"github.com/raygate/raygate/internal/authz"
	"github.com/raygate/raygate/internal/config"
	"github.com/raygate/raygate/internal/identity"
	"github.com/raygate/raygate/internal/jobs"
	"github.com/raygate/raygate/internal/route"
)

func TestCheckMethod(t *testing.T) {
	for _, tc := range []struct {
		method string
		status int
		reason string
	}{
		{"GET", 0, ""}, {"HEAD", 0, ""}, {"POST", 0, ""}, {"PUT", 0, ""}, {"DELETE", 0, ""}, {"PATCH", 0, ""}, {"OPTIONS", 0, ""},
		{"CONNECT", 405, "method CONNECT not allowed"},
		{"TRACE", 405, "method TRACE not allowed"},
		{"get", 501, "unknown method"},
		{"PROPFIND", 501, "unknown method"},
	} {
		r := CheckMethod(tc.method)
		if r.Status != tc.status || r.Reason != tc.reason || r.Refused() != (tc.status != 0) {
			t.Errorf("CheckMethod(%q) = %+v, want %d %q", tc.method, r, tc.status, tc.reason)
		}
	}
}

func TestRoute(t *testing.T) {
	for _, tc := range []struct {
		path   string
		kind   PathKind
		reason string
		key    string
	}{
		{"/clusters/team-a/ray1/api/jobs/", PathCluster, "", "team-a/ray1"},
		{"/clusters/team-a/ray1", PathCluster, "", "team-a/ray1"},
		{"/clusters/team-a/ray1/../../team-b/ray1/", PathRefused, "ambiguous path: dot segment", ""},
		{"/clusters/team-a/ray1/api/jobs/x%2fy", PathRefused, "ambiguous path: encoded slash", ""},
		{"/_raygate/whoami", PathGateway, "", ""},
		{"/_raygate/../clusters/a/b/", PathRefused, "ambiguous path: dot segment", ""},
		{"/api/version", PathNone, "no route", ""},
		{"/clusters/Team-A/ray1/", PathNone, "no route", ""},
		{"/", PathGateway, "", ""},
	} {
		p := Route(tc.path)
		if p.Kind != tc.kind || p.Refusal.Reason != tc.reason || (tc.key != "" && p.Target.Key() != tc.key) {
			t.Errorf("Route(%q) = %+v, want kind %d reason %q", tc.path, p, tc.kind, tc.reason)
		}
		if p.Kind == PathRefused && p.Refusal.Status != 400 || p.Kind == PathNone && p.Refusal.Status != 404 {
			t.Errorf("Route(%q): status %d", tc.path, p.Refusal.Status)
		}
	}
	if !IsProbe("/healthz") || !IsProbe("/readyz") || IsProbe("/healthz/") {
		t.Error("IsProbe")
	}
}

type failingRoles struct{}

func (failingRoles) RoleOf(context.Context, *identity.Identity, authz.Resource) (authz.Role, string, error) {
	return authz.RoleNone, "", errors.New("api server down")
}

// testRegistry is team-a/ray1 with the default least roles, and
// team-a/ray2 with the same bindings where actionRoles raise logs.read
// and jobs.submit.
func testRegistry() route.Static {
	u, _ := url.Parse("http://127.0.0.1:1")
	b := authz.NewBindings([]config.Binding{
		{Role: "developer", Groups: []string{"team-a"}},
		{Role: "viewer", Users: []string{"carol"}},
		{Role: "admin", Users: []string{"root"}},
	})
	raised, err := authz.NewPolicy(map[string]string{"logs.read": "developer", "jobs.submit": "admin"})
	if err != nil {
		panic(err)
	}
	return route.Static{
		"team-a/ray1": &route.Cluster{Namespace: "team-a", Name: "ray1", Key: "team-a/ray1", Upstream: u, Bindings: b},
		"team-a/ray2": &route.Cluster{Namespace: "team-a", Name: "ray2", Key: "team-a/ray2", Upstream: u, Bindings: b, Policy: raised},
	}
}

func TestDecide(t *testing.T) {
	reg := testRegistry()
	alice := &identity.Identity{User: "alice", Groups: []string{"team-a"}}
	carol := &identity.Identity{User: "carol"}
	eve := &identity.Identity{User: "eve", Groups: []string{"team-b"}}
	for _, tc := range []struct {
		name, method, path string
		id                 *identity.Identity
		status             int
		reason             string
		action             authz.Action
		role               authz.Role
		redirect, owner    bool
	}{
		{"developer submits", "POST", "/clusters/team-a/ray1/api/jobs/", alice, 0, "role developer allows jobs.submit", authz.ActionJobsSubmit, authz.RoleDeveloper, false, false},
		{"viewer cannot submit", "POST", "/clusters/team-a/ray1/api/jobs/", carol, 403, "role viewer does not allow jobs.submit (needs developer)", authz.ActionJobsSubmit, authz.RoleViewer, false, false},
		{"no role is not found", "GET", "/clusters/team-a/ray1/api/version", eve, 404, ReasonNotFound, authz.ActionClusterRead, authz.RoleNone, false, false},
		{"missing cluster is not found", "GET", "/clusters/team-z/ray1/api/version", alice, 404, ReasonNotFound, authz.ActionClusterRead, authz.RoleNone, false, false},
		{"bad job id", "GET", "/clusters/team-a/ray1/api/jobs/a.b", alice, 400, "job id may only contain letters, digits, '-' and '_'", authz.ActionClusterRead, authz.RoleDeveloper, false, false},
		{"no role before the job id", "GET", "/clusters/team-a/ray1/api/jobs/a.b", eve, 404, ReasonNotFound, authz.ActionClusterRead, authz.RoleNone, false, false},
		{"stop checks the owner", "POST", "/clusters/team-a/ray1/api/jobs/raysubmit_1/stop", alice, 0, "role developer allows jobs.stop", authz.ActionJobsStop, authz.RoleDeveloper, false, true},
		{"viewer's stop is refused at once", "POST", "/clusters/team-a/ray1/api/jobs/raysubmit_1/stop", carol, 403, "role viewer does not allow jobs.stop (needs developer)", authz.ActionJobsStop, authz.RoleViewer, false, false},
		{"no trailing slash redirects", "GET", "/clusters/team-a/ray1", carol, 0, "role viewer allows dashboard.view", authz.ActionDashboardView, authz.RoleViewer, true, false},
		{"viewer reads logs", "GET", "/clusters/team-a/ray1/api/v0/logs/file", carol, 0, "role viewer allows logs.read", authz.ActionLogsRead, authz.RoleViewer, false, false},
		{"actionRoles keep a viewer out of logs", "GET", "/clusters/team-a/ray2/api/v0/logs/file", carol, 403, "role viewer does not allow logs.read (needs developer on this cluster)", authz.ActionLogsRead, authz.RoleViewer, false, false},
		{"actionRoles let a developer read logs", "GET", "/clusters/team-a/ray2/api/v0/logs/stream", alice, 0, "role developer allows logs.read", authz.ActionLogsRead, authz.RoleDeveloper, false, false},
		{"actionRoles raise a submission to admin", "POST", "/clusters/team-a/ray2/api/jobs/", alice, 403, "role developer does not allow jobs.submit (needs admin on this cluster)", authz.ActionJobsSubmit, authz.RoleDeveloper, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := Route(tc.path)
			res := Decide(context.Background(), reg, authz.BindingsOnly{}, Request{Method: tc.method, Target: p.Target, Identity: tc.id})
			reason := res.Decision.Reason
			if res.Refused() {
				reason = res.Reason
			}
			if res.Status != tc.status || reason != tc.reason || res.Request.Action != tc.action || res.Role != tc.role || res.Redirect != tc.redirect || res.CheckOwner != tc.owner {
				t.Fatalf("Decide = %+v", res)
			}
			if tc.status == 403 && (res.Needs != res.Decision.Needs || res.Needs == authz.RoleNone || ForbiddenMessage(res.Reason) != "forbidden: "+tc.reason) {
				t.Fatalf("403 without the role it needs: %+v", res.Refusal)
			}
			if tc.status == 404 && (res.Message != "not found" || res.Role != authz.RoleNone || res.RoleSource != "") {
				t.Fatalf("404 tells more than not found: %+v", res)
			}
		})
	}
	res := Decide(context.Background(), reg, failingRoles{}, Request{Method: "GET", Target: Route("/clusters/team-a/ray1/").Target, Identity: alice})
	if res.Status != 503 || res.Err == nil || res.Reason != ReasonNoRole {
		t.Fatalf("failing resolver: %+v", res)
	}
}

func TestStop(t *testing.T) {
	c := testRegistry()["team-a/ray1"]
	owned := jobs.Job{SubmissionID: "raysubmit_1", Owner: "alice"}
	for _, tc := range []struct {
		name   string
		role   authz.Role
		job    jobs.Job
		err    error
		status int
		action authz.Action
		reason string
	}{
		{"own job", authz.RoleDeveloper, owned, nil, 0, authz.ActionJobsStop, "role developer allows jobs.stop"},
		{"someone else's", authz.RoleDeveloper, jobs.Job{SubmissionID: "raysubmit_1", Owner: "bob"}, nil, 403, authz.ActionJobsStopAny, "role developer does not allow jobs.stop.any (needs admin)"},
		{"no owner", authz.RoleDeveloper, jobs.Job{SubmissionID: "raysubmit_1"}, nil, 403, authz.ActionJobsStopAny, "role developer does not allow jobs.stop.any (needs admin)"},
		{"admin, anyone's", authz.RoleAdmin, jobs.Job{SubmissionID: "raysubmit_1", Owner: "bob"}, nil, 0, authz.ActionJobsStopAny, "role admin allows jobs.stop.any"},
		{"not found, developer", authz.RoleDeveloper, jobs.Job{}, jobs.ErrNotFound, 403, authz.ActionJobsStopAny, "role developer does not allow jobs.stop.any (needs admin)"},
		{"not found, admin", authz.RoleAdmin, jobs.Job{}, jobs.ErrNotFound, 404, authz.ActionJobsStopAny, "job not found"},
		{"lookup failed", authz.RoleAdmin, jobs.Job{}, errors.New("boom"), 502, authz.ActionJobsStopAny, "job lookup failed"},
		{"driver id", authz.RoleAdmin, jobs.Job{SubmissionID: "03000000", Owner: "alice"}, nil, 409, authz.ActionJobsStopAny, "job has no unambiguous submission id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := Stop(c, tc.role, "alice", "raysubmit_1", tc.job, tc.err)
			reason := s.Decision.Reason
			if s.Refused() {
				reason = s.Reason
			}
			if s.Status != tc.status || s.Action != tc.action || reason != tc.reason {
				t.Fatalf("Stop = %+v", s)
			}
			if !s.Refused() && s.ID != tc.job.SubmissionID {
				t.Fatalf("acts on %q", s.ID)
			}
		})
	}
	if p := StopPath("POST", "x"); p != "/api/jobs/x/stop" {
		t.Error(p)
	}
	if p := StopPath("DELETE", "x"); p != "/api/jobs/x" {
		t.Error(p)
	}
}
