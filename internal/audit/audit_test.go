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
	w, err := Open(path)
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
