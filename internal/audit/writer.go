package audit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultMaxPendingBytes bounds the encoded events a failing sink keeps for
// a retry.
const DefaultMaxPendingBytes = 8 << 20

// DefaultRetryInterval is how often a failing sink reopens its file and
// retries the events it kept.
const DefaultRetryInterval = 2 * time.Second

// DefaultFlushInterval is how long `raygate serve` lets Write's lines
// gather before they are written in one go.
const DefaultFlushInterval = 5 * time.Millisecond

// maxBatchBytes is how much Write gathers before writing at once, whatever
// the flush interval.
const maxBatchBytes = 64 << 10

// Options tune a Writer.
type Options struct {
	// Log receives an error line for every failed write and a line when
	// the sink recovers. Nil logs nothing.
	Log *slog.Logger
	// Observer counts failures for metrics. Nil counts nothing.
	Observer Observer
	// MaxPendingBytes bounds the events kept while the sink fails; an
	// event that does not fit is dropped and counted. 0 means
	// DefaultMaxPendingBytes.
	MaxPendingBytes int
	// FlushInterval, when positive, lets Write gather lines for up to this
	// long (or until 64 KiB have gathered) and write them in one go,
	// instead of writing each line at once. WriteDurable, Flush, Reopen
	// and Close write what has gathered first, so the file keeps the
	// order of the calls.
	FlushInterval time.Duration
}

// bufPool recycles encoding buffers; buffers that grew past maxPooled (a
// huge entrypoint) are left to the garbage collector.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

const maxPooled = 64 << 10

// Writer is the audit sink: it writes JSON lines to a file or stdout, one
// write per event, or, with Options.FlushInterval, one write per batch of
// events. A write that fails marks the sink unhealthy and keeps the event
// (bounded) until a later write, Retry or Close gets it out, in order. A
// Writer opened on a file can be pointed at another file (or the same
// path, after rotation) with Reopen while events keep flowing.
type Writer struct {
	opts Options

	mu           sync.Mutex
	t            *target
	file         string   // "-" for stdout or a writer given to New
	pending      [][]byte // encoded lines (or the rest of one) not written yet, oldest first
	pendingBytes int
	// batch holds lines Write gathered, after everything in pending;
	// flusher writes them when the flush interval has passed.
	batch   []byte
	flusher *time.Timer
	closed  bool

	healthy atomic.Bool
}

var _ Sink = (*Writer)(nil)

// target is one opened destination.
type target struct {
	w io.Writer
	// f is the file behind w, when w is one; it is synced by WriteDurable
	// when it is a regular file.
	f        *os.File
	syncable bool
	closer   io.Closer
	// syncs counts WriteDurable calls syncing f outside the lock; Reopen
	// waits for them before closing it.
	syncs sync.WaitGroup
}

func newTarget(w io.Writer, closer io.Closer) *target {
	t := &target{w: w, closer: closer}
	if f, ok := w.(*os.File); ok {
		t.f = f
		if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
			t.syncable = true
		}
	}
	return t
}

// NewWriter writes events to w, with no logging or metrics.
func NewWriter(w io.Writer) *Writer { return New(w, Options{}) }

// New writes events to w.
func New(w io.Writer, opts Options) *Writer {
	s := &Writer{opts: opts, t: newTarget(w, nil), file: "-"}
	if s.opts.MaxPendingBytes <= 0 {
		s.opts.MaxPendingBytes = DefaultMaxPendingBytes
	}
	if s.opts.FlushInterval > 0 {
		s.flusher = time.AfterFunc(time.Hour, func() { _ = s.Flush() })
		s.flusher.Stop()
	}
	s.healthy.Store(true)
	return s
}

// Open returns the sink for a config value: "-" is stdout, anything else a
// file opened for append with mode 0600.
func Open(file string, opts Options) (*Writer, error) {
	t, err := openTarget(file)
	if err != nil {
		return nil, err
	}
	s := New(io.Discard, opts)
	s.t, s.file = t, normalize(file)
	return s, nil
}

func normalize(file string) string {
	if file == "" {
		return "-"
	}
	return file
}

func openTarget(file string) (*target, error) {
	if normalize(file) == "-" {
		return newTarget(os.Stdout, nil), nil
	}
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("audit: open %s: %w", file, err)
	}
	return newTarget(f, f), nil
}

