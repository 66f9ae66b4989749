package authz

// Mutates reports whether a request classified as action, with method,
// changes the cluster: it submits, uploads, stops, deletes or deploys, or is
// anything but a read. Such requests are audited before they are forwarded.
func Mutates(action Action, method string) bool {
	switch action {
	case ActionJobsSubmit, ActionJobsStop, ActionJobsStopAny, ActionServeDeploy:
		return true
	}
	return method != "GET" && method != "HEAD"
}
