package audit

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
)

// flakyWriter fails while broken; with partial set it writes half of each
// write before failing.
type flakyWriter struct {
	mu      sync.Mutex
	broken  bool
	partial bool
	out     strings.Builder
}

func (f *flakyWriter) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.broken {
		n := 0
		if f.partial {
			n = len(p) / 2
			f.out.Write(p[:n])
		}
		return n, syscall.ENOSPC
	}
	return f.out.Write(p)
}

func (f *flakyWriter) set(broken bool) { f.mu.Lock(); f.broken = broken; f.mu.Unlock() }

func (f *flakyWriter) text() string { f.mu.Lock(); defer f.mu.Unlock(); return f.out.String() }

// countingObserver records what a sink reports.
type countingObserver struct {
	failed, dropped atomic.Int64
	mu              sync.Mutex
	health          []bool
}

func (o *countingObserver) AuditWriteFailed()        { o.failed.Add(1) }
func (o *countingObserver) AuditEventsDropped(n int) { o.dropped.Add(int64(n)) }
func (o *countingObserver) AuditSinkHealthy(ok bool) {
	o.mu.Lock()
	o.health = append(o.health, ok)
	o.mu.Unlock()
}

// ids returns the request ids and stages of the JSON lines in text, failing
// on any line that is not one JSON object.
func ids(t *testing.T, text string) []string {
	t.Helper()
	var out []string
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var e Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("line %q is not one JSON object: %v", sc.Text(), err)
		}
		out = append(out, e.RequestID+"/"+e.Stage)
	}
	return out
}

func TestStage(t *testing.T) {
	var f flakyWriter
	w := NewWriter(&f)
	_ = w.Write(&Event{RequestID: "a"})
	_ = w.WriteDurable(&Event{RequestID: "b", Stage: StageRequest})
	if got := strings.Join(ids(t, f.text()), ","); got != "a/response,b/request" {
		t.Fatalf("stages %s", got)
	}
}

func TestFailingSinkKeepsEventsAndRecovers(t *testing.T) {
	f := &flakyWriter{}
	obs := &countingObserver{}
	w := New(f, Options{Observer: obs})
	if err := w.Write(&Event{RequestID: "1"}); err != nil || !w.Healthy() {
		t.Fatalf("healthy write: %v %v", err, w.Healthy())
	}
	f.set(true)
	if err := w.Write(&Event{RequestID: "2"}); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("failed write returned %v", err)
	}
	if w.Healthy() {
		t.Fatal("sink healthy after a failed write")
	}
	// A failed write-ahead record is not kept: the caller refuses the
	// request it describes.
	if err := w.WriteDurable(&Event{RequestID: "3", Stage: StageRequest}); err == nil {
		t.Fatal("durable write to a failing sink succeeded")
	}
	if err := w.Write(&Event{RequestID: "3"}); err == nil {
		t.Fatal("write to a failing sink succeeded")
	}
	if n := w.Pending(); n != 2 {
		t.Fatalf("%d events kept, want 2", n)
	}
	if err := w.Retry(); err == nil || w.Healthy() {
		t.Fatalf("retry on a failing sink: %v healthy %v", err, w.Healthy())
	}
	f.set(false)
	if err := w.Retry(); err != nil || !w.Healthy() {
		t.Fatalf("retry after recovery: %v healthy %v", err, w.Healthy())
	}
	if got := strings.Join(ids(t, f.text()), ","); got != "1/response,2/response,3/response" {
		t.Fatalf("written %s", got)
	}
	if n := obs.failed.Load(); n != 4 {
		t.Fatalf("%d failures counted, want 4 (three writes and one retry)", n)
	}
	obs.mu.Lock()
	defer obs.mu.Unlock()
	if fmt.Sprint(obs.health) != "[false true]" {
		t.Fatalf("health changes %v", obs.health)
	}
}

func TestNextWriteFlushesKeptEventsFirst(t *testing.T) {
	f := &flakyWriter{}
	w := NewWriter(f)
	f.set(true)
	_ = w.Write(&Event{RequestID: "1"})
	f.set(false)
	if err := w.WriteDurable(&Event{RequestID: "2", Stage: StageRequest}); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(ids(t, f.text()), ","); got != "1/response,2/request" || !w.Healthy() {
		t.Fatalf("written %s healthy %v", got, w.Healthy())
	}
}

// TestPartialWrites: a write cut short (disk full mid-line) never leaves
// half a line followed by another: the rest is written first.
func TestPartialWrites(t *testing.T) {
	for _, durable := range []bool{false, true} {
		t.Run(fmt.Sprint("durable=", durable), func(t *testing.T) {
			f := &flakyWriter{partial: true}
			w := NewWriter(f)
			f.set(true)
			write := w.Write
			if durable {
				write = w.WriteDurable
			}
			if err := write(&Event{RequestID: "1", Entrypoint: strings.Repeat("x", 100)}); err == nil {
				t.Fatal("partial write reported success")
			}
			f.set(false)
			if err := w.Write(&Event{RequestID: "2"}); err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(ids(t, f.text()), ","); got != "1/response,2/response" {
				t.Fatalf("written %s", got)
			}
		})
	}
}

