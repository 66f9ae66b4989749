package httpguard

import (
	"bufio"
	"bytes"
	"net/http"
	"strings"
	"testing"
	"time"
)

var testLimits = Limits{MaxRequestTarget: 64, MaxHeaderBytes: 256, HeaderTimeout: time.Minute, BodyTimeout: time.Minute}

var headCases = []struct {
	name string
	head string
	// status and reason of the refusal; status 0 when accepted.
	status  int
	reason  string
	chunked bool
	length  int64
}{
	{name: "get", head: "GET /a HTTP/1.1\r\nHost: x\r\n\r\n"},
	{name: "http/1.0 without host", head: "GET /a HTTP/1.0\r\n\r\n"},
	{name: "content-length", head: "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 12\r\n\r\n", length: 12},
	{name: "content-length with spaces", head: "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length:  12 \r\n\r\n", length: 12},
	{name: "chunked", head: "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked\r\n\r\n", chunked: true},
	{name: "absolute form", head: "GET http://evil.example/clusters/team-b/ray1/ HTTP/1.1\r\nHost: x\r\n\r\n"},
	{name: "lowercase method passes the guard", head: "get /a HTTP/1.1\r\nHost: x\r\n\r\n"},
	{name: "connect passes the guard", head: "CONNECT ray:8265 HTTP/1.1\r\nHost: ray:8265\r\n\r\n"},
	{name: "obs-text in a value", head: "GET /a HTTP/1.1\r\nHost: x\r\nX-Name: caf\xc3\xa9\r\n\r\n"},

	{name: "CL and TE", head: "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n", status: 400, reason: "both Content-Length and Transfer-Encoding"},
	{name: "TE and CL", head: "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 6\r\n\r\n", status: 400, reason: "both Content-Length and Transfer-Encoding"},
	{name: "two equal content-lengths", head: "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\nContent-Length: 6\r\n\r\n", status: 400, reason: "more than one Content-Length"},
	{name: "content-length list", head: "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 6, 6\r\n\r\n", status: 400, reason: "Content-Length is not a plain decimal number"},
	{name: "signed content-length", head: "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: +6\r\n\r\n", status: 400, reason: "Content-Length is not a plain decimal number"},
	{name: "hex content-length", head: "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 0x6\r\n\r\n", status: 400, reason: "Content-Length is not a plain decimal number"},
	{name: "empty content-length", head: "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length:\r\n\r\n", status: 400, reason: "Content-Length is not a plain decimal number"},
	{name: "huge content-length", head: "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n", status: 400, reason: "Content-Length is not a plain decimal number"},
	{name: "two transfer-encodings", head: "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", status: 400, reason: "more than one Transfer-Encoding"},
	{name: "te list", head: "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", status: 400, reason: "Transfer-Encoding other than chunked"},
	{name: "te identity", head: "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: identity\r\n\r\n", status: 400, reason: "Transfer-Encoding other than chunked"},
	{name: "te xchunked", head: "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n", status: 400, reason: "Transfer-Encoding other than chunked"},
	{name: "te on http/1.0", head: "POST /a HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", status: 400, reason: "Transfer-Encoding on HTTP/1.0"},
	{name: "obs-fold", head: "GET /a HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n Transfer-Encoding: chunked\r\n\r\n", status: 400, reason: "header line folded onto the previous one (obs-fold)"},
	{name: "obs-fold with tab", head: "GET /a HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n\tmore\r\n\r\n", status: 400, reason: "header line folded onto the previous one (obs-fold)"},
	{name: "space before colon", head: "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n", status: 400, reason: "malformed header field name"},
	{name: "no colon", head: "GET /a HTTP/1.1\r\nHost: x\r\nbogus\r\n\r\n", status: 400, reason: "malformed header field name"},
	{name: "NUL in a value", head: "GET /a HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n", status: 400, reason: "control character in a header value"},
	{name: "two hosts", head: "GET /a HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n", status: 400, reason: "more than one Host"},
	{name: "http/2 preface", head: "PRI * HTTP/2.0\r\n\r\n", status: 400, reason: "asterisk-form request target"},
	{name: "http/1.2", head: "GET /a HTTP/1.2\r\nHost: x\r\n\r\n", status: 505, reason: "HTTP version other than 1.0 and 1.1"},
	{name: "http/2.0", head: "GET /a HTTP/2.0\r\nHost: x\r\n\r\n", status: 505, reason: "HTTP version other than 1.0 and 1.1"},
	{name: "lowercase version", head: "GET /a http/1.1\r\nHost: x\r\n\r\n", status: 400, reason: "malformed request line"},
	{name: "two spaces", head: "GET  /a HTTP/1.1\r\nHost: x\r\n\r\n", status: 400, reason: "space or control character in the request target"},
	{name: "space in target", head: "GET /a b HTTP/1.1\r\nHost: x\r\n\r\n", status: 400, reason: "space or control character in the request target"},
	{name: "tab in target", head: "GET /a\tb HTTP/1.1\r\nHost: x\r\n\r\n", status: 400, reason: "space or control character in the request target"},
	{name: "method not a token", head: "G(T /a HTTP/1.1\r\nHost: x\r\n\r\n", status: 400, reason: "method is not a token"},
	{name: "reserved method", head: "RAYGATE-REFUSED / HTTP/1.1\r\nHost: x\r\n\r\n", status: 400, reason: "reserved method"},
	{name: "options *", head: "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n", status: 400, reason: "asterisk-form request target"},
	{name: "target over the limit", head: "GET /" + strings.Repeat("a", 64) + " HTTP/1.1\r\nHost: x\r\n\r\n", status: 414, reason: "request target over 64 bytes"},
	{name: "headers over the limit", head: "GET /a HTTP/1.1\r\nHost: x\r\nX-A: " + strings.Repeat("a", 256) + "\r\n\r\n", status: 431, reason: "request headers over 256 bytes"},
}

