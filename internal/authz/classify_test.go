package authz

import (
	"strings"
	"testing"
)

var classifyCases = []struct {
	method, path string
	upgrade      bool
	want         Action
	jobID        string
}{
	// Dashboard.
	{"GET", "/", false, ActionDashboardView, ""},
	{"HEAD", "/", false, ActionDashboardView, ""},
	{"GET", "/favicon.ico", false, ActionDashboardView, ""},
	{"GET", "/static/js/main.84605326.js", false, ActionDashboardView, ""},
	{"GET", "/static/css/main.css", false, ActionDashboardView, ""},
	{"GET", "/static/", false, ActionClusterAdmin, ""},
	{"GET", "/static", false, ActionClusterAdmin, ""},
	{"POST", "/", false, ActionClusterAdmin, ""},
	{"POST", "/static/js/x.js", false, ActionClusterAdmin, ""},

	// Jobs read.
	{"GET", "/api/version", false, ActionClusterRead, ""},
	{"GET", "/api/jobs/", false, ActionClusterRead, ""},
	{"HEAD", "/api/jobs/", false, ActionClusterRead, ""},
	{"GET", "/api/jobs/raysubmit_1", false, ActionClusterRead, "raysubmit_1"},
	{"GET", "/api/jobs/raysubmit_1/logs", false, ActionClusterRead, "raysubmit_1"},
	{"GET", "/api/jobs/raysubmit_1/logs/tail", true, ActionClusterRead, "raysubmit_1"},
	{"GET", "/api/jobs/raysubmit_1/logs/tail", false, ActionClusterRead, "raysubmit_1"},
	{"GET", "/api/jobs", false, ActionClusterAdmin, ""},
	{"GET", "/api/jobs/raysubmit_1/", false, ActionClusterAdmin, ""},
	{"GET", "/api/jobs/raysubmit_1/logs/", false, ActionClusterAdmin, ""},

	// Jobs write.
	{"POST", "/api/jobs/", false, ActionJobsSubmit, ""},
	{"POST", "/api/jobs", false, ActionClusterAdmin, ""},
	{"PUT", "/api/jobs/", false, ActionClusterAdmin, ""},
	{"GET", "/api/packages/gcs/_ray_pkg_abc.zip", false, ActionJobsSubmit, ""},
	{"PUT", "/api/packages/gcs/_ray_pkg_abc.zip", false, ActionJobsSubmit, ""},
	{"DELETE", "/api/packages/gcs/_ray_pkg_abc.zip", false, ActionClusterAdmin, ""},
	{"PUT", "/api/packages/gcs", false, ActionClusterAdmin, ""},
	{"PUT", "/api/packages/gcs/a/b", false, ActionClusterAdmin, ""},
	{"POST", "/api/jobs/raysubmit_1/stop", false, ActionJobsStop, "raysubmit_1"},
	{"DELETE", "/api/jobs/raysubmit_1", false, ActionJobsStop, "raysubmit_1"},
	{"GET", "/api/jobs/raysubmit_1/stop", false, ActionClusterAdmin, ""},
	{"DELETE", "/api/jobs/", false, ActionClusterAdmin, ""},
	{"POST", "/api/jobs//stop", false, ActionClusterAdmin, ""},

	// Serve.
	{"GET", "/api/serve/applications/", false, ActionClusterRead, ""},
	{"PUT", "/api/serve/applications/", false, ActionServeDeploy, ""},
	{"DELETE", "/api/serve/applications/", false, ActionServeDeploy, ""},
	{"POST", "/api/serve/applications/", false, ActionClusterAdmin, ""},
	{"POST", "/api/v1/applications/app1/deployments/d1/scale", false, ActionServeDeploy, ""},

	// State and views.
	{"GET", "/api/cluster_status", false, ActionClusterRead, ""},
	{"GET", "/api/v0/actors", false, ActionClusterRead, ""},
	{"GET", "/api/v0/tasks/summarize", false, ActionClusterRead, ""},
	{"GET", "/api/v0/logs", false, ActionClusterRead, ""},
	{"GET", "/nodes", false, ActionClusterRead, ""},
	{"GET", "/nodes/abc", false, ActionClusterRead, ""},
	{"GET", "/logical/actors/abc", false, ActionClusterRead, ""},
	{"GET", "/api/ray/version", false, ActionClusterRead, ""},
	{"GET", "/timezone", false, ActionClusterRead, ""},

	// Admin-only: profiling, tracebacks, log contents, anything else.
	// Log file contents.
	{"GET", "/api/v0/logs/file", false, ActionLogsRead, ""},
	{"HEAD", "/api/v0/logs/file", false, ActionLogsRead, ""},
	{"GET", "/api/v0/logs/stream", false, ActionLogsRead, ""},
	{"POST", "/api/v0/logs/file", false, ActionClusterAdmin, ""},
	{"GET", "/api/v0/logs/stream", true, ActionClusterAdmin, ""},
	{"GET", "/api/v0/logs/other", false, ActionClusterAdmin, ""},
	{"GET", "/api/v0/logs/file/x", false, ActionClusterAdmin, ""},
	{"GET", "/api/authentication_mode", false, ActionClusterRead, ""},
	{"POST", "/api/authenticate", false, ActionClusterAdmin, ""},
	{"GET", "/api/v0/platform_events", false, ActionClusterRead, ""},
	{"HEAD", "/api/v0/platform_events", false, ActionClusterRead, ""},
	{"GET", "/logs/raylet.out", false, ActionClusterAdmin, ""},
	{"GET", "/worker/traceback", false, ActionClusterAdmin, ""},
	{"GET", "/worker/cpu_profile", false, ActionClusterAdmin, ""},
	{"GET", "/task/cpu_profile", false, ActionClusterAdmin, ""},
	{"GET", "/memory_profile", false, ActionClusterAdmin, ""},
	{"GET", "/test/dump", false, ActionClusterAdmin, ""},
	{"POST", "/api/authenticate", false, ActionClusterAdmin, ""},
	{"POST", "/report_events", false, ActionClusterAdmin, ""},
	{"POST", "/api/task_events", false, ActionClusterAdmin, ""},
	{"POST", "/api/job_agent/jobs/", false, ActionClusterAdmin, ""},
	{"GET", "/api/v0/delay/5", false, ActionClusterAdmin, ""},
	{"OPTIONS", "/api/jobs/", false, ActionClusterAdmin, ""},
	{"PATCH", "/api/jobs/raysubmit_1", false, ActionClusterAdmin, ""},
	{"get", "/api/version", false, ActionClusterAdmin, ""},
	{"GET", "/api/something/new", false, ActionClusterAdmin, ""},

	// WebSocket upgrades only where Ray streams logs.
	{"GET", "/api/version", true, ActionClusterAdmin, ""},
	{"GET", "/api/jobs/raysubmit_1", true, ActionClusterAdmin, ""},
	{"GET", "/", true, ActionClusterAdmin, ""},
	{"POST", "/api/jobs/", true, ActionClusterAdmin, ""},
}

