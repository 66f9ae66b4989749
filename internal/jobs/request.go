package jobs

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
)

// CheckContentType accepts the Content-Type of a JSON body raygate reads:
// absent, or exactly one application/json whose charset, if any, is
// UTF-8. Ray decodes a body by its declared charset (aiohttp's
// Request.text), so a body declared as UTF-7 or unicode_escape is another
// document to Ray than to raygate; raygate refuses it (415) rather than
// guess which reading the client meant.
func CheckContentType(h http.Header) *Error {
	vs := h.Values("Content-Type")
	switch {
	case len(vs) == 0:
		return nil
	case len(vs) > 1:
		return unsupportedMedia("the request has more than one Content-Type")
	}
	mt, params, err := mime.ParseMediaType(vs[0])
	if err != nil {
		return unsupportedMedia("the request's Content-Type cannot be parsed")
	}
	if mt != "application/json" {
		return unsupportedMedia("the body must be application/json, not " + strconv.Quote(mt))
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") && !strings.EqualFold(cs, "utf8") {
		return unsupportedMedia("the body must be UTF-8, not charset " + strconv.Quote(cs))
	}
	return nil
}

// ReadSubmission reads and parses the job submission in r: its
// Content-Type (CheckContentType), then its body (which the caller has
// bounded, e.g. with http.MaxBytesReader).
func ReadSubmission(r *http.Request) (*Submission, *Error) {
	if err := CheckContentType(r.Header); err != nil {
		return nil, err
	}
	if r.Body == nil {
		return nil, badRequest("invalid job submission: no body")
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, &Error{Status: http.StatusRequestEntityTooLarge, Code: "payload_too_large", Msg: "request body is too large"}
		}
		return nil, badRequest("the request body could not be read")
	}
	return ParseSubmission(body)
}

// ReplaceBody makes body the whole of r's body, declared as
// application/json without a charset or a Content-Encoding, so Ray reads
// it as raygate encoded it.
func ReplaceBody(r *http.Request, body []byte) {
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	r.TransferEncoding = nil
	r.Header.Del("Content-Length")
	r.Header.Del("Content-Encoding")
	r.Header.Set("Content-Type", "application/json")
}

// maxCapturedBody bounds the part of Ray's answer to a submission read to
// find the new job's id.
const maxCapturedBody = 64 << 10

// SubmittedID returns the id Ray gave a submitted job, from its answer to
// POST /api/jobs/ (submission_id, else job_id), and leaves the answer
// readable from the start. It returns "" when the answer is not a
// success or names no id.
func SubmittedID(resp *http.Response) (string, error) {
	if resp.StatusCode != http.StatusOK || resp.Body == nil {
		return "", nil
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxCapturedBody))
	if err != nil {
		return "", err
	}
	resp.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(body), resp.Body), resp.Body}
	var r struct {
		JobID        string `json:"job_id"`
		SubmissionID string `json:"submission_id"`
	}
	if json.Unmarshal(body, &r) != nil {
		return "", nil
	}
	if r.SubmissionID != "" {
		return r.SubmissionID, nil
	}
	return r.JobID, nil
}
