package authz

import "strings"

// Request is a classified request to a Ray cluster.
type Request struct {
	// Action is what the request does.
	Action Action
	// JobID is the job or submission id named in the path of a Jobs API
	// request, "" otherwise.
	JobID string
	// Body says which body limit applies.
	Body BodyKind
}

// BodyKind groups requests by the size of body they may carry.
type BodyKind uint8

// Body kinds; each has its own limit in the config's proxy.maxBodyBytes.
const (
	BodyDefault   BodyKind = iota
	BodyJobSubmit          // a job submission (JSON), where the owner is stamped
	BodyPackage            // a working_dir or py_modules package upload
	BodyServe              // a Serve deployment config
)

// route is one row of the classification table. Patterns are matched
// segment by segment against the path after /clusters/{ns}/{name}: {x}
// matches one non-empty segment, a final "**" matches one or more segments
// of any content, anything else matches literally. A trailing slash is
// significant, as it is to Ray's router.
type route struct {
	methods   []string // GET also matches HEAD
	pattern   string
	action    Action
	websocket bool     // the route may be a WebSocket upgrade
	jobSeg    int      // index of the job id segment, 0 if none
	body      BodyKind // which body limit applies
}

// routes is every Ray 2.60 dashboard and Jobs API route raygate lets
// through, by action. Anything not listed here is ActionClusterAdmin:
// profiling (/worker/*, /task/*, /memory_profile), tracebacks, the /logs
// file proxy, /api/authenticate, event and task-event ingestion, test and
// debug routes, the job agent's own API, and any method or path Ray may add
// later.
var routes = []route{
	// The dashboard's single-page app and its assets.
	{methods: get, pattern: "/", action: ActionDashboardView},
	{methods: get, pattern: "/favicon.ico", action: ActionDashboardView},
	{methods: get, pattern: "/static/**", action: ActionDashboardView},

	// Jobs API, read side.
	{methods: get, pattern: "/api/version", action: ActionClusterRead},
	{methods: get, pattern: "/api/jobs/", action: ActionClusterRead},
	{methods: get, pattern: "/api/jobs/{id}", action: ActionClusterRead, jobSeg: 3},
	{methods: get, pattern: "/api/jobs/{id}/logs", action: ActionClusterRead, jobSeg: 3},
	{methods: get, pattern: "/api/jobs/{id}/logs/tail", action: ActionClusterRead, websocket: true, jobSeg: 3},
	{methods: get, pattern: "/api/component_activities", action: ActionClusterRead},

	// Jobs API, write side.
	{methods: []string{"POST"}, pattern: "/api/jobs/", action: ActionJobsSubmit, body: BodyJobSubmit},
	{methods: []string{"GET", "PUT"}, pattern: "/api/packages/{protocol}/{name}", action: ActionJobsSubmit, body: BodyPackage},
	{methods: []string{"POST"}, pattern: "/api/jobs/{id}/stop", action: ActionJobsStop, jobSeg: 3},
	{methods: []string{"DELETE"}, pattern: "/api/jobs/{id}", action: ActionJobsStop, jobSeg: 3},

	// Serve.
	{methods: get, pattern: "/api/serve/applications/", action: ActionClusterRead},
	{methods: []string{"PUT", "DELETE"}, pattern: "/api/serve/applications/", action: ActionServeDeploy, body: BodyServe},
	{methods: []string{"POST"}, pattern: "/api/v1/applications/{app}/deployments/{deployment}/scale", action: ActionServeDeploy, body: BodyServe},

	// Cluster status, health and metadata.
	{methods: get, pattern: "/api/ray/version", action: ActionClusterRead},
	{methods: get, pattern: "/api/cluster_status", action: ActionClusterRead},
	{methods: get, pattern: "/api/gcs_healthz", action: ActionClusterRead},
	{methods: get, pattern: "/api/healthz", action: ActionClusterRead},
	{methods: get, pattern: "/api/local_raylet_healthz", action: ActionClusterRead},
	{methods: get, pattern: "/api/grafana_health", action: ActionClusterRead},
	{methods: get, pattern: "/api/prometheus_health", action: ActionClusterRead},
	{methods: get, pattern: "/api/prometheus/sd", action: ActionClusterRead},
	{methods: get, pattern: "/api/profiling_enabled", action: ActionClusterRead},
	{methods: get, pattern: "/api/authentication_mode", action: ActionClusterRead},
	{methods: get, pattern: "/api/data/datasets/{job}", action: ActionClusterRead},
	{methods: get, pattern: "/api/train/v2/runs", action: ActionClusterRead},
	{methods: get, pattern: "/api/train/v2/runs/v1", action: ActionClusterRead},
	{methods: get, pattern: "/timezone", action: ActionClusterRead},
	{methods: get, pattern: "/cluster_id", action: ActionClusterRead},
	{methods: get, pattern: "/usage_stats_enabled", action: ActionClusterRead},
	{methods: get, pattern: "/events", action: ActionClusterRead},

	// State API: listings and summaries.
	{methods: get, pattern: "/api/v0/actors", action: ActionClusterRead},
	{methods: get, pattern: "/api/v0/actors/summarize", action: ActionClusterRead},
	{methods: get, pattern: "/api/v0/cluster_events", action: ActionClusterRead},
	{methods: get, pattern: "/api/v0/cluster_metadata", action: ActionClusterRead},
	{methods: get, pattern: "/api/v0/jobs", action: ActionClusterRead},
	{methods: get, pattern: "/api/v0/logs", action: ActionClusterRead},
	// Log file contents (the dashboard's Logs tab and the log viewers of
	// jobs, actors and tasks): their own action, so an operator can raise
	// it per cluster.
	{methods: get, pattern: "/api/v0/logs/file", action: ActionLogsRead},
	{methods: get, pattern: "/api/v0/logs/stream", action: ActionLogsRead},
	{methods: get, pattern: "/api/v0/nodes", action: ActionClusterRead},
	{methods: get, pattern: "/api/v0/objects", action: ActionClusterRead},
	{methods: get, pattern: "/api/v0/objects/summarize", action: ActionClusterRead},
	{methods: get, pattern: "/api/v0/placement_groups", action: ActionClusterRead},
	{methods: get, pattern: "/api/v0/platform_events", action: ActionClusterRead},
	{methods: get, pattern: "/api/v0/runtime_envs", action: ActionClusterRead},
	{methods: get, pattern: "/api/v0/runtime_env_redaction", action: ActionClusterRead},
	{methods: get, pattern: "/api/v0/tasks", action: ActionClusterRead},
	{methods: get, pattern: "/api/v0/tasks/summarize", action: ActionClusterRead},
	{methods: get, pattern: "/api/v0/tasks/timeline", action: ActionClusterRead},
	{methods: get, pattern: "/api/v0/workers", action: ActionClusterRead},

	// Node and actor views.
	{methods: get, pattern: "/nodes", action: ActionClusterRead},
	{methods: get, pattern: "/nodes/{node}", action: ActionClusterRead},
	{methods: get, pattern: "/logical/actors", action: ActionClusterRead},
	{methods: get, pattern: "/logical/actors/{actor}", action: ActionClusterRead},
}

