package httpguard

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"testing"
	"testing/iotest"
	"time"
)

// scriptConn is a net.Conn that reads a fixed stream in pieces of at most
// step bytes, then io.EOF.
type scriptConn struct {
	data []byte
	step int
	out  bytes.Buffer
}

func (c *scriptConn) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	n := min(len(p), c.step, len(c.data))
	copy(p, c.data[:n])
	c.data = c.data[n:]
	return n, nil
}
func (c *scriptConn) Write(p []byte) (int, error)        { return c.out.Write(p) }
func (c *scriptConn) Close() error                       { return nil }
func (c *scriptConn) LocalAddr() net.Addr                { return &net.TCPAddr{} }
func (c *scriptConn) RemoteAddr() net.Addr               { return &net.TCPAddr{} }
func (c *scriptConn) SetDeadline(t time.Time) error      { return nil }
func (c *scriptConn) SetReadDeadline(t time.Time) error  { return nil }
func (c *scriptConn) SetWriteDeadline(t time.Time) error { return nil }

// seen is one request as net/http read it.
type seen struct {
	method, uri, body string
}

// readRequests reads requests from r the way net/http's server does,
// bodies included, until an error.
func readRequests(r io.Reader) []seen {
	br := bufio.NewReader(r)
	var out []seen
	for {
		req, err := http.ReadRequest(br)
		if err != nil {
			return out
		}
		body, err := io.ReadAll(req.Body)
		if err != nil {
			return out
		}
		out = append(out, seen{req.Method, req.RequestURI, string(body)})
	}
}

// guarded reads stream through a guarded connection that receives it in
// pieces of step bytes. With oneByte, every read of the guarded
// connection asks for one byte, as net/http's background read does.
func guarded(stream []byte, step int, oneByte bool) []seen {
	var r io.Reader = &conn{Conn: &scriptConn{data: stream, step: step}, lim: testLimits}
	if oneByte {
		r = iotest.OneByteReader(r)
	}
	return readRequests(r)
}

var streamCases = []struct {
	name   string
	stream string
	// want is what net/http reads through the guard: the request URIs,
	// "refused" for a stand-in.
	want []string
}{
	{"pipelined", "GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\n", []string{"/1", "/2"}},
	{"bodies", "POST /1 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhelloPOST /2 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\nGET /3 HTTP/1.1\r\nHost: x\r\n\r\n", []string{"/1", "/2", "/3"}},
	{"CL.TE smuggling", "POST /1 HTTP/1.1\r\nHost: x\r\nContent-Length: 35\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n", []string{"refused"}},
	{"TE.CL smuggling", "POST /1 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n5c\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n0\r\n\r\n", []string{"refused"}},
	{"good then smuggled", "GET /1 HTTP/1.1\r\nHost: x\r\n\r\nPOST /2 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabcGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n", []string{"/1", "refused"}},
	{"obs-fold hides TE", "POST /1 HTTP/1.1\r\nHost: x\r\nX: y\r\n Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\nabc", []string{"refused"}},
	{"bad chunk ends the connection", "POST /1 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3 \r\nabc\r\n0\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\n", nil},
	{"reserved method", "RAYGATE-REFUSED / HTTP/1.1\r\nHost: x\r\nRaygate-Refusal: forged 200 ok\r\n\r\n", []string{"refused"}},
}

func TestStream(t *testing.T) {
	for _, tc := range streamCases {
		t.Run(tc.name, func(t *testing.T) {
			for _, step := range []int{1, 7, 4096, -1} {
				var got []string
				// step -1: the whole stream at once, read a byte at a time.
				oneByte := step < 0
				if oneByte {
					step = 1 << 20
				}
				for _, s := range guarded([]byte(tc.stream), step, oneByte) {
					if s.method == refusedMethod {
						got = append(got, "refused")
						continue
					}
					got = append(got, s.uri)
				}
				if len(got) != len(tc.want) {
					t.Fatalf("step %d: net/http read %v, want %v", step, got, tc.want)
				}
				for i := range got {
					if got[i] != tc.want[i] {
						t.Fatalf("step %d: net/http read %v, want %v", step, got, tc.want)
					}
				}
			}
		})
	}
}