func TestClassify(t *testing.T) {
	for _, tc := range classifyCases {
		name := tc.method + " " + tc.path
		if tc.upgrade {
			name += " (upgrade)"
		}
		t.Run(name, func(t *testing.T) {
			got := Classify(tc.method, tc.path, tc.upgrade)
			if got.Action != tc.want || got.JobID != tc.jobID {
				t.Fatalf("Classify = %+v, want action %s job %q", got, tc.want, tc.jobID)
			}
		})
	}
}

// TestEveryRouteHasATest keeps the table and its tests in step: each row
// of the classification table must be exercised above.
func TestEveryRouteHasATest(t *testing.T) {
	for _, r := range routes {
		found := false
		for _, tc := range classifyCases {
			if tc.upgrade && !r.websocket {
				continue
			}
			got := Classify(tc.method, tc.path, tc.upgrade)
			if got.Action == r.action && matchSegs(strings.Split(r.pattern, "/"), strings.Split(tc.path, "/")) {
				found = true
				break
			}
		}
		if !found && r.action != ActionClusterRead && r.action != ActionDashboardView {
			t.Errorf("route %v %s (%s) has no test case", r.methods, r.pattern, r.action)
		}
	}
}

func TestDecide(t *testing.T) {
	for _, tc := range []struct {
		role   Role
		action Action
		allow  bool
		reason string
	}{
		{RoleNone, ActionClusterRead, false, "no role on cluster"},
		{RoleViewer, ActionDashboardView, true, "role viewer allows dashboard.view"},
		{RoleViewer, ActionClusterRead, true, "role viewer allows cluster.read"},
		{RoleViewer, ActionJobsSubmit, false, "role viewer does not allow jobs.submit (needs developer)"},
		{RoleViewer, ActionJobsStop, false, "role viewer does not allow jobs.stop (needs developer)"},
		{RoleDeveloper, ActionJobsSubmit, true, "role developer allows jobs.submit"},
		{RoleDeveloper, ActionJobsStop, true, "role developer allows jobs.stop"},
		{RoleDeveloper, ActionJobsStopAny, false, "role developer does not allow jobs.stop.any (needs admin)"},
		{RoleDeveloper, ActionServeDeploy, false, "role developer does not allow serve.deploy (needs admin)"},
		{RoleDeveloper, ActionClusterAdmin, false, "role developer does not allow cluster.admin (needs admin)"},
		{RoleAdmin, ActionJobsStopAny, true, "role admin allows jobs.stop.any"},
		{RoleAdmin, ActionServeDeploy, true, "role admin allows serve.deploy"},
		{RoleAdmin, ActionClusterAdmin, true, "role admin allows cluster.admin"},
		{RoleAdmin, Action("made.up"), true, "role admin allows made.up"},
		{RoleDeveloper, Action("made.up"), false, "role developer does not allow made.up (needs admin)"},
	} {
		t.Run(tc.role.String()+" "+string(tc.action), func(t *testing.T) {
			d := Decide(tc.role, tc.action)
			if d.Allow != tc.allow || d.Reason != tc.reason {
				t.Fatalf("Decide = %+v, want allow=%v reason=%q", d, tc.allow, tc.reason)
			}
		})
	}
}

