package httpguard

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"testing"
)

// benchStream is a typical request head (a Ray CLI call with a bearer
// token), many times over.
var benchHead = []byte("GET /clusters/team-a/ray1/api/jobs/raysubmit_Ab3XyZ9kLmNpQrSt HTTP/1.1\r\nHost: raygate.example.com\r\n" +
	"User-Agent: python-requests/2.32.3\r\nAccept-Encoding: gzip, deflate\r\nAccept: */*\r\nConnection: keep-alive\r\n" +
	"Authorization: Bearer eyJhbGciOiJSUzI1NiIsImtpZCI6ImFiYyJ9.eyJpc3MiOiJodHRwczovL2lkcC5leGFtcGxlLmNvbSIsInN1YiI6ImFsaWNlIn0.c2lnbmF0dXJl\r\n\r\n")

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
