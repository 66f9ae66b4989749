package httpguard

import (
	"bufio"
	"io"
	"net/http"
	"strings"
	"testing"
)

var chunkCases = []struct {
	name, body string
	// n is where the body ends; -1 when it is refused, 0 when incomplete.
	n int
}{
	{"one chunk", "5\r\nhello\r\n0\r\n\r\n", 15},
	{"two chunks then more", "2\r\nhe\r\n3\r\nllo\r\n0\r\n\r\nGET /next", 20},
	{"upper hex", "A\r\n0123456789\r\n0\r\n\r\n", 20},
	{"extension", "5;name=value\r\nhello\r\n0;x\r\n\r\n", 28},
	{"trailer", "5\r\nhello\r\n0\r\nX-Sum: 1\r\nX-Other: a b\r\n\r\n", 39},
	{"zeros", "000\r\n\r\n", 7},
	{"incomplete data", "5\r\nhel", 0},
	{"incomplete trailer", "0\r\nX-Sum: 1\r\n", 0},
	{"bare LF after size", "5\nhello\r\n0\r\n\r\n", -1},
	{"bare LF after data", "5\r\nhello\n0\r\n\r\n", -1},
	{"data longer than said", "5\r\nhello!\r\n0\r\n\r\n", -1},
	{"space before CRLF", "5 \r\nhello\r\n0\r\n\r\n", -1},
	{"space before extension", "5 ;x\r\nhello\r\n0\r\n\r\n", -1},
	{"no digits", "\r\nhello\r\n0\r\n\r\n", -1},
	{"extension without size", ";x\r\n", -1},
	{"sign", "+5\r\nhello\r\n0\r\n\r\n", -1},
	{"hex prefix", "0x5\r\nhello\r\n0\r\n\r\n", -1},
	{"17 hex digits", "00000000000000005\r\nhello\r\n0\r\n\r\n", -1},
	{"control char in extension", "5;\x00\r\nhello\r\n0\r\n\r\n", -1},
	{"obs-fold in trailer", "0\r\nX-A: 1\r\n folded\r\n\r\n", -1},
	{"trailer without colon", "0\r\nbogus\r\n\r\n", -1},
	{"content-length trailer", "0\r\nContent-Length: 5\r\n\r\n", -1},
	{"transfer-encoding trailer", "0\r\ntransfer-encoding: chunked\r\n\r\n", -1},
	{"host trailer", "0\r\nHost: other\r\n\r\n", -1},
	{"long trailer name", "0\r\nX-A-Very-Long-Trailer-Name-Indeed: 1\r\n\r\n", 43},
}

func TestChunkScanner(t *testing.T) {
	for _, tc := range chunkCases {
		t.Run(tc.name, func(t *testing.T) {
			// Whole, and byte by byte: the same answer.
			for _, step := range []int{len(tc.body), 1} {
				var s chunkScanner
				got, done := 0, false
				var err error
				for got < len(tc.body) && !done && err == nil {
					end := min(got+step, len(tc.body))
					var k int
					k, done, err = s.scan([]byte(tc.body[got:end]))
					got += k
				}
				switch {
				case tc.n == -1:
					if err == nil {
						t.Fatalf("step %d: accepted", step)
					}
				case err != nil:
					t.Fatalf("step %d: %v", step, err)
				case tc.n == 0 && done, tc.n > 0 && (!done || got != tc.n):
					t.Fatalf("step %d: done %v at %d, want %d", step, done, got, tc.n)
				}
			}
		})
	}
}

// FuzzChunkScanner checks that wherever the scanner says a chunked body
// ends, net/http's body reader ends there too: the request that follows
// is read by net/http intact.
func FuzzChunkScanner(f *testing.F) {
	for _, tc := range chunkCases {
		f.Add(tc.body)
	}
	f.Fuzz(func(t *testing.T, body string) {
		var s chunkScanner
		n, done, err := s.scan([]byte(body))
		if err != nil || !done {
			return
		}
		stream := "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + body[:n] + "GET /next HTTP/1.1\r\nHost: x\r\n\r\n"
		br := bufio.NewReader(strings.NewReader(stream))
		req, err := http.ReadRequest(br)
		if err != nil {
			t.Fatalf("net/http refuses the head: %v", err)
		}
		if _, err := io.Copy(io.Discard, req.Body); err != nil {
			return // net/http is stricter (e.g. too much chunk overhead): it closes
		}
		next, err := http.ReadRequest(br)
		if err != nil || next.RequestURI != "/next" {
			t.Fatalf("after the body %q net/http reads %v, %v", body[:n], next, err)
		}
	})
}