func TestCheckHead(t *testing.T) {
	for _, tc := range headCases {
		t.Run(tc.name, func(t *testing.T) {
			f, ref := CheckHead([]byte(tc.head), testLimits)
			if tc.status != 0 {
				if ref == nil || ref.Status != tc.status || ref.Reason != tc.reason {
					t.Fatalf("refusal %+v, want %d %q", ref, tc.status, tc.reason)
				}
				return
			}
			if ref != nil {
				t.Fatalf("refused: %+v", ref)
			}
			if f.Chunked != tc.chunked || f.Length != tc.length {
				t.Fatalf("framing %+v", f)
			}
		})
	}
}

// TestScanHead checks where heads end and what is refused before the end
// arrives.
func TestScanHead(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		end      int
		status   int
		reason   string
	}{
		{"complete", "GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /next", 27, 0, ""},
		{"incomplete", "GET / HTTP/1.1\r\nHost: x\r\n", 0, 0, ""},
		{"ends in CR", "GET / HTTP/1.1\r", 0, 0, ""},
		{"bare LF", "GET / HTTP/1.1\nHost: x\n\n", 0, 400, "bare LF in the request head"},
		{"bare LF in a header", "GET / HTTP/1.1\r\nHost: x\n\r\n", 0, 400, "bare LF in the request head"},
		{"bare CR", "GET / HTTP/1.1\rHost: x\r\n\r\n", 0, 400, "bare CR in the request head"},
		{"empty request line", "\r\nGET / HTTP/1.1\r\n\r\n", 0, 400, "empty request line"},
		{"endless request line", "GET /" + strings.Repeat("a", 100), 0, 414, "request target over 64 bytes"},
		{"endless headers", "GET / HTTP/1.1\r\nX: " + strings.Repeat("a", 300), 0, 431, "request headers over 256 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Fed byte by byte or whole: the answer must not depend on how
			// the bytes arrive.
			end, ref := scanInSteps([]byte(tc.in), 1)
			if wEnd, wRef := scanInSteps([]byte(tc.in), len(tc.in)); wEnd != end || !sameRefusal(wRef, ref) {
				t.Fatalf("whole: end %d refusal %+v; byte by byte: end %d refusal %+v", wEnd, wRef, end, ref)
			}
			if tc.status != 0 {
				if ref == nil || ref.Status != tc.status || ref.Reason != tc.reason {
					t.Fatalf("refusal %+v, want %d %q", ref, tc.status, tc.reason)
				}
				return
			}
			if ref != nil || end != tc.end {
				t.Fatalf("end %d refusal %+v, want end %d", end, ref, tc.end)
			}
		})
	}
}

// scanInSteps scans in as it would arrive in pieces of step bytes.
func scanInSteps(in []byte, step int) (int, *Refusal) {
	var s headScanner
	for i := min(step, len(in)); ; i = min(i+step, len(in)) {
		if end, ref := s.scan(in[:i], testLimits); end != 0 || ref != nil || i == len(in) {
			return end, ref
		}
	}
}

func sameRefusal(a, b *Refusal) bool {
	return (a == nil) == (b == nil) && (a == nil || a.Status == b.Status && a.Reason == b.Reason)
}

func sizeRefusal(r *Refusal) bool {
	return r != nil && (r.Status == http.StatusRequestURITooLong || r.Status == http.StatusRequestHeaderFieldsTooLarge)
}

