//go:build e2e

package gateway_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// rawExchange writes stream on a new connection to the gateway and reads
// every response until the gateway closes the connection.
func rawExchange(t *testing.T, stream string) []*http.Response {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(requireStack(t).Gateway.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.WriteString(c, stream); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	var out []*http.Response
	for {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatalf("the gateway kept the connection open after %d answers", len(out))
			}
			return out
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		resp.Body = io.NopCloser(strings.NewReader(string(b)))
		out = append(out, resp)
	}
}

// TestSmugglingNeverReachesRay: a request framed both by Content-Length
// and chunked, whose body hides a stop of another user's job, is
// refused and the connection closed; the hidden request never reaches
// Ray (the tap in front of Ray never sees its marker).
func TestSmugglingNeverReachesRay(t *testing.T) {
	s := requireStack(t)
	alice := token(t, "alice@example.com")
	auth := "Authorization: Bearer " + alice + "\r\n"
	marker := "smuggled-" + randomSuffix()
	hidden := "POST /clusters/team-a/ray1/api/jobs/some-job/stop HTTP/1.1\r\nHost: gw\r\n" + auth + "X-Marker: " + marker + "\r\nContent-Length: 0\r\n\r\n"
	first := "GET /clusters/team-a/ray1/api/version HTTP/1.1\r\nHost: gw\r\n" + auth + "\r\n"
	for name, stream := range map[string]string{
		"CL.TE": first + "POST /clusters/team-a/ray1/api/version HTTP/1.1\r\nHost: gw\r\n" + auth +
			fmt.Sprintf("Content-Length: %d\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 5+len(hidden)) + hidden,
		"TE.CL": first + "POST /clusters/team-a/ray1/api/version HTTP/1.1\r\nHost: gw\r\n" + auth +
			fmt.Sprintf("Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n%x\r\n%s\r\n0\r\n\r\n", len(hidden), hidden),
		"duplicate Content-Length": first + "POST /clusters/team-a/ray1/api/version HTTP/1.1\r\nHost: gw\r\n" + auth +
			fmt.Sprintf("Content-Length: 0\r\nContent-Length: %d\r\n\r\n", len(hidden)) + hidden,
		"obs-fold hides Transfer-Encoding": first + "POST /clusters/team-a/ray1/api/version HTTP/1.1\r\nHost: gw\r\n" + auth +
			fmt.Sprintf("Content-Length: %d\r\nX-A: b\r\n Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 5+len(hidden)) + hidden,
	} {
		t.Run(name, func(t *testing.T) {
			resps := rawExchange(t, stream)
			if len(resps) != 2 || resps[0].StatusCode != 200 || resps[1].StatusCode != 400 || !resps[1].Close {
				var got []int
				for _, r := range resps {
					got = append(got, r.StatusCode)
				}
				t.Fatalf("answers %v, want [200 400] and the connection closed", got)
			}
		})
	}
	for _, h := range s.TapA.Seen() {
		if h.Get("X-Marker") == marker {
			t.Fatal("the hidden request reached Ray")
		}
	}
}

// TestHostileRequestsAreRefused: the built binary gives each hostile
// request its defined answer, as JSON, and Ray never sees one.
func TestHostileRequestsAreRefused(t *testing.T) {
	s := requireStack(t)
	alice := token(t, "alice@example.com")
	auth := "Authorization: Bearer " + alice + "\r\n"
	p := "/clusters/team-a/ray1/api/version"
	before := len(s.TapA.Seen())
	for _, tc := range []struct {
		name, req string
		status    int
	}{
		{"target over 8 KiB", "GET " + p + "?q=" + strings.Repeat("a", 9000) + " HTTP/1.1\r\nHost: gw\r\n" + auth + "\r\n", 414},
		{"query of 64 KiB", "GET " + p + "?q=" + strings.Repeat("a", 64<<10) + " HTTP/1.1\r\nHost: gw\r\n" + auth + "\r\n", 414},
		{"headers over 32 KiB", "GET " + p + " HTTP/1.1\r\nHost: gw\r\n" + auth + "X-Big: " + strings.Repeat("a", 33<<10) + "\r\n\r\n", 431},
		{"CONNECT", "CONNECT 127.0.0.1:8265 HTTP/1.1\r\nHost: 127.0.0.1:8265\r\n" + auth + "\r\n", 405},
		{"TRACE", "TRACE " + p + " HTTP/1.1\r\nHost: gw\r\n" + auth + "\r\n", 405},
		{"lowercase", "get " + p + " HTTP/1.1\r\nHost: gw\r\n" + auth + "\r\n", 501},
		{"unknown method", "BREW " + p + " HTTP/1.1\r\nHost: gw\r\n" + auth + "\r\n", 501},
		{"%ff in the path", "GET /clusters/team-a/ray1/api/jobs/%ff HTTP/1.1\r\nHost: gw\r\n" + auth + "\r\n", 400},
		{"raw \\xff\\xfe in the path", "GET /clusters/team-a/ray1/api/jobs/\xff\xfe HTTP/1.1\r\nHost: gw\r\n" + auth + "\r\n", 400},
		{"overlong dot", "GET /clusters/team-a/ray1/api/jobs/%c0%ae%c0%ae/ HTTP/1.1\r\nHost: gw\r\n" + auth + "\r\n", 400},
		{"Transfer-Encoding gzip", "POST /clusters/team-a/ray1/api/jobs/ HTTP/1.1\r\nHost: gw\r\n" + auth + "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 400},
		{"h2c upgrade on a log tail", "GET /clusters/team-a/ray1/api/jobs/raysubmit_x/logs/tail HTTP/1.1\r\nHost: gw\r\n" + auth + "Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n", 400},
		{"WebSocket without a key", "GET /clusters/team-a/ray1/api/jobs/raysubmit_x/logs/tail HTTP/1.1\r\nHost: gw\r\n" + auth + "Connection: Upgrade\r\nUpgrade: websocket\r\n\r\n", 400},
		{"compressed submission", "POST /clusters/team-a/ray1/api/jobs/ HTTP/1.1\r\nHost: gw\r\n" + auth + "Content-Encoding: gzip\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}", 415},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resps := rawExchange(t, strings.Replace(tc.req, "\r\n\r\n", "\r\nConnection: close\r\n\r\n", 1))
			if len(resps) == 0 || resps[0].StatusCode != tc.status {
				var got []int
				for _, r := range resps {
					got = append(got, r.StatusCode)
				}
				t.Fatalf("answers %v, want %d", got, tc.status)
			}
			var eb struct{ Error, Message string }
			b, _ := io.ReadAll(resps[0].Body)
			if err := json.Unmarshal(b, &eb); err != nil || eb.Error == "" {
				t.Fatalf("answer %q is not a JSON error", b)
			}
		})
	}
	if after := len(s.TapA.Seen()); after != before {
		t.Fatalf("%d hostile requests reached Ray", after-before)
	}
}

// TestJobCodeHoldsTheClusterToken shows the limit docs/security-model.md
// states: code a developer's job runs has the cluster's Ray token in its
// environment and can call the head directly, around raygate's roles and
// ownership. Only separate clusters keep developers apart.
func TestJobCodeHoldsTheClusterToken(t *testing.T) {
	s := requireStack(t)
	alice := token(t, "alice@example.com")
	script := fmt.Sprintf(`import os, urllib.request
tok = os.environ.get("RAY_AUTH_TOKEN", "")
req = urllib.request.Request(%q, headers={"X-Ray-Authorization": "Bearer " + tok})
print("token in environment:", bool(tok), "head answers:", urllib.request.urlopen(req).status)`, s.RayA.Dashboard+"/api/jobs/")
	b, _ := json.Marshal(map[string]string{"entrypoint": "python -c '" + script + "'"})
	code, body := call(t, alice, "POST", "/clusters/team-a/ray1/api/jobs/", string(b))
	if code != 200 {
		t.Fatalf("submit: %d %s", code, body)
	}
	var r struct {
		SubmissionID string `json:"submission_id"`
	}
	_ = json.Unmarshal([]byte(body), &r)
	waitJob(t, alice, "team-a/ray1", r.SubmissionID, "SUCCEEDED", "FAILED")
	_, logs := call(t, alice, "GET", "/clusters/team-a/ray1/api/jobs/"+r.SubmissionID+"/logs", "")
	if !strings.Contains(logs, "token in environment: True head answers: 200") {
		t.Fatalf("job logs %q: the job did not reach the head with the cluster token", logs)
	}
}
