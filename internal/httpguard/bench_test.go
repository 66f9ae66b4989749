package httpguard

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
)

// benchHead is a typical request head: a Ray CLI call with an OIDC ID
// token (RS256: a 342-character signature) as its bearer token.
var benchHead = []byte("GET /clusters/team-a/ray1/api/jobs/raysubmit_Ab3XyZ9kLmNpQrSt HTTP/1.1\r\nHost: raygate.example.com\r\n" +
	"User-Agent: python-requests/2.32.3\r\nAccept-Encoding: gzip, deflate\r\nAccept: */*\r\nConnection: keep-alive\r\n" +
	"Authorization: Bearer eyJhbGciOiJSUzI1NiIsImtpZCI6ImFiYyJ9." + strings.Repeat("eyJpc3MiOiJodHRwczovL2lkcC5leGFtcGxlLmNvbSIsInN1YiI6ImFsaWNlIn0", 5) +
	"." + strings.Repeat("c2lnbmF0dXJl", 28) + "Ab\r\n\r\n")

// readAllRequests reads n requests from r as net/http's server would.
func readAllRequests(b *testing.B, r io.Reader, n int) {
	br := bufio.NewReader(r)
	for i := 0; i < n; i++ {
		req, err := http.ReadRequest(br)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, req.Body)
	}
}

// BenchmarkParseBare and BenchmarkParseGuarded read the same pipelined
// heads with net/http's parser, without and through the guard; the
// difference is the guard's cost per request.
func BenchmarkParseBare(b *testing.B) {
	stream := bytes.Repeat(benchHead, 100)
	b.SetBytes(int64(len(benchHead)))
	b.ReportAllocs()
	for i := 0; i < b.N; i += 100 {
		readAllRequests(b, &scriptConn{data: stream, step: 1 << 20}, 100)
	}
}

func BenchmarkParseGuarded(b *testing.B) {
	stream := bytes.Repeat(benchHead, 100)
	b.SetBytes(int64(len(benchHead)))
	b.ReportAllocs()
	for i := 0; i < b.N; i += 100 {
		readAllRequests(b, &conn{Conn: &scriptConn{data: stream, step: 1 << 20}, lim: wideLimits}, 100)
	}
}

// BenchmarkScanHead finds where the head ends, as the guard does before
// it hands a head over.
func BenchmarkScanHead(b *testing.B) {
	b.SetBytes(int64(len(benchHead)))
	b.ReportAllocs()
	for b.Loop() {
		var s headScanner
		if end, ref := s.scan(benchHead, wideLimits); end != len(benchHead) || ref != nil {
			b.Fatal(end, ref)
		}
	}
}

// BenchmarkCheckHead checks the head's request line, fields and framing.
func BenchmarkCheckHead(b *testing.B) {
	b.SetBytes(int64(len(benchHead)))
	b.ReportAllocs()
	for b.Loop() {
		if _, ref := CheckHead(benchHead, wideLimits); ref != nil {
			b.Fatal(ref)
		}
	}
}

// TestHeadCheckAllocations: finding a head's end and checking it
// allocate nothing (a refusal does, for its reason).
func TestHeadCheckAllocations(t *testing.T) {
	if n := testing.AllocsPerRun(100, func() {
		var s headScanner
		if end, ref := s.scan(benchHead, wideLimits); end != len(benchHead) || ref != nil {
			t.Fatal(end, ref)
		}
		if _, ref := CheckHead(benchHead, wideLimits); ref != nil {
			t.Fatal(ref)
		}
	}); n != 0 {
		t.Fatalf("checking a head allocates %.1f times, want 0", n)
	}
}
