package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/raygate/raygate/internal/authz"
	"github.com/raygate/raygate/internal/route"
)

// Requester sends a request of raygate's own (not a caller's) to a
// cluster, with the cluster's Ray token. rest is the path after the
// cluster's upstream base, already escaped.
type Requester interface {
	Send(ctx context.Context, c *route.Cluster, method, rest string) (*http.Response, error)
}

// Client asks clusters about their jobs: a small Ray Jobs API client.
type Client struct {
	// Upstream sends the requests.
	Upstream Requester
	// Timeout bounds one lookup; 0 means DefaultLookupTimeout.
	Timeout time.Duration
}

// DefaultLookupTimeout bounds a job lookup when Client.Timeout is 0.
const DefaultLookupTimeout = 15 * time.Second

// Job is a job as its cluster reports it.
type Job struct {
	// SubmissionID is the job's submission id; "" for a job that was not
	// submitted through the Jobs API (a driver started by hand).
	SubmissionID string
	// DriverID is the job's driver job id, "" when it has no driver yet.
	DriverID string
	// Owner is metadata[OwnerKey], "" when the job has none.
	Owner string
}

// ErrNotFound means the cluster reports no job by that id.
var ErrNotFound = errors.New("jobs: no such job")

// maxJobInfo bounds the job description read for a lookup.
const maxJobInfo = 4 << 20

// Lookup asks cluster c for the job Ray resolves id to
// (GET /api/jobs/{id}). id must have passed CheckID. It returns
// ErrNotFound when the cluster says there is no such job, and another
// error when it cannot tell, or when its answer is about another job than
// id names.
func (cl Client) Lookup(ctx context.Context, c *route.Cluster, id string) (Job, error) {
	if err := CheckID(id); err != nil {
		return Job{}, err
	}
	timeout := cl.Timeout
	if timeout <= 0 {
		timeout = DefaultLookupTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	resp, err := cl.Upstream.Send(ctx, c, http.MethodGet, "/api/jobs/"+id)
	if err != nil {
		return Job{}, fmt.Errorf("jobs: lookup %s: %w", id, err)
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotFound:
		return Job{}, ErrNotFound
	default:
		return Job{}, fmt.Errorf("jobs: lookup %s: cluster answered %d", id, resp.StatusCode)
	}
	var info struct {
		SubmissionID *string        `json:"submission_id"`
		JobID        *string        `json:"job_id"`
		Metadata     map[string]any `json:"metadata"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxJobInfo)).Decode(&info); err != nil {
		return Job{}, fmt.Errorf("jobs: lookup %s: decode: %w", id, err)
	}
	var j Job
	if info.SubmissionID != nil {
		j.SubmissionID = *info.SubmissionID
	}
	if info.JobID != nil {
		j.DriverID = *info.JobID
	}
	j.Owner, _ = info.Metadata[OwnerKey].(string)
	if j.SubmissionID != id && j.DriverID != id {
		return Job{}, fmt.Errorf("jobs: lookup %s: the cluster answered about job %q (driver %q)", id, j.SubmissionID, j.DriverID)
	}
	return j, nil
}

// Stop is how raygate handles a stop or delete of one job.
type Stop struct {
	// Action is jobs.stop when the caller owns the job, jobs.stop.any
	// otherwise.
	Action authz.Action
	// ID is the submission id to send the stop or delete with, never the
	// caller's string; "" when the job has no id Ray reads unambiguously
	// (no submission id, or one that could name a driver job or carries
	// URL syntax: only a job created behind raygate's back has one).
	ID string
}

// ResolveStop decides a stop or delete by caller of job j, which a
// Lookup returned. Only a job with an unambiguous submission id and
// caller as its stamped owner is the caller's own; everything else is
// jobs.stop.any.
func ResolveStop(j Job, caller string) Stop {
	if !ValidSubmissionID(j.SubmissionID) {
		return Stop{Action: authz.ActionJobsStopAny}
	}
	s := Stop{Action: authz.ActionJobsStopAny, ID: j.SubmissionID}
	if j.Owner != "" && j.Owner == caller {
		s.Action = authz.ActionJobsStop
	}
	return s
}
