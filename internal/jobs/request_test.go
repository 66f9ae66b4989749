package jobs

import (
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

var contentTypeCases = []struct {
	values []string
	// err is the refusal's message, "" when accepted.
	err string
}{
	{nil, ""},
	{[]string{"application/json"}, ""},
	{[]string{"application/json; charset=utf-8"}, ""},
	{[]string{"Application/JSON; Charset=UTF-8"}, ""},
	{[]string{`application/json; charset="utf8"`}, ""},
	{[]string{"application/json; charset=utf-7"}, `the body must be UTF-8, not charset "utf-7"`},
	{[]string{"application/json; charset=unicode_escape"}, `the body must be UTF-8, not charset "unicode_escape"`},
	{[]string{"application/json; charset=latin-1"}, `the body must be UTF-8, not charset "latin-1"`},
	{[]string{"application/json; charset*=utf-8''utf-7"}, `the body must be UTF-8, not charset "utf-7"`},
	{[]string{"application/json; charset=utf-8; charset=utf-7"}, "the request's Content-Type cannot be parsed"},
	{[]string{"text/plain"}, `the body must be application/json, not "text/plain"`},
	{[]string{"application/x-www-form-urlencoded"}, `the body must be application/json, not "application/x-www-form-urlencoded"`},
	{[]string{"multipart/form-data; boundary=x"}, `the body must be application/json, not "multipart/form-data"`},
	{[]string{""}, "the request's Content-Type cannot be parsed"},
	{[]string{"application/json", "application/json"}, "the request has more than one Content-Type"},
}

func TestCheckContentType(t *testing.T) {
	for _, tc := range contentTypeCases {
		t.Run(strings.Join(tc.values, "|"), func(t *testing.T) {
			h := http.Header{}
			for _, v := range tc.values {
				h.Add("Content-Type", v)
			}
			err := CheckContentType(h)
			got := ""
			if err != nil {
				if err.Status != 415 || err.Code != "unsupported_media_type" {
					t.Fatalf("refusal %+v is not a 415", err)
				}
				got = err.Msg
			}
			if got != tc.err {
				t.Fatalf("CheckContentType = %q, want %q", got, tc.err)
			}
		})
	}
}

// FuzzCheckContentType checks that an accepted Content-Type is JSON in
// UTF-8 (or no declared charset) as a MIME parser reads it.
func FuzzCheckContentType(f *testing.F) {
	for _, tc := range contentTypeCases {
		if len(tc.values) == 1 {
			f.Add(tc.values[0])
		}
	}
	f.Fuzz(func(t *testing.T, ct string) {
		if CheckContentType(http.Header{"Content-Type": {ct}}) != nil {
			return
		}
		mt, params, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" {
			t.Fatalf("accepted %q (%q, %v)", ct, mt, err)
		}
		if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") && !strings.EqualFold(cs, "utf8") {
			t.Fatalf("accepted %q with charset %q", ct, cs)
		}
	})
}

func TestReadSubmissionAndReplaceBody(t *testing.T) {
	r := httptest.NewRequest("POST", "/api/jobs/", strings.NewReader(`{"entrypoint":"e"}`))
	r.Header.Set("Content-Type", "application/json; charset=UTF-8")
	r.Header.Set("Content-Encoding", "identity")
	r.TransferEncoding = []string{"chunked"}
	sub, err := ReadSubmission(r)
	if err != nil {
		t.Fatal(err)
	}
	out := sub.Stamped("alice")
	ReplaceBody(r, out)
	b, _ := io.ReadAll(r.Body)
	if string(b) != string(out) || r.ContentLength != int64(len(out)) || r.TransferEncoding != nil ||
		r.Header.Get("Content-Type") != "application/json" || r.Header.Get("Content-Encoding") != "" {
		t.Fatalf("request after ReplaceBody: body %q length %d TE %v header %v", b, r.ContentLength, r.TransferEncoding, r.Header)
	}

	r = httptest.NewRequest("POST", "/api/jobs/", strings.NewReader(`{"entrypoint":"`+strings.Repeat("x", 100)+`"}`))
	r.Body = http.MaxBytesReader(httptest.NewRecorder(), r.Body, 10)
	if _, err := ReadSubmission(r); err == nil || err.Status != 413 {
		t.Fatalf("over the limit: %v", err)
	}
	r = httptest.NewRequest("POST", "/api/jobs/", strings.NewReader(`{"entrypoint":"e"}`))
	r.Header.Set("Content-Type", "text/plain")
	if _, err := ReadSubmission(r); err == nil || err.Status != 415 {
		t.Fatalf("text/plain: %v", err)
	}
}

func TestSubmittedID(t *testing.T) {
	for _, tc := range []struct {
		status     int
		body, want string
	}{
		{200, `{"job_id":"raysubmit_1","submission_id":"raysubmit_1"}`, "raysubmit_1"},
		{200, `{"job_id":"old-style"}`, "old-style"},
		{200, `not json`, ""},
		{400, `{"submission_id":"x"}`, ""},
	} {
		rec := httptest.NewRecorder()
		rec.WriteHeader(tc.status)
		_, _ = io.WriteString(rec, tc.body)
		resp := rec.Result()
		id, err := SubmittedID(resp)
		if err != nil || id != tc.want {
			t.Errorf("SubmittedID(%d %s) = %q, %v; want %q", tc.status, tc.body, id, err, tc.want)
		}
		if b, _ := io.ReadAll(resp.Body); string(b) != tc.body {
			t.Errorf("body after SubmittedID = %q, want %q", b, tc.body)
		}
	}
}
