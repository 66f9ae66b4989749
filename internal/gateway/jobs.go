package gateway

import (
	"errors"
	"net/http"

	"github.com/raygate/raygate/internal/authz"
	"github.com/raygate/raygate/internal/decision"
	"github.com/raygate/raygate/internal/jobs"
	"github.com/raygate/raygate/internal/proxy"
	"github.com/raygate/raygate/internal/route"
)

// submit reads the job submission once, refuses what Ray could read
// differently, and replaces the body with the same submission stamped
// with the caller as owner. Ray's answer names the new job's id.
func (x *exchange) submit(user string) bool {
	sub, err := jobs.ReadSubmission(x.r)
	if err != nil {
		x.denyWith(err)
		return false
	}
	x.ev.Entrypoint = sub.Entrypoint
	x.ev.JobID = sub.SubmissionID
	jobs.ReplaceBody(x.r, sub.Stamped(user))
	x.call.OnResponse = func(resp *http.Response) error {
		id, err := jobs.SubmittedID(resp)
		if id != "" {
			x.ev.JobID = id
		}
		return err
	}
	return true
}

// resolveStop refines jobs.stop by asking the cluster which job id names
// and who owns it, authorizes the refined action (decision.Stop), and
// points the request at the submission id the cluster returned, so that
// Ray acts on the job raygate checked and not on whatever the caller's
// string resolves to by then.
func (x *exchange) resolveStop(role authz.Role, c *route.Cluster, user, jobID string) bool {
	job, err := x.st.Jobs.Lookup(proxy.WithRayToken(x.r.Context(), x.call.RayToken), c, jobID)
	if err != nil && !errors.Is(err, jobs.ErrNotFound) {
		x.g.log.Warn("job owner lookup failed", "request_id", x.ev.RequestID, "cluster", c.Key, "job_id", jobID, "error", err)
	}
	stop := decision.Stop(c, role, user, jobID, job, err)
	x.ev.Action = string(stop.Action)
	x.ev.Reason = stop.Decision.Reason
	switch {
	case stop.Status == http.StatusForbidden:
		x.forbid(stop.Decision, stop.Action, role, c.Key)
		return false
	case stop.Refused():
		x.refuse(stop.Refusal)
		return false
	}
	rest := decision.StopPath(x.r.Method, stop.ID)
	x.call.Target.Rest, x.call.Target.RawRest = rest, rest
	x.ev.JobID = stop.ID
	return true
}

// uploadOnce refuses a package upload when the cluster already holds a
// package by that name, or cannot tell (decision.Package).
func (x *exchange) uploadOnce(c *route.Cluster) bool {
	rest := x.call.Target.RawRest
	exists, err := x.st.Jobs.PackageExists(proxy.WithRayToken(x.r.Context(), x.call.RayToken), c, rest)
	if err != nil {
		x.g.log.Warn("package lookup failed", "request_id", x.ev.RequestID, "cluster", c.Key, "error", err)
	}
	if ref := decision.Package(exists, err); ref.Refused() {
		x.refuse(ref)
		return false
	}
	return true
}
