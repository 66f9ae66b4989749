package authz

// Action is what a request does to a Ray cluster.
type Action string

// The Ray actions. Anything the classifier does not recognise is
// ActionClusterAdmin.
const (
	ActionDashboardView Action = "dashboard.view"
	ActionClusterRead   Action = "cluster.read"
	ActionLogsRead      Action = "logs.read"
	ActionJobsSubmit    Action = "jobs.submit"
	ActionJobsStop      Action = "jobs.stop"
	ActionJobsStopAny   Action = "jobs.stop.any"
	ActionServeDeploy   Action = "serve.deploy"
	ActionClusterAdmin  Action = "cluster.admin"
)

// Actions lists every action, in order of the least role they need.
var Actions = []Action{ActionDashboardView, ActionClusterRead, ActionLogsRead, ActionJobsSubmit, ActionJobsStop, ActionJobsStopAny, ActionServeDeploy, ActionClusterAdmin}

// LeastRole is the lowest role allowed to perform a.
func LeastRole(a Action) Role {
	switch a {
	case ActionDashboardView, ActionClusterRead, ActionLogsRead:
		return RoleViewer
	case ActionJobsSubmit, ActionJobsStop:
		return RoleDeveloper
	default:
		return RoleAdmin
	}
}

// IsRead reports whether a only reads: the dashboard, its read-only APIs
// and log files. Every other action may change something, also when it is
// asked for with GET (Ray's profilers attach to worker processes; a
// package lookup pins the package).
func IsRead(a Action) bool {
	return a == ActionDashboardView || a == ActionClusterRead || a == ActionLogsRead
}