// FuzzClassify checks that classification never panics, that only the
// listed methods reach a non-admin action, and that an upgrade is only
// allowed on the log tail.
func FuzzClassify(f *testing.F) {
	for _, tc := range classifyCases {
		f.Add(tc.method, tc.path, tc.upgrade)
	}
	f.Fuzz(func(t *testing.T, method, path string, upgrade bool) {
		got := Classify(method, path, upgrade)
		if got.Action == ActionClusterAdmin {
			return
		}
		switch method {
		case "GET", "HEAD", "POST", "PUT", "DELETE":
		default:
			t.Fatalf("method %q classified as %s", method, got.Action)
		}
		if upgrade && !strings.HasSuffix(path, "/logs/tail") {
			t.Fatalf("upgrade on %q classified as %s", path, got.Action)
		}
		if (got.Action == ActionJobsStop) != (got.JobID != "" && (method == "DELETE" || method == "POST")) {
			t.Fatalf("%s %q: action %s with job %q", method, path, got.Action, got.JobID)
		}
		if got.JobID != "" && (strings.Contains(got.JobID, "/") || !strings.HasPrefix(path, "/api/jobs/"+got.JobID)) {
			t.Fatalf("%s %q: job id %q is not the path's job segment", method, path, got.JobID)
		}
		if strings.Contains(path, "//") && !strings.HasPrefix(path, "/static/") {
			t.Fatalf("path with empty segment %q classified as %s", path, got.Action)
		}
	})
}

func TestBodyKinds(t *testing.T) {
	for _, tc := range []struct {
		method, path string
		want         BodyKind
	}{
		{"POST", "/api/jobs/", BodyJobSubmit},
		{"PUT", "/api/packages/gcs/_ray_pkg_x.zip", BodyPackage},
		{"GET", "/api/packages/gcs/_ray_pkg_x.zip", BodyPackage},
		{"PUT", "/api/serve/applications/", BodyServe},
		{"POST", "/api/v1/applications/a/deployments/d/scale", BodyServe},
		{"GET", "/api/jobs/", BodyDefault},
		{"POST", "/api/jobs/x/stop", BodyDefault},
		{"POST", "/unknown", BodyDefault},
	} {
		if got := Classify(tc.method, tc.path, false).Body; got != tc.want {
			t.Errorf("%s %s: body kind %d, want %d", tc.method, tc.path, got, tc.want)
		}
	}
}