// FuzzScanHead checks the head scanner on any bytes, arriving in pieces of
// any size: the answer does not depend on the pieces (but for when a
// size limit shows); a head it finds ends
// at the first empty line, with every line ended by CRLF and no CR or LF
// elsewhere; a bare CR or LF it refuses is there; and when it waits for
// more, no head has ended yet.
func FuzzScanHead(f *testing.F) {
	for _, tc := range headCases {
		f.Add(tc.head, uint8(1))
	}
	f.Add("GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /next", uint8(5))
	f.Add("GET / HTTP/1.1\rHost: x\r\n\r\n", uint8(15))
	f.Fuzz(func(t *testing.T, in string, step uint8) {
		b := []byte(in)
		end, ref := scanInSteps(b, len(b))
		// Sizes are checked where the scanner waits for more, so a head
		// over a limit may be refused early or late (or, whole, be left
		// to CheckHead), depending on where pieces end.
		pEnd, pRef := scanInSteps(b, int(step)+1)
		if !sizeRefusal(pRef) && !sizeRefusal(ref) && (pEnd != end || !sameRefusal(pRef, ref)) {
			t.Fatalf("whole: end %d refusal %+v; in pieces of %d: end %d refusal %+v", end, ref, int(step)+1, pEnd, pRef)
		}
		crlfOnly := func(b []byte) bool {
			n := bytes.Count(b, crlf)
			return bytes.Count(b, []byte("\r")) == n && bytes.Count(b, []byte("\n")) == n
		}
		switch {
		case end > 0:
			head := b[:end]
			if !crlfOnly(head) || bytes.Index(head, []byte("\r\n\r\n")) != end-4 || bytes.HasPrefix(head, crlf) {
				t.Fatalf("found a head of %d bytes in %q", end, b)
			}
		case ref == nil:
			if bytes.Contains(b, []byte("\r\n\r\n")) || !crlfOnly(bytes.TrimSuffix(b, []byte("\r"))) {
				t.Fatalf("waits for more after %q", b)
			}
		case ref.Reason == "bare CR in the request head":
			if bytes.Count(bytes.TrimSuffix(b, []byte("\r")), []byte("\r")) == bytes.Count(b, crlf) {
				t.Fatalf("refused a bare CR in %q", b)
			}
		case ref.Reason == "bare LF in the request head":
			if bytes.Count(b, []byte("\n")) == bytes.Count(b, crlf) {
				t.Fatalf("refused a bare LF in %q", b)
			}
		}
	})
}

// FuzzCheckHead checks that a head the guard accepts is read by net/http
// with the same method, target and framing, so the guard and net/http
// always agree on where the body ends.
func FuzzCheckHead(f *testing.F) {
	for _, tc := range headCases {
		f.Add(tc.head)
	}
	f.Fuzz(func(t *testing.T, head string) {
		var s headScanner
		end, ref := s.scan([]byte(head), testLimits)
		if ref != nil || end != len(head) {
			return // not exactly one complete head
		}
		fr, ref := CheckHead([]byte(head), testLimits)
		if ref != nil {
			if ref.Status < 400 || ref.Status > 599 || strings.ContainsAny(ref.Reason, "\r\n") {
				t.Fatalf("bad refusal %+v", ref)
			}
			return
		}
		req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(head)))
		if err != nil {
			return // net/http is stricter here (it refuses on its own)
		}
		line, _, _ := strings.Cut(head, "\r\n")
		if want := req.Method + " " + req.RequestURI + " " + req.Proto; line != want {
			t.Fatalf("net/http reads the request line %q as %q", line, want)
		}
		chunked := len(req.TransferEncoding) > 0
		if chunked != fr.Chunked || (!chunked && req.ContentLength != fr.Length) {
			t.Fatalf("net/http frames %v/%d, the guard %v/%d", req.TransferEncoding, req.ContentLength, fr.Chunked, fr.Length)
		}
		if bytes.Contains([]byte(head), []byte("\r\n ")) || bytes.Contains([]byte(head), []byte("\r\n\t")) {
			t.Fatal("accepted obs-fold")
		}
	})
}

// controlFree is noControl's definition, a byte at a time.
func controlFree(v []byte) bool {
	for _, c := range v {
		if c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// TestNoControl puts every byte value at every place of values of every
// length up to three words, among ordinary bytes (and high ones, which
// header values may hold): noControl answers as controlFree does.
func TestNoControl(t *testing.T) {
	for _, fill := range []byte{'a', 0x80, 0xff, ' ', '\t'} {
		for n := 1; n <= 24; n++ {
			v := bytes.Repeat([]byte{fill}, n)
			for i := 0; i < n; i++ {
				for c := 0; c < 256; c++ {
					v[i] = byte(c)
					if got, want := noControl(v), controlFree(v); got != want {
						t.Fatalf("noControl(%q) = %v, want %v", v, got, want)
					}
				}
				v[i] = fill
			}
		}
	}
}

func FuzzNoControl(f *testing.F) {
	f.Add([]byte("Bearer eyJhbGciOiJSUzI1NiJ9.e30.c2ln"))
	f.Add([]byte("a\tb\x7fcdefghijk\x1f"))
	f.Fuzz(func(t *testing.T, v []byte) {
		if got, want := noControl(v), controlFree(v); got != want {
			t.Fatalf("noControl(%q) = %v, want %v", v, got, want)
		}
	})
}