func TestKeptEventsAreBounded(t *testing.T) {
	f := &flakyWriter{}
	obs := &countingObserver{}
	w := New(f, Options{Observer: obs, MaxPendingBytes: 1000})
	f.set(true)
	for i := 0; i < 20; i++ {
		_ = w.Write(&Event{RequestID: fmt.Sprint(i)})
	}
	kept := w.Pending()
	if kept == 0 || kept >= 20 || obs.dropped.Load() != int64(20-kept) {
		t.Fatalf("kept %d, dropped %d of 20 events", kept, obs.dropped.Load())
	}
	f.set(false)
	if err := w.Retry(); err != nil {
		t.Fatal(err)
	}
	if got := ids(t, f.text()); len(got) != kept || got[0] != "0/response" {
		t.Fatalf("written %v, want the %d oldest", got, kept)
	}
}

// TestDevFull: a sink on a full device fails every write, durable or not,
// and says so.
func TestDevFull(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full")
	}
	w, err := Open("/dev/full", Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := w.WriteDurable(&Event{RequestID: "1", Stage: StageRequest}); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("durable write to /dev/full: %v", err)
	}
	if err := w.Write(&Event{RequestID: "1"}); !errors.Is(err, syscall.ENOSPC) || w.Healthy() {
		t.Fatalf("write to /dev/full: %v healthy %v", err, w.Healthy())
	}
	if err := w.Retry(); err == nil {
		t.Fatal("retry on /dev/full succeeded")
	}
}

func TestSyncableTargets(t *testing.T) {
	regular := filepath.Join(t.TempDir(), "a.log")
	for _, tc := range []struct {
		file     string
		syncable bool
	}{
		{regular, true},
		{"/dev/null", false},
	} {
		w, err := Open(tc.file, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if w.t.syncable != tc.syncable {
			t.Errorf("%s: syncable %v, want %v", tc.file, w.t.syncable, tc.syncable)
		}
		if err := w.WriteDurable(&Event{RequestID: "x", Stage: StageRequest}); err != nil {
			t.Errorf("%s: %v", tc.file, err)
		}
		_ = w.Close()
	}
	b, _ := os.ReadFile(regular)
	if !strings.Contains(string(b), `"stage":"request"`) {
		t.Fatalf("durable line not in file: %q", b)
	}
}

// TestRotationUnderLoad: the file is moved away and reopened while events
// keep coming; every event lands in exactly one of the two files, whole.
func TestRotationUnderLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	w, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	const writers, each = 8, 300
	var wg sync.WaitGroup
	var written atomic.Int64
	for g := 0; g < writers; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				e := &Event{RequestID: fmt.Sprintf("%d-%d", g, i)}
				var err error
				if i%10 == 0 {
					e.Stage = StageRequest
					err = w.WriteDurable(e)
				} else {
					err = w.Write(e)
				}
				if err != nil {
					t.Error(err)
					return
				}
				if written.Add(1) == writers*each/2 {
					if err := os.Rename(path, path+".1"); err != nil {
						t.Error(err)
					}
					if err := w.Reopen(path); err != nil {
						t.Error(err)
					}
				}
			}
		}()
	}
	wg.Wait()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	old, _ := os.ReadFile(path + ".1")
	cur, _ := os.ReadFile(path)
	a, b := ids(t, string(old)), ids(t, string(cur))
	if len(a) == 0 || len(b) == 0 {
		t.Fatalf("rotation split %d/%d lines: one file is empty", len(a), len(b))
	}
	seen := map[string]bool{}
	for _, id := range append(a, b...) {
		if seen[id] {
			t.Fatalf("%s written twice", id)
		}
		seen[id] = true
	}
	if len(seen) != writers*each {
		t.Fatalf("%d lines, want %d", len(seen), writers*each)
	}
}

func TestCloseWritesKeptEvents(t *testing.T) {
	f := &flakyWriter{}
	obs := &countingObserver{}
	w := New(f, Options{Observer: obs})
	f.set(true)
	_ = w.Write(&Event{RequestID: "1"})
	f.set(false)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(ids(t, f.text()), ","); got != "1/response" {
		t.Fatalf("written %s", got)
	}
	f2 := &flakyWriter{}
	w2 := New(f2, Options{Observer: obs})
	f2.set(true)
	_ = w2.Write(&Event{RequestID: "1"})
	if err := w2.Close(); err == nil || !strings.Contains(err.Error(), "1 events not written") || obs.dropped.Load() != 1 {
		t.Fatalf("close of a failing sink: %v, dropped %d", err, obs.dropped.Load())
	}
}

func TestClosedStaysClosed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.log")
	w, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Reopen(path); err != nil {
		t.Fatal(err)
	}
	_ = w.Write(&Event{RequestID: "late"})
	if b, _ := os.ReadFile(path); len(b) != 0 {
		t.Fatalf("a closed sink wrote %q after Reopen", b)
	}
}

// BenchmarkWrite compares the cheap path (every request) with the durable
// write-ahead path (mutating requests: write and fsync) on a regular file.
func BenchmarkWrite(b *testing.B) {
	for _, durable := range []bool{false, true} {
		b.Run(fmt.Sprint("durable=", durable), func(b *testing.B) {
			w, err := Open(filepath.Join(b.TempDir(), "audit.log"), Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer w.Close()
			e := &Event{RequestID: "abc-1", User: "alice@example.com", Cluster: "team-a/ray1", Action: "jobs.submit", Method: "POST", Path: "/clusters/team-a/ray1/api/jobs/"}
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if durable {
					err = w.WriteDurable(e)
				} else {
					err = w.Write(e)
				}
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
