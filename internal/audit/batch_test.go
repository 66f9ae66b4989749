package audit

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// countingWriter counts the writes it gets.
type countingWriter struct {
	flakyWriter
	writes int
}

func (c *countingWriter) Write(p []byte) (int, error) {
	c.mu.Lock()
	c.writes++
	c.mu.Unlock()
	return c.flakyWriter.Write(p)
}

func (c *countingWriter) count() int { c.mu.Lock(); defer c.mu.Unlock(); return c.writes }

// batching returns a writer that gathers for longer than any test waits,
// so that only an explicit flush (or a full batch) writes.
func batching(w *countingWriter, obs Observer) *Writer {
	return New(w, Options{FlushInterval: time.Hour, Observer: obs})
}

func TestBatchGathersUntilFlush(t *testing.T) {
	var c countingWriter
	w := batching(&c, nil)
	for _, id := range []string{"1", "2", "3"} {
		if err := w.Write(&Event{RequestID: id}); err != nil {
			t.Fatal(err)
		}
	}
	if c.count() != 0 || c.text() != "" {
		t.Fatalf("gathered lines written before the flush: %d writes, %q", c.count(), c.text())
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(ids(t, c.text()), ","); got != "1/response,2/response,3/response" || c.count() != 1 {
		t.Fatalf("after flush: %s in %d writes, want three lines in one", got, c.count())
	}
}

func TestBatchDurableWritesGatheredLinesFirst(t *testing.T) {
	var c countingWriter
	w := batching(&c, nil)
	_ = w.Write(&Event{RequestID: "1"})
	_ = w.Write(&Event{RequestID: "2"})
	if err := w.WriteDurable(&Event{RequestID: "3", Stage: StageRequest}); err != nil {
		t.Fatal(err)
	}
	// The write-ahead record is out when WriteDurable returns, after the
	// lines gathered before it.
	if got := strings.Join(ids(t, c.text()), ","); got != "1/response,2/response,3/request" {
		t.Fatalf("written %s", got)
	}
}

func TestBatchFlushesWhenFull(t *testing.T) {
	var c countingWriter
	w := batching(&c, nil)
	ev := &Event{RequestID: "x", Path: strings.Repeat("p", 1000)}
	n := 0
	for c.count() == 0 {
		_ = w.Write(ev)
		if n++; n > maxBatchBytes {
			t.Fatal("a full batch was never written")
		}
	}
	if got := len(c.text()); got < maxBatchBytes {
		t.Fatalf("wrote %d bytes at once, want a full batch of %d", got, maxBatchBytes)
	}
}

func TestBatchFlushesAfterInterval(t *testing.T) {
	var c countingWriter
	w := New(&c, Options{FlushInterval: time.Millisecond})
	_ = w.Write(&Event{RequestID: "1"})
	deadline := time.Now().Add(10 * time.Second)
	for c.text() == "" {
		if time.Now().After(deadline) {
			t.Fatal("a gathered line was not written after the flush interval")
		}
		time.Sleep(time.Millisecond)
	}
	if got := strings.Join(ids(t, c.text()), ","); got != "1/response" {
		t.Fatalf("written %s", got)
	}
}

func TestBatchCloseWritesGathered(t *testing.T) {
	var c countingWriter
	w := batching(&c, nil)
	_ = w.Write(&Event{RequestID: "1"})
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(ids(t, c.text()), ","); got != "1/response" {
		t.Fatalf("written at close: %s", got)
	}
}

func TestBatchReopenWritesGatheredToOldFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.log")
	w, err := Open(path, Options{FlushInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	_ = w.Write(&Event{RequestID: "before"})
	// Rotation: the file is moved away, then the sink reopens the path.
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	if err := w.Reopen(path); err != nil {
		t.Fatal(err)
	}
	_ = w.Write(&Event{RequestID: "after"})
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	old, _ := os.ReadFile(path + ".1")
	cur, _ := os.ReadFile(path)
	if got := strings.Join(ids(t, string(old)), ","); got != "before/response" {
		t.Fatalf("rotated file holds %s", got)
	}
	if got := strings.Join(ids(t, string(cur)), ","); got != "after/response" {
		t.Fatalf("new file holds %s", got)
	}
}

func TestBatchFailureKeepsLinesInOrder(t *testing.T) {
	c := &countingWriter{}
	obs := &countingObserver{}
	w := batching(c, obs)
	_ = w.Write(&Event{RequestID: "1"})
	_ = w.Write(&Event{RequestID: "2"})
	c.set(true)
	c.partial = true // half of the batch gets out, then the disk is full
	if err := w.Flush(); err == nil {
		t.Fatal("flush to a failing writer succeeded")
	}
	if w.Healthy() || obs.failed.Load() != 1 {
		t.Fatalf("after a failed flush: healthy %v, %d failures counted", w.Healthy(), obs.failed.Load())
	}
	_ = w.Write(&Event{RequestID: "3"})
	// A durable write fails while the kept lines cannot be written, and
	// its own line is not kept: the caller refuses the request.
	if err := w.WriteDurable(&Event{RequestID: "4", Stage: StageRequest}); err == nil {
		t.Fatal("durable write to a failing sink succeeded")
	}
	c.set(false)
	if err := w.Retry(); err != nil || !w.Healthy() {
		t.Fatalf("retry after recovery: %v healthy %v", err, w.Healthy())
	}
	if got := strings.Join(ids(t, c.text()), ","); got != "1/response,2/response,3/response" {
		t.Fatalf("written %s", got)
	}
}

func TestBatchFailureDropsWhatDoesNotFit(t *testing.T) {
	c := &countingWriter{}
	obs := &countingObserver{}
	w := New(c, Options{FlushInterval: time.Hour, Observer: obs, MaxPendingBytes: 600})
	c.set(true)
	for _, id := range []string{"1", "2", "3", "4"} {
		_ = w.Write(&Event{RequestID: id, Path: strings.Repeat("p", 200)})
	}
	if err := w.Flush(); !errorsIsNoSpace(err) {
		t.Fatalf("flush: %v", err)
	}
	if obs.dropped.Load() == 0 || w.Pending() == 0 {
		t.Fatalf("dropped %d, kept %d: want some of each within 600 bytes", obs.dropped.Load(), w.Pending())
	}
	c.set(false)
	if err := w.Retry(); err != nil {
		t.Fatal(err)
	}
	got := ids(t, c.text())
	if int64(len(got))+obs.dropped.Load() != 4 || got[0] != "1/response" {
		t.Fatalf("written %v, dropped %d: want the oldest kept and every line accounted for", got, obs.dropped.Load())
	}
}

func errorsIsNoSpace(err error) bool {
	return err != nil && strings.Contains(err.Error(), syscall.ENOSPC.Error())
}

// TestWriteAllocations: a gathered audit line costs no allocation once
// the batch and the encoding buffers exist.
func TestWriteAllocations(t *testing.T) {
	var c countingWriter
	w := batching(&c, nil)
	ev := &Event{Time: time.Now(), RequestID: "r", User: "alice@example.com", Groups: []string{"team-a"},
		AuthMethod: "oidc", Cluster: "team-a/ray1", Action: "cluster.read", Method: "GET",
		Path: "/clusters/team-a/ray1/api/version", Decision: Allow, Reason: "developer may cluster.read", Status: 200, DurationMS: 0.25}
	_ = w.Write(ev)
	allocs := testing.AllocsPerRun(100, func() {
		_ = w.Write(ev)
		if c.count() > 0 {
			t.Fatal("a batch was written during the run")
		}
	})
	if allocs != 0 {
		t.Fatalf("Write allocates %.1f times per event, want 0", allocs)
	}
}

// BenchmarkEncode is one audit line's encoding.
func BenchmarkEncode(b *testing.B) {
	ev := &Event{Time: time.Now(), RequestID: "0123456789ab-1", Stage: StageResponse, User: "alice@example.com", Groups: []string{"team-a"},
		AuthMethod: "oidc", AuthSource: "https://idp.example.com", Cluster: "team-a/ray1", Role: "developer", RoleSource: "binding",
		Action: "cluster.read", Method: "GET", Path: "/clusters/team-a/ray1/api/version", Decision: Allow,
		Reason: "developer may cluster.read", Status: 200, DurationMS: 0.25, RemoteAddr: "127.0.0.1:50000"}
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		buf = appendEvent(buf[:0], ev)
	}
}

// BenchmarkWriteGathered is Write with a flush interval: encode and
// gather, the write(2) shared by a batch.
func BenchmarkWriteGathered(b *testing.B) {
	f, err := os.CreateTemp(b.TempDir(), "audit")
	if err != nil {
		b.Fatal(err)
	}
	w := New(f, Options{FlushInterval: DefaultFlushInterval})
	defer w.Close()
	ev := &Event{Time: time.Now(), RequestID: "0123456789ab-1", User: "alice@example.com", Groups: []string{"team-a"},
		Cluster: "team-a/ray1", Action: "cluster.read", Method: "GET", Path: "/clusters/team-a/ray1/api/version", Decision: Allow, Status: 200}
	b.ReportAllocs()
	for b.Loop() {
		_ = w.Write(ev)
	}
}
