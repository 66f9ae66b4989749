package authz

// Route is one row of the classification table, for describing it: the
// methods, the path pattern after /clusters/{namespace}/{name}, and the
// action.
type Route struct {
	// Methods are the methods the row matches; GET also matches HEAD.
	Methods []string
	// Pattern is matched segment by segment: {x} is one non-empty segment,
	// a final ** one or more segments, anything else itself.
	Pattern string
	// Action is the action of a matching request.
	Action Action
	// WebSocket says whether the row accepts a protocol upgrade.
	WebSocket bool
	// JobID says whether the path names a job (the segment after
	// /api/jobs/).
	JobID bool
}

// Routes returns the classification table, in the order Classify reads
// it. Every request that matches no row is ActionClusterAdmin.
func Routes() []Route {
	out := make([]Route, len(routes))
	for i, r := range routes {
		out[i] = Route{Methods: append([]string(nil), r.methods...), Pattern: r.pattern, Action: r.action, WebSocket: r.websocket, JobID: r.jobSeg > 0}
	}
	return out
}
