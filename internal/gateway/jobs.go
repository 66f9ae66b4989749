package gateway

import (
	"errors"
	"net/http"

	"github.com/raygate/raygate/internal/authz"
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
// and who owns it, authorizes the refined action, and points the request
// at the submission id the cluster returned, so that Ray acts on the job
// raygate checked and not on whatever the caller's string resolves to by
// then. A job it cannot attribute (not found, no owner, lookup failed, no
// unambiguous submission id) is jobs.stop.any, which only admins hold.
func (x *exchange) resolveStop(role authz.Role, c *route.Cluster, user, jobID string) bool {
	job, err := x.st.Jobs.Lookup(proxy.WithRayToken(x.r.Context(), x.call.RayToken), c, jobID)
	stop := jobs.Stop{Action: authz.ActionJobsStopAny}
	switch {
	case err == nil:
		stop = jobs.ResolveStop(job, user)
	case !errors.Is(err, jobs.ErrNotFound):
		x.g.log.Warn("job owner lookup failed", "request_id", x.ev.RequestID, "cluster", c.Key, "job_id", jobID, "error", err)
	}
	x.ev.Action = string(stop.Action)
	d := c.Policy.Decide(role, stop.Action)
	x.ev.Reason = d.Reason
	switch {
	case !d.Allow:
		x.forbid(d, stop.Action, role, c.Key)
		return false
	case errors.Is(err, jobs.ErrNotFound):
		x.deny(http.StatusNotFound, "not_found", "job not found", "job "+jobID+" does not exist")
		return false
	case err != nil:
		x.deny(http.StatusBadGateway, "bad_gateway", "job lookup failed", "the job could not be looked up on the Ray cluster")
		return false
	case stop.ID == "":
		x.deny(http.StatusConflict, "conflict", "job has no unambiguous submission id",
			"the job has no submission id Ray reads unambiguously (none, or one that could name a driver job); stop it on the cluster itself")
		return false
	}
	rest := "/api/jobs/" + stop.ID
	if x.r.Method == http.MethodPost {
		rest += "/stop"
	}
	x.call.Target.Rest, x.call.Target.RawRest = rest, rest
	x.ev.JobID = stop.ID
	return true
}

// uploadOnce refuses a package upload when the cluster already holds a
// package by that name (see jobs.PackageExists): a package is written
// once, so nobody can replace the code another user's jobs run. When the
// cluster cannot tell, the upload is refused too.
func (x *exchange) uploadOnce(c *route.Cluster) bool {
	rest := x.call.Target.RawRest
	exists, err := x.st.Jobs.PackageExists(proxy.WithRayToken(x.r.Context(), x.call.RayToken), c, rest)
	switch {
	case err != nil:
		x.g.log.Warn("package lookup failed", "request_id", x.ev.RequestID, "cluster", c.Key, "error", err)
		x.deny(http.StatusBadGateway, "bad_gateway", "package lookup failed", "the Ray cluster could not say whether the package exists, so it was not uploaded")
		return false
	case exists:
		x.deny(http.StatusConflict, "conflict", "package exists: packages are written once",
			"the cluster already holds this package, and packages are written once (a package's name stands for its content); upload under the name of your package's content, as Ray's clients do")
		return false
	}
	return true
}
