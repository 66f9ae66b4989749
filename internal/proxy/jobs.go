package proxy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/raygate/raygate/internal/route"
)

// Submission is what the gateway learns from a job submission body.
type Submission struct {
	// Entrypoint is the job's shell command.
	Entrypoint string
	// SubmissionID is the id the client chose, "" if Ray will choose one.
	SubmissionID string
}

// SubmitError is a job submission body the gateway refuses.
type SubmitError struct{ Msg string }

// Error says what is wrong with the submission.
func (e *SubmitError) Error() string { return "proxy: job submission: " + e.Msg }

// StampOwner rewrites a job submission body (Ray's JobSubmitRequest JSON)
// so that metadata[ownerKey] is owner, overwriting whatever the client sent
// there and keeping every other field. It returns the new body and what the
// audit log needs from it. A body that is not a JSON object, or whose
// metadata is not an object of strings, is a *SubmitError.
func StampOwner(body []byte, ownerKey, owner string) ([]byte, Submission, error) {
	var req map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&req); err != nil || req == nil {
		return nil, Submission{}, &SubmitError{Msg: "body is not a JSON object"}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, Submission{}, &SubmitError{Msg: "body has data after the JSON object"}
	}
	var sub Submission
	if raw, ok := req["entrypoint"]; ok {
		if err := json.Unmarshal(raw, &sub.Entrypoint); err != nil {
			return nil, Submission{}, &SubmitError{Msg: "entrypoint is not a string"}
		}
	}
	if raw, ok := req["submission_id"]; ok && string(raw) != "null" {
		if err := json.Unmarshal(raw, &sub.SubmissionID); err != nil {
			return nil, Submission{}, &SubmitError{Msg: "submission_id is not a string"}
		}
	}
	meta := map[string]string{}
	if raw, ok := req["metadata"]; ok && string(raw) != "null" {
		if err := json.Unmarshal(raw, &meta); err != nil || meta == nil {
			return nil, Submission{}, &SubmitError{Msg: "metadata is not an object of strings"}
		}
	}
	meta[ownerKey] = owner
	mb, err := json.Marshal(meta)
	if err != nil {
		return nil, Submission{}, fmt.Errorf("proxy: encode metadata: %w", err)
	}
	req["metadata"] = mb
	out, err := json.Marshal(req)
	if err != nil {
		return nil, Submission{}, fmt.Errorf("proxy: encode submission: %w", err)
	}
	return out, sub, nil
}

// ErrJobNotFound means the cluster reports no such job.
var ErrJobNotFound = errors.New("proxy: job not found")

// maxJobInfo bounds the job description read for an ownership check.
const maxJobInfo = 4 << 20

// JobOwner asks the cluster for job id and returns its metadata[ownerKey]
// ("" when the job has none). It returns ErrJobNotFound when the cluster
// says the job does not exist, and another error when it cannot tell.
func (p *Proxy) JobOwner(ctx context.Context, c *route.Cluster, ownerKey, jobID string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	u := *c.Upstream
	rest := "/api/jobs/" + url.PathEscape(jobID)
	u.Path = joinURLPath(c.Upstream.Path, "/api/jobs/"+jobID)
	u.RawPath = joinURLPath(c.Upstream.EscapedPath(), rest)
	u.RawQuery = ""
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return "", fmt.Errorf("proxy: job owner: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	if c.Token != "" {
		req.Header.Set(HeaderRayAuth, "Bearer "+c.Token)
	}
	resp, err := p.transport.RoundTrip(req)
	if err != nil {
		return "", fmt.Errorf("proxy: job owner: %w", err)
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotFound:
		return "", ErrJobNotFound
	default:
		return "", fmt.Errorf("proxy: job owner: cluster answered %d", resp.StatusCode)
	}
	var info struct {
		Metadata map[string]any `json:"metadata"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxJobInfo)).Decode(&info); err != nil {
		return "", fmt.Errorf("proxy: job owner: decode: %w", err)
	}
	owner, _ := info.Metadata[ownerKey].(string)
	return owner, nil
}
