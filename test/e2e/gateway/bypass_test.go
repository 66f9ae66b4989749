//go:build e2e

package gateway_test

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/raygate/raygate/test/e2e/harness"
)

// These tests replay, against a real Ray 2.60 head with token
// authentication, three ways one developer could act on another
// developer's job through raygate: a charset that makes Ray read another
// JSON document than the one raygate checked, a submission id that Ray
// pastes into its own URLs, and a submission id that Ray resolves as a
// driver job id between raygate's owner lookup and the stop.

// rayDirect calls a Ray head's API with the cluster token, bypassing
// raygate: what the cluster itself reports, or what job code holding the
// cluster token could do.
func rayDirect(t *testing.T, r *harness.Ray, method, path, body string) (int, string) {
	t.Helper()
	var rb io.Reader
	if body != "" {
		rb = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, r.Dashboard+path, rb)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Ray-Authorization", "Bearer "+r.Token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

type rayJob struct {
	Type         string            `json:"type"`
	JobID        string            `json:"job_id"`
	SubmissionID string            `json:"submission_id"`
	Status       string            `json:"status"`
	Entrypoint   string            `json:"entrypoint"`
	Metadata     map[string]string `json:"metadata"`
}

// rayJobs lists every job the head knows, straight from Ray.
func rayJobs(t *testing.T, r *harness.Ray) []rayJob {
	t.Helper()
	code, body := rayDirect(t, r, "GET", "/api/jobs/", "")
	if code != 200 {
		t.Fatalf("list jobs on Ray: %d %s", code, body)
	}
	var js []rayJob
	if err := json.Unmarshal([]byte(body), &js); err != nil {
		t.Fatal(err)
	}
	return js
}

func rayJobByID(t *testing.T, r *harness.Ray, id string) (rayJob, bool) {
	t.Helper()
	code, body := rayDirect(t, r, "GET", "/api/jobs/"+id, "")
	if code == 404 {
		return rayJob{}, false
	}
	if code != 200 {
		t.Fatalf("get job %s on Ray: %d %s", id, code, body)
	}
	var j rayJob
	if err := json.Unmarshal([]byte(body), &j); err != nil {
		t.Fatal(err)
	}
	return j, true
}

func randomSuffix() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// sendWith sends one request through the gateway with extra headers.
func sendWith(t *testing.T, bearer, method, path, body string, hdr map[string]string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, requireStack(t).Gateway.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+bearer)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestCharsetCannotChangeTheJob: a submission declaring a charset under
// which the same bytes are another JSON document (another entrypoint,
// another raygate.owner) is refused, and nothing of the other reading
// reaches Ray; the same bytes as plain JSON run exactly as raygate read
// them, owned by the caller.
func TestCharsetCannotChangeTheJob(t *testing.T) {
	s := requireStack(t)
	alice := token(t, "alice@example.com")
	for _, tc := range []struct {
		charset string
		// body reads, in UTF-8, as one entrypoint and a harmless metadata
		// value; in charset, as entrypoint "echo pwned-MARK" and owner bob.
		body string
	}{
		{"utf-7", `{"entrypoint":"echo safe-MARK+ACIALAAi-entrypoint+ACI-:+ACI-echo pwned-MARK","metadata":{"z":"1+ACIALAAi-raygate.owner+ACI-:+ACI-bob@example.com"}}`},
		{"unicode_escape", `{"entrypoint":"echo safe-MARK\",\"entrypoint\":\"echo pwned-MARK","metadata":{"z":"1\",\"raygate.owner\":\"bob@example.com"}}`},
	} {
		t.Run(tc.charset, func(t *testing.T) {
			mark := randomSuffix()
			body := strings.ReplaceAll(tc.body, "MARK", mark)
			code, resp := sendWith(t, alice, "POST", "/clusters/team-a/ray1/api/jobs/", body,
				map[string]string{"Content-Type": "application/json; charset=" + tc.charset})
			if code != http.StatusUnsupportedMediaType {
				t.Errorf("submit with charset=%s: %d %s, want 415", tc.charset, code, resp)
			}
			// Whatever the answer, Ray must hold no job read the other way.
			time.Sleep(time.Second)
			for _, j := range rayJobs(t, s.RayA) {
				if strings.Contains(j.Entrypoint, "pwned-"+mark) || (strings.Contains(j.Entrypoint, mark) && j.Metadata["raygate.owner"] != "alice@example.com") {
					t.Fatalf("Ray read the submission another way: job %s entrypoint %q owner %q", j.SubmissionID, j.Entrypoint, j.Metadata["raygate.owner"])
				}
			}

			// The same bytes, declared as plain JSON, run as raygate read them.
			code, resp = sendWith(t, alice, "POST", "/clusters/team-a/ray1/api/jobs/", body,
				map[string]string{"Content-Type": "application/json"})
			if code != 200 {
				t.Fatalf("submit as application/json: %d %s", code, resp)
			}
			var r struct {
				SubmissionID string `json:"submission_id"`
			}
			_ = json.Unmarshal([]byte(resp), &r)
			var want struct {
				Entrypoint string `json:"entrypoint"`
			}
			_ = json.Unmarshal([]byte(body), &want)
			j, ok := rayJobByID(t, s.RayA, r.SubmissionID)
			if !ok || j.Entrypoint != want.Entrypoint || j.Metadata["raygate.owner"] != "alice@example.com" {
				t.Fatalf("job as Ray has it: %+v; want entrypoint %q owned by alice", j, want.Entrypoint)
			}
		})
	}
}

// TestSubmissionIDCannotNameAnotherJob: a submission id that Ray would
// paste unescaped into its agent URL (with '#' or '?'), or that Ray reads
// as a driver job id, is refused, and a job carrying one (created behind
// raygate's back) cannot be used to delete someone else's job.
func TestSubmissionIDCannotNameAnotherJob(t *testing.T) {
	s := requireStack(t)
	alice, bob := token(t, "alice@example.com"), token(t, "bob@example.com")
	victim := "victim-" + randomSuffix()
	if code, body := call(t, alice, "POST", "/clusters/team-a/ray1/api/jobs/", fmt.Sprintf(`{"entrypoint":"echo victim","submission_id":%q}`, victim)); code != 200 {
		t.Fatalf("alice submits %s: %d %s", victim, code, body)
	}
	waitJob(t, alice, "team-a/ray1", victim, "SUCCEEDED")

	for _, field := range []string{"submission_id", "job_id"} {
		for _, id := range []string{victim + "#", victim + "?x=1", victim + "/stop", "fffffff0", "0a0b0c0d", ""} {
			body := fmt.Sprintf(`{"entrypoint":"echo attacker",%q:%q}`, field, id)
			if code, resp := call(t, bob, "POST", "/clusters/team-a/ray1/api/jobs/", body); code != 400 {
				t.Errorf("bob submits %s %q: %d %s, want 400", field, id, code, resp)
			}
		}
	}

	// A job whose id ends in '#' may still reach Ray without raygate (job
	// code holds the cluster token). Bob owns it, yet deleting it through
	// raygate must not delete alice's job, which Ray would do by pasting
	// the id into its agent URL.
	planted := victim + "#"
	if _, ok := rayJobByID(t, s.RayA, url(planted)); !ok {
		code, body := rayDirect(t, s.RayA, "POST", "/api/jobs/", fmt.Sprintf(`{"entrypoint":"echo planted","submission_id":%q,"metadata":{"raygate.owner":"bob@example.com"}}`, planted))
		if code != 200 {
			t.Fatalf("plant %q on Ray: %d %s", planted, code, body)
		}
	}
	deadline := time.Now().Add(time.Minute)
	for {
		j, _ := rayJobByID(t, s.RayA, url(planted))
		if j.Status == "SUCCEEDED" || j.Status == "FAILED" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("planted job is %s", j.Status)
		}
		time.Sleep(500 * time.Millisecond)
	}
	for _, p := range []string{url(planted), url(planted) + "/stop"} {
		method := "DELETE"
		if strings.HasSuffix(p, "/stop") {
			method = "POST"
		}
		if code, body := call(t, bob, method, "/clusters/team-a/ray1/api/jobs/"+p, ""); code < 400 {
			t.Errorf("bob %s %s: %d %s, want a refusal", method, p, code, body)
		}
	}
	if _, ok := rayJobByID(t, s.RayA, victim); !ok {
		t.Fatalf("alice's job %s was deleted through bob's job %q", victim, planted)
	}
}