// Reopen switches the sink to file, reopening it if it is the current one
// so that a rotated file is picked up. Events kept from failed writes go
// to the new file. On error the sink is unchanged.
func (s *Writer) Reopen(file string) error {
	file = normalize(file)
	s.mu.Lock()
	same := s.file == "-" && file == "-"
	closed := s.closed
	s.mu.Unlock()
	if same || closed {
		return nil // stdout needs no reopening; a closed sink stays closed
	}
	t, err := openTarget(file)
	if err != nil {
		return err
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return t.close()
	}
	// What has gathered belongs to the file it was written for; if that
	// fails, it is kept and goes to the new one.
	err = s.flushLocked()
	s.setHealthLocked(err == nil)
	old := s.t
	s.t, s.file = t, file
	s.mu.Unlock()
	if err != nil {
		s.failed(fmt.Errorf("audit: write: %w", err), "stage", "reopen")
	}
	return old.close()
}

func (t *target) close() error {
	t.syncs.Wait()
	if t.closer == nil {
		return nil
	}
	return t.closer.Close()
}

// Healthy reports whether the last write succeeded and nothing is waiting
// for a retry.
func (s *Writer) Healthy() bool { return s.healthy.Load() }

// Write appends e as one JSON line. It is safe for concurrent use. With a
// flush interval the line is gathered and written with others, in the
// background, at the latest after the interval; a failure there is logged
// and counted, and the lines not written are kept like those of a failed
// Write. Without one the line is written at once, and when that fails it
// is kept (within MaxPendingBytes) and written before the next event.
func (s *Writer) Write(e *Event) error { return s.write(e, false) }

// WriteDurable appends e as one JSON line, after every line gathered
// before it, and, when the sink is a regular file, syncs the file before
// returning. When it fails nothing of e is kept for a retry, unless part
// of the line was already written, in which case the rest follows so that
// the file stays one JSON object per line.
func (s *Writer) WriteDurable(e *Event) error { return s.write(e, true) }

// Flush writes the lines Write gathered (and any kept from failed writes)
// and returns once the operating system has them; it does not sync.
func (s *Writer) Flush() error {
	s.mu.Lock()
	err := s.flushLocked()
	s.setHealthLocked(err == nil)
	s.mu.Unlock()
	if err != nil {
		err = fmt.Errorf("audit: write: %w", err)
		s.failed(err, "stage", "flush")
	}
	return err
}

func (s *Writer) write(e *Event, durable bool) error {
	if e.Groups == nil {
		e.Groups = []string{}
	}
	if e.Stage == "" {
		e.Stage = StageResponse
	}
	bp := bufPool.Get().(*[]byte)
	b := append(appendEvent((*bp)[:0], e), '\n')

	s.mu.Lock()
	if !durable && s.flusher != nil && !s.closed {
		// Gather: one write for many lines. The line is copied, so the
		// buffer goes back to the pool at once.
		if len(s.batch) == 0 {
			s.flusher.Reset(s.opts.FlushInterval)
		}
		s.batch = append(s.batch, b...)
		var err error
		if len(s.batch) >= maxBatchBytes {
			err = s.flushLocked()
			s.setHealthLocked(err == nil)
		}
		s.mu.Unlock()
		putBuf(bp, b)
		if err != nil {
			err = fmt.Errorf("audit: write: %w", err)
			s.failed(err, "request_id", e.RequestID, "stage", e.Stage)
		}
		return nil
	}
	t := s.t
	n := 0
	err := s.flushLocked()
	if err == nil {
		n, err = t.w.Write(b)
	}
	if err != nil && (!durable || n > 0) {
		s.keepLocked(b[n:], n > 0)
	}
	syncing := err == nil && durable && t.syncable
	if syncing {
		t.syncs.Add(1)
	}
	s.setHealthLocked(err == nil)
	s.mu.Unlock()

	if syncing {
		// Outside the lock: other events keep flowing, and one sync
		// covers every line written before it.
		err = t.f.Sync()
		t.syncs.Done()
		if err != nil {
			s.mu.Lock()
			s.setHealthLocked(false)
			s.mu.Unlock()
		}
	}
	putBuf(bp, b)
	if err != nil {
		err = fmt.Errorf("audit: write: %w", err)
		s.failed(err, "request_id", e.RequestID, "stage", e.Stage)
	}
	return err
}

func putBuf(bp *[]byte, b []byte) {
	if cap(b) <= maxPooled {
		*bp = b
		bufPool.Put(bp)
	}
}

