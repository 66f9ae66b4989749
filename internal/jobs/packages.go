package jobs

import (
	"context"
	"fmt"
	"net/http"

	"github.com/raygate/raygate/internal/route"
)

// Packages are the working_dir and py_modules archives a client uploads
// before it submits a job (PUT /api/packages/{protocol}/{name}) and that
// the job's runtime_env then names (gcs://{name}). Ray keeps them in one
// store per cluster, shared by every job, and a PUT replaces whatever the
// store holds under that name. Ray's own clients ask first (GET) and only
// upload a package the cluster does not have yet, because the name stands
// for the content (a hash of it, or a wheel's file name). A replaced
// package would run another user's code in every job that names it, under
// that job's owner. So raygate lets a package be written once: an upload
// of a name the cluster already has is refused.

// PackageExists asks cluster c whether it holds the package at rest, the
// path of the upload after the cluster prefix (/api/packages/{protocol}/
// {name}, escaped as the caller sent it and already checked by
// route.CheckPath). Ray answers that GET with 200 or 404; anything else,
// or no answer, is an error, and the caller must refuse the upload.
func (cl Client) PackageExists(ctx context.Context, c *route.Cluster, rest string) (bool, error) {
	timeout := cl.Timeout
	if timeout <= 0 {
		timeout = DefaultLookupTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	resp, err := cl.Upstream.Send(ctx, c, http.MethodGet, rest)
	if err != nil {
		return false, fmt.Errorf("jobs: package lookup: %w", err)
	}
	resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		return true, nil
	case http.StatusNotFound:
		return false, nil
	default:
		return false, fmt.Errorf("jobs: package lookup: cluster answered %d", resp.StatusCode)
	}
}