// url escapes an id for a path segment the way Ray's clients do.
func url(id string) string {
	return strings.NewReplacer("#", "%23", "?", "%3F", "/", "%2F").Replace(id)
}

// nextDriverIDs predicts the next n driver job ids the head will hand out:
// Ray numbers drivers in order (JobID, 4 bytes little-endian, as hex).
func nextDriverIDs(t *testing.T, r *harness.Ray, n int) []string {
	t.Helper()
	max := uint32(1) // 01000000 is the dashboard's own driver
	for _, j := range rayJobs(t, r) {
		if b, err := hex.DecodeString(j.JobID); err == nil && len(b) == 4 {
			if v := binary.LittleEndian.Uint32(b); v > max {
				max = v
			}
		}
	}
	var out []string
	for i := uint32(1); i <= uint32(n); i++ {
		var b [4]byte
		binary.LittleEndian.PutUint32(b[:], max+i)
		out = append(out, hex.EncodeToString(b[:]))
	}
	return out
}

// TestLookupActRace: raygate looks a job's owner up, then forwards the
// stop; Ray resolves the id again, as a driver job id first. A submission
// id shaped like the next driver job id passes the lookup as the
// attacker's job and, once another job's driver takes that id, stops that
// job instead. The tap holds the forwarded stop back until alice's driver
// has the id, so the race is lined up every time.
func TestLookupActRace(t *testing.T) {
	s := requireStack(t)
	if s.TapA == nil {
		t.Fatal("the stack has no tap in front of team-a")
	}
	alice, bob := token(t, "alice@example.com"), token(t, "bob@example.com")
	ids := nextDriverIDs(t, s.RayA, 4)
	for _, id := range ids {
		body := fmt.Sprintf(`{"entrypoint":"sleep 600","submission_id":%q}`, id)
		code, resp := call(t, bob, "POST", "/clusters/team-a/ray1/api/jobs/", body)
		if code == 200 {
			t.Errorf("bob submits a job named like a driver job id %s: accepted, want 400", id)
			continue
		}
		if code != 400 {
			t.Fatalf("bob submits %s: %d %s", id, code, resp)
		}
		// Refused at the door; plant the same job behind raygate's back
		// (job code holds the cluster token), owned by bob.
		if c, b := rayDirect(t, s.RayA, "POST", "/api/jobs/", fmt.Sprintf(`{"entrypoint":"sleep 600","submission_id":%q,"metadata":{"raygate.owner":"bob@example.com"}}`, id)); c != 200 {
			t.Fatalf("plant %s: %d %s", id, c, b)
		}
	}
	t.Cleanup(func() {
		for _, id := range ids {
			rayDirect(t, s.RayA, "POST", "/api/jobs/"+id+"/stop", "")
		}
	})

	// Hold every stop of those ids on its way to Ray.
	release := s.TapA.Hold(func(r *http.Request) bool {
		for _, id := range ids {
			if r.Method == "POST" && strings.HasSuffix(r.URL.Path, "/api/jobs/"+id+"/stop") {
				return true
			}
		}
		return false
	})
	defer release()
	var wg sync.WaitGroup
	codes := make([]int, len(ids))
	for i, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i], _ = call(t, bob, "POST", "/clusters/team-a/ray1/api/jobs/"+id+"/stop", "")
		}()
	}
	time.Sleep(2 * time.Second) // bob's lookups are done; forwarded stops, if any, are held

	victim := "race-victim-" + randomSuffix()
	body := fmt.Sprintf(`{"entrypoint":"python -c \"import ray, time; ray.init(); time.sleep(600)\"","submission_id":%q}`, victim)
	if code, resp := call(t, alice, "POST", "/clusters/team-a/ray1/api/jobs/", body); code != 200 {
		t.Fatalf("alice submits: %d %s", code, resp)
	}
	t.Cleanup(func() { rayDirect(t, s.RayA, "POST", "/api/jobs/"+victim+"/stop", "") })
	var driver string
	deadline := time.Now().Add(2 * time.Minute)
	for driver == "" {
		if j, ok := rayJobByID(t, s.RayA, victim); ok && j.JobID != "" && j.Status == "RUNNING" {
			driver = j.JobID
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("alice's job has no driver yet")
		}
		time.Sleep(500 * time.Millisecond)
	}
	lined := false
	for _, id := range ids {
		lined = lined || id == driver
	}
	if !lined {
		t.Fatalf("alice's driver took id %s, not one of %v: the race is not lined up", driver, ids)
	}

	release()
	wg.Wait()
	time.Sleep(3 * time.Second)
	if j, _ := rayJobByID(t, s.RayA, victim); j.Status != "RUNNING" {
		t.Fatalf("alice's job is %s after bob's stops of %v (her driver is %s)", j.Status, ids, driver)
	}
	for i, c := range codes {
		if c != http.StatusForbidden {
			t.Errorf("bob stops %s: %d, want 403 (a job whose id could name a driver job is admin-only)", ids[i], c)
		}
	}
}