// flushLocked writes the kept lines, oldest first, then the gathered
// ones. When writing the gathered lines fails, what is left of them is
// kept like the lines of failed Writes.
func (s *Writer) flushLocked() error {
	for len(s.pending) > 0 {
		p := s.pending[0]
		n, err := s.t.w.Write(p)
		s.pendingBytes -= n
		if err != nil {
			s.pending[0] = p[n:]
			if len(s.batch) > 0 {
				s.keepBatchLocked(0)
			}
			return err
		}
		s.pending[0] = nil
		s.pending = s.pending[1:]
	}
	s.pending = nil
	if len(s.batch) == 0 {
		return nil
	}
	n, err := s.t.w.Write(s.batch)
	if err != nil {
		s.keepBatchLocked(n)
		return err
	}
	s.batch = s.batch[:0]
	if cap(s.batch) > 4*maxBatchBytes {
		s.batch = nil // a burst of huge lines: let it go
	}
	return nil
}

// keepBatchLocked keeps the gathered lines from byte n on for a retry,
// line by line: the rest of a line partly written always, whole lines
// while they fit.
func (s *Writer) keepBatchLocked(n int) {
	rest := s.batch[n:]
	first := true
	for len(rest) > 0 {
		end := len(rest)
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			end = i + 1
		}
		s.keepLocked(rest[:end], first && n > 0 && s.batch[n-1] != '\n')
		rest, first = rest[end:], false
	}
	s.batch = s.batch[:0]
}

// keepLocked keeps a copy of line for a retry. The rest of a line already
// partly written is always kept, so the file never holds half a line
// followed by another; a whole line is dropped when it does not fit.
func (s *Writer) keepLocked(line []byte, rest bool) {
	if !rest && s.pendingBytes+len(line) > s.opts.MaxPendingBytes {
		if s.opts.Observer != nil {
			s.opts.Observer.AuditEventsDropped(1)
		}
		return
	}
	s.pending = append(s.pending, append([]byte(nil), line...))
	s.pendingBytes += len(line)
}

// setHealthLocked records the outcome of a write: healthy once a write
// succeeded with nothing left to retry.
func (s *Writer) setHealthLocked(ok bool) {
	ok = ok && len(s.pending) == 0
	if s.healthy.Swap(ok) == ok {
		return
	}
	if s.opts.Observer != nil {
		s.opts.Observer.AuditSinkHealthy(ok)
	}
	if s.opts.Log != nil {
		if ok {
			s.opts.Log.Info("audit sink recovered", "file", s.file)
		} else {
			s.opts.Log.Error("audit sink failing", "file", s.file)
		}
	}
}

func (s *Writer) failed(err error, attrs ...any) {
	if s.opts.Observer != nil {
		s.opts.Observer.AuditWriteFailed()
	}
	if s.opts.Log != nil {
		s.opts.Log.Error("audit write failed", append(attrs, "error", err)...)
	}
}

// Pending returns the number of events (or rests of events) waiting for a
// retry.
func (s *Writer) Pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.pending)
}

// Retry reopens a failing sink's file and writes what it kept. With
// nothing kept it syncs the reopened file as a probe. A healthy sink is
// left alone.
func (s *Writer) Retry() error {
	if s.Healthy() {
		return nil
	}
	s.mu.Lock()
	file := s.file
	s.mu.Unlock()
	if file != "-" {
		if err := s.Reopen(file); err != nil {
			s.failed(err, "stage", "retry")
			return err
		}
	}
	s.mu.Lock()
	err := s.flushLocked()
	t := s.t
	if err == nil && t.syncable {
		err = t.f.Sync()
	}
	s.setHealthLocked(err == nil)
	s.mu.Unlock()
	if err != nil {
		err = fmt.Errorf("audit: retry: %w", err)
		s.failed(err, "stage", "retry")
	}
	return err
}

// Run retries a failing sink every interval until ctx ends.
func (s *Writer) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			_ = s.Retry()
		}
	}
}

// Close writes what is kept (one attempt), syncs and closes the file, if
// the sink opened one. Events still unwritten are counted as dropped and
// reported in the error. Later writes go nowhere, and Reopen and Retry do
// nothing.
func (s *Writer) Close() error {
	if s.flusher != nil {
		s.flusher.Stop()
	}
	s.mu.Lock()
	t := s.t
	var errs []error
	if err := s.flushLocked(); err != nil {
		lost := len(s.pending)
		if s.opts.Observer != nil {
			s.opts.Observer.AuditEventsDropped(lost)
		}
		errs = append(errs, fmt.Errorf("audit: %d events not written at close: %w", lost, err))
		s.pending, s.pendingBytes = nil, 0
	}
	s.t = newTarget(io.Discard, nil)
	s.closed = true
	s.mu.Unlock()
	if t.syncable {
		if err := t.f.Sync(); err != nil {
			errs = append(errs, fmt.Errorf("audit: sync: %w", err))
		}
	}
	if err := t.close(); err != nil {
		errs = append(errs, fmt.Errorf("audit: close: %w", err))
	}
	return errors.Join(errs...)
}
