package audit

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestWriterFileAndReopen(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.log")
	w, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = w.Write(&Event{Time: time.Now(), RequestID: "r", User: "alice", Decision: Allow, Status: 200})
		}()
	}
	wg.Wait()
	// Rotate: move the file away and reopen the same path.
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	if err := w.Reopen(path); err != nil {
		t.Fatal(err)
	}
	_ = w.Write(&Event{RequestID: "after"})
	old, _ := os.ReadFile(path + ".1")
	lines := strings.Split(strings.TrimSpace(string(old)), "\n")
	if len(lines) != 50 {
		t.Fatalf("%d lines before rotation, want 50", len(lines))
	}
	for _, l := range lines {
		var e map[string]any
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		if g, ok := e["groups"].([]any); !ok || len(g) != 0 {
			t.Fatalf("groups must be an empty list, got %v", e["groups"])
		}
	}
	cur, _ := os.ReadFile(path)
	if !strings.Contains(string(cur), `"request_id":"after"`) {
		t.Fatalf("event after reopen not in new file: %q", cur)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, want 0600", st.Mode().Perm())
	}
	if err := w.Reopen(filepath.Join(dir, "missing", "x.log")); err == nil {
		t.Fatal("reopen into a missing folder succeeded")
	}
	_ = w.Write(&Event{RequestID: "still"})
	cur, _ = os.ReadFile(path)
	if !strings.Contains(string(cur), `"request_id":"still"`) {
		t.Fatal("a failed reopen lost the sink")
	}
}

// TestEncodingMatchesEncodingJSON: the hand-written encoder produces what
// encoding/json would decode back to the same event.
func TestEncodingMatchesEncodingJSON(t *testing.T) {
	for _, e := range []Event{
		{},
		{Time: time.Date(2026, 11, 26, 10, 0, 0, 123456789, time.UTC), RequestID: "a-1", User: "alice@example.com", Groups: []string{"team-a", "ml"},
			AuthMethod: "oidc", AuthSource: "https://idp", Cluster: "team-a/ray1", Role: "developer", RoleSource: "rbac ray:write", Action: "jobs.submit", Method: "POST",
			Path: "/clusters/team-a/ray1/api/jobs/", Decision: Allow, Reason: "role developer allows jobs.submit", Status: 200,
			DurationMS: 12.345, RemoteAddr: "127.0.0.1:5000", JobID: "raysubmit_1", Entrypoint: `python -c "print('x')" && rm -rf / <b>&</b>` + "\n\t\x00\x1f\u2028é"},
		{User: "bad\xffutf8", Path: "/\x7f", Reason: "\"quoted\" \\ back", DurationMS: 0.001},
	} {
		checkRoundTrip(t, e)
	}
}

func checkRoundTrip(t *testing.T, e Event) {
	t.Helper()
	if e.Groups == nil {
		e.Groups = []string{}
	}
	got := appendEvent(nil, &e)
	var back Event
	if err := json.Unmarshal(got, &back); err != nil {
		t.Fatalf("%s: %v", got, err)
	}
	want, _ := json.Marshal(e)
	var wantBack Event
	_ = json.Unmarshal(want, &wantBack)
	a, _ := json.Marshal(back)
	b, _ := json.Marshal(wantBack)
	if string(a) != string(b) {
		t.Fatalf("round trip differs:\n got %s\nwant %s", a, b)
	}
}

func FuzzEncoding(f *testing.F) {
	f.Add("alice", "team-a", "/clusters/a/b/", "python x.py", 1.5, 200)
	f.Add("bad\xff", "\x00", "\u2028", "\"\\", 0.0, 0)
	f.Fuzz(func(t *testing.T, user, group, path, entrypoint string, d float64, status int) {
		if d != d || d > 1e20 || d < -1e20 {
			return // NaN and huge values are not durations
		}
		checkRoundTrip(t, Event{User: user, Groups: []string{group}, Path: path, Entrypoint: entrypoint, DurationMS: d, Status: status})
	})
}