func TestStandInCarriesTheRefusal(t *testing.T) {
	reqs := guarded([]byte("POST /clusters/a/b/x HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n"), 4096, false)
	if len(reqs) != 1 {
		t.Fatalf("read %v", reqs)
	}
	br := bufio.NewReader(bytes.NewReader((&Refusal{Status: 400, Reason: "both Content-Length and Transfer-Encoding", Method: "POST", Target: "/clusters/a/b/x"}).standIn()))
	req, err := http.ReadRequest(br)
	if err != nil {
		t.Fatal(err)
	}
	ref, ok := Refused(req)
	if !ok || ref.Status != 400 || ref.Reason != "both Content-Length and Transfer-Encoding" || ref.Method != "POST" || ref.Target != "/clusters/a/b/x" {
		t.Fatalf("Refused = %+v, %v", ref, ok)
	}
	// A client cannot forge one.
	forged, _ := http.ReadRequest(bufio.NewReader(bytes.NewReader([]byte("RAYGATE-REFUSED / HTTP/1.1\r\nHost: x\r\nRaygate-Refusal: 0123 200 fine\r\n\r\n"))))
	if ref, ok := Refused(forged); !ok || ref.Status != 400 || ref.Reason != "reserved method" {
		t.Fatalf("forged stand-in: %+v, %v", ref, ok)
	}
	plain, _ := http.NewRequest("GET", "/", nil)
	if _, ok := Refused(plain); ok {
		t.Fatal("a plain request counts as refused")
	}
}

func TestEscape(t *testing.T) {
	for in, want := range map[string]string{
		"/a/b?c=d":      "/a/b?c=d",
		"/a b\x00\xff%": "/a%20b%00%FF%25",
	} {
		if got := escape([]byte(in), 100); got != want {
			t.Errorf("escape(%q) = %q, want %q", in, got, want)
		}
	}
	if got := escape(bytes.Repeat([]byte{0xff}, 100), 10); got != "%FF%FF%FF..." {
		t.Errorf("escape long = %q", got)
	}
}

// FuzzStream checks the guard against net/http on any stream of bytes,
// delivered in any piece size and read in pieces of any size (the high
// bit of step: a byte at a time): what net/http reads through the guard is
// exactly what it reads from the raw stream, request for request, up to
// the first request the guard refuses, which becomes one stand-in, the
// last thing read. So the guard never changes where a request starts or
// ends; it only stops early.
func FuzzStream(f *testing.F) {
	for _, tc := range streamCases {
		f.Add(tc.stream, uint8(7))
	}
	for _, tc := range headCases {
		f.Add(tc.head, uint8(3))
	}
	f.Fuzz(func(t *testing.T, stream string, step uint8) {
		got := guarded([]byte(stream), int(step%64)+1, step&0x80 != 0)
		raw := readRequests(bytes.NewReader([]byte(stream)))
		for i, s := range got {
			if s.method == refusedMethod {
				if i != len(got)-1 {
					t.Fatalf("requests after a stand-in: %v", got)
				}
				break
			}
			if i >= len(raw) || s != raw[i] {
				t.Fatalf("through the guard request %d is %+v; raw: %+v", i, s, raw)
			}
		}
	})
}

func TestBodyErrorIsFinal(t *testing.T) {
	c := &conn{Conn: &scriptConn{data: []byte("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"), step: 4096}, lim: testLimits}
	br := bufio.NewReader(c)
	req, err := http.ReadRequest(br)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(req.Body); err == nil {
		t.Fatal("malformed chunk read without error")
	}
	if _, err := c.Read(make([]byte, 10)); !errors.Is(err, errChunked) {
		t.Fatalf("read after a broken body: %v", err)
	}
}

// countingReads counts the reads of a scriptConn.
type countingReads struct {
	scriptConn
	reads int
}

func (c *countingReads) Read(p []byte) (int, error) {
	c.reads++
	return c.scriptConn.Read(p)
}

// TestSmallReadsReadTheSocketInBulk: net/http's background read asks for
// one byte; the guard still reads a head that has arrived whole with one
// read of the socket, not one per byte, and holds no buffer once it has
// handed the head over.
func TestSmallReadsReadTheSocketInBulk(t *testing.T) {
	sc := &countingReads{scriptConn: scriptConn{data: benchHead, step: 1 << 20}}
	c := &conn{Conn: sc, lim: wideLimits}
	got := make([]byte, 0, len(benchHead))
	b := make([]byte, 1)
	for len(got) < len(benchHead) {
		n, err := c.Read(b)
		if err != nil {
			t.Fatalf("after %d bytes: %v", len(got), err)
		}
		got = append(got, b[:n]...)
	}
	if !bytes.Equal(got, benchHead) {
		t.Fatalf("read %q", got)
	}
	if sc.reads != 1 {
		t.Fatalf("%d reads of the socket for a %d-byte head read a byte at a time, want 1", sc.reads, len(benchHead))
	}
	if c.buf != nil {
		t.Fatal("a buffer is held after the head was handed over")
	}
}
