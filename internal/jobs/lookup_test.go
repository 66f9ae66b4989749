package jobs

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/raygate/raygate/internal/authz"
	"github.com/raygate/raygate/internal/route"
)

// fakeUpstream answers Send from a table of path -> (status, body).
type fakeUpstream struct {
	answers map[string]struct {
		status int
		body   string
	}
	sent []string
}

func (f *fakeUpstream) Send(_ context.Context, _ *route.Cluster, method, rest string) (*http.Response, error) {
	f.sent = append(f.sent, method+" "+rest)
	a, ok := f.answers[rest]
	if !ok {
		return nil, errors.New("connection refused")
	}
	rec := httptest.NewRecorder()
	rec.WriteHeader(a.status)
	_, _ = io.WriteString(rec, a.body)
	return rec.Result(), nil
}

func TestLookup(t *testing.T) {
	up := &fakeUpstream{answers: map[string]struct {
		status int
		body   string
	}{
		"/api/jobs/mine":     {200, `{"type":"SUBMISSION","job_id":null,"submission_id":"mine","metadata":{"raygate.owner":"alice"}}`},
		"/api/jobs/02000000": {200, `{"type":"SUBMISSION","job_id":"02000000","submission_id":"raysubmit_x","metadata":{"raygate.owner":"bob"}}`},
		"/api/jobs/05000000": {200, `{"type":"DRIVER","job_id":"05000000","submission_id":null,"metadata":{}}`},
		"/api/jobs/nobody":   {200, `{"submission_id":"nobody","metadata":null}`},
		"/api/jobs/odd":      {200, `{"submission_id":"other","metadata":{"raygate.owner":"alice"}}`},
		"/api/jobs/gone":     {404, `Job gone does not exist`},
		"/api/jobs/broken":   {500, `boom`},
		"/api/jobs/garbage":  {200, `<html>`},
	}}
	cl := Client{Upstream: up}
	c := &route.Cluster{Key: "team-a/ray1"}
	for _, tc := range []struct {
		id       string
		want     Job
		err      bool
		notFound bool
	}{
		{id: "mine", want: Job{SubmissionID: "mine", Owner: "alice"}},
		{id: "02000000", want: Job{SubmissionID: "raysubmit_x", DriverID: "02000000", Owner: "bob"}},
		{id: "05000000", want: Job{DriverID: "05000000"}},
		{id: "nobody", want: Job{SubmissionID: "nobody"}},
		{id: "odd", err: true},
		{id: "gone", err: true, notFound: true},
		{id: "broken", err: true},
		{id: "garbage", err: true},
		{id: "unreachable", err: true},
		{id: "bad#id", err: true},
	} {
		t.Run(tc.id, func(t *testing.T) {
			j, err := cl.Lookup(context.Background(), c, tc.id)
			if (err != nil) != tc.err || errors.Is(err, ErrNotFound) != tc.notFound {
				t.Fatalf("Lookup(%q) error %v", tc.id, err)
			}
			if j != tc.want {
				t.Fatalf("Lookup(%q) = %+v, want %+v", tc.id, j, tc.want)
			}
		})
	}
	for _, s := range up.sent {
		if strings.Contains(s, "#") {
			t.Fatalf("an id that failed CheckID was sent: %s", s)
		}
	}
}

func TestResolveStop(t *testing.T) {
	for _, tc := range []struct {
		name string
		job  Job
		want Stop
	}{
		{"owner", Job{SubmissionID: "raysubmit_x", Owner: "alice"}, Stop{authz.ActionJobsStop, "raysubmit_x"}},
		{"owner, found by driver id", Job{SubmissionID: "raysubmit_x", DriverID: "02000000", Owner: "alice"}, Stop{authz.ActionJobsStop, "raysubmit_x"}},
		{"someone else's", Job{SubmissionID: "raysubmit_x", Owner: "bob"}, Stop{authz.ActionJobsStopAny, "raysubmit_x"}},
		{"no owner", Job{SubmissionID: "raysubmit_x"}, Stop{authz.ActionJobsStopAny, "raysubmit_x"}},
		{"case matters", Job{SubmissionID: "raysubmit_x", Owner: "Alice"}, Stop{authz.ActionJobsStopAny, "raysubmit_x"}},
		{"driver job without submission", Job{DriverID: "05000000", Owner: "alice"}, Stop{Action: authz.ActionJobsStopAny}},
		{"submission id that could name a driver", Job{SubmissionID: "03000000", Owner: "alice"}, Stop{Action: authz.ActionJobsStopAny}},
		{"submission id with URL syntax", Job{SubmissionID: "victim#", Owner: "alice"}, Stop{Action: authz.ActionJobsStopAny}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ResolveStop(tc.job, "alice"); got != tc.want {
				t.Fatalf("ResolveStop = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestPackageExists(t *testing.T) {
	up := &fakeUpstream{answers: map[string]struct {
		status int
		body   string
	}{
		"/api/packages/gcs/_ray_pkg_there.zip":   {200, ``},
		"/api/packages/gcs/_ray_pkg_missing.zip": {404, `Package gcs://_ray_pkg_missing.zip does not exist`},
		"/api/packages/s3/x.zip":                 {500, `NotImplementedError`},
	}}
	cl := Client{Upstream: up}
	c := &route.Cluster{Key: "team-a/ray1"}
	for _, tc := range []struct {
		rest       string
		exists, ok bool
	}{
		{"/api/packages/gcs/_ray_pkg_there.zip", true, true},
		{"/api/packages/gcs/_ray_pkg_missing.zip", false, true},
		{"/api/packages/s3/x.zip", false, false},
		{"/api/packages/gcs/unreachable.zip", false, false},
	} {
		t.Run(tc.rest, func(t *testing.T) {
			exists, err := cl.PackageExists(context.Background(), c, tc.rest)
			if exists != tc.exists || (err == nil) != tc.ok {
				t.Fatalf("PackageExists = %v, %v; want %v, error %v", exists, err, tc.exists, !tc.ok)
			}
		})
	}
	if want := "GET /api/packages/gcs/_ray_pkg_there.zip"; up.sent[0] != want {
		t.Fatalf("sent %q, want %q", up.sent[0], want)
	}
}