var get = []string{"GET"}

// compiled is routes split into segments once.
var compiled = compile(routes)

type compiledRoute struct {
	route
	segs []string
}

func compile(rs []route) []compiledRoute {
	out := make([]compiledRoute, len(rs))
	for i, r := range rs {
		out[i] = compiledRoute{route: r, segs: strings.Split(r.pattern, "/")}
	}
	return out
}

// Classify returns the action of a request with method and path (the part
// after /clusters/{ns}/{name}, starting with "/"; already checked by
// route.CheckPath). upgrade says whether the request asks for a protocol
// upgrade (WebSocket), which only the routes that stream logs accept.
func Classify(method, path string, upgrade bool) Request {
	if method == "HEAD" {
		method = "GET"
	}
	var buf [16]string // paths of up to 16 segments are split on the stack
	segs := appendSplit(buf[:0], path)
	for i := range compiled {
		r := &compiled[i]
		if !matchSegs(r.segs, segs) || !hasMethod(r.methods, method) {
			continue
		}
		if upgrade && !r.websocket {
			break
		}
		req := Request{Action: r.action, Body: r.body}
		if r.jobSeg > 0 {
			req.JobID = segs[r.jobSeg]
		}
		return req
	}
	return Request{Action: ActionClusterAdmin}
}

// appendSplit appends the parts of s between slashes to dst, as
// strings.Split(s, "/") returns them.
func appendSplit(dst []string, s string) []string {
	for {
		part, rest, more := strings.Cut(s, "/")
		dst = append(dst, part)
		if !more {
			return dst
		}
		s = rest
	}
}

func hasMethod(ms []string, m string) bool {
	for _, x := range ms {
		if x == m {
			return true
		}
	}
	return false
}

func matchSegs(pat, segs []string) bool {
	for i, p := range pat {
		if p == "**" {
			if i != len(pat)-1 || len(segs) <= i {
				return false
			}
			for _, s := range segs[i:] {
				if s == "" && len(segs) > i+1 {
					return false // no empty segment inside the remainder
				}
			}
			return segs[i] != ""
		}
		if i >= len(segs) {
			return false
		}
		if strings.HasPrefix(p, "{") {
			if segs[i] == "" {
				return false
			}
			continue
		}
		if p != segs[i] {
			return false
		}
	}
	return len(pat) == len(segs)
}
