package httpguard

import (
	"bytes"
	"encoding/binary"
	"net/http"
	"strconv"
)

// Framing is what a request head says about the bytes that follow it.
type Framing struct {
	// Chunked says the body is chunked; otherwise Length bytes follow.
	Chunked bool
	Length  int64
}

// headScanner finds the end of a request head in a growing buffer, line
// by line, refusing a bare CR or LF and a head over the limits as soon as
// it shows.
type headScanner struct {
	pos        int // next byte to look at
	lineStart  int // start of the line being scanned
	reqLineEnd int // end of the request line (at its CR), 0 until seen
}

// scan looks at b (the head so far, from its first byte) from where it
// stopped last time. It returns the head's length including the empty
// line that ends it, or 0 when more bytes are needed. It jumps from one
// line feed to the next (bytes.IndexByte), and looks for a carriage
// return only in between: a CR must be the last byte before its LF.
func (s *headScanner) scan(b []byte, lim Limits) (int, *Refusal) {
	for s.pos < len(b) {
		seg := b[s.pos:]
		lf := bytes.IndexByte(seg, '\n')
		if lf >= 0 {
			seg = seg[:lf]
		}
		if cr := bytes.IndexByte(seg, '\r'); cr >= 0 && (lf < 0 || cr != lf-1) {
			if lf < 0 && cr == len(seg)-1 {
				s.pos += cr
				return 0, s.checkSize(b, lim) // wait for the byte after the CR
			}
			return 0, refuse(http.StatusBadRequest, "bare CR in the request head")
		}
		if lf < 0 {
			s.pos = len(b)
			break
		}
		s.pos += lf
		if s.pos == 0 || b[s.pos-1] != '\r' {
			return 0, refuse(http.StatusBadRequest, "bare LF in the request head")
		}
		lineLen := s.pos - 1 - s.lineStart
		s.pos++
		if s.reqLineEnd == 0 {
			if lineLen == 0 {
				return 0, refuse(http.StatusBadRequest, "empty request line")
			}
			s.reqLineEnd = s.pos - 2
		} else if lineLen == 0 {
			if r := s.checkSize(b[:s.pos], lim); r != nil {
				return 0, r
			}
			return s.pos, nil
		}
		s.lineStart = s.pos
	}
	return 0, s.checkSize(b, lim)
}

// requestLineSlack is what a request line holds besides its target: the
// longest method raygate serves, two spaces and the version.
const requestLineSlack = 32

func (s *headScanner) checkSize(b []byte, lim Limits) *Refusal {
	if s.reqLineEnd == 0 {
		if len(b) > lim.MaxRequestTarget+requestLineSlack {
			return refuse(http.StatusRequestURITooLong, "request target over "+strconv.Itoa(lim.MaxRequestTarget)+" bytes")
		}
		return nil
	}
	if len(b)-s.reqLineEnd-2 > lim.MaxHeaderBytes {
		return refuse(http.StatusRequestHeaderFieldsTooLarge, "request headers over "+strconv.Itoa(lim.MaxHeaderBytes)+" bytes")
	}
	return nil
}

// CheckHead reads a complete request head (request line, header fields,
// empty line; every line ending in CRLF) and says how its body is framed.
// It refuses, with the status to answer:
//
//   - a request line that is not METHOD SP TARGET SP HTTP/1.x (400; 505
//     for another version), a method that is not a token or is raygate's
//     own, an asterisk-form target, a target over the limit (414);
//   - a header field that is not NAME ":" VALUE with a token name and no
//     control character in the value, or a line folded onto the previous
//     one (obs-fold) (400); a header section over the limit (431);
//   - ambiguous framing: Content-Length and Transfer-Encoding together,
//     Content-Length more than once or not a plain decimal,
//     Transfer-Encoding more than once, other than exactly "chunked", or
//     on HTTP/1.0; more than one Host (400).
//
// Anything it accepts frames the same way for Go's net/http, for the
// proxies in front of raygate and for Ray.
func CheckHead(head []byte, lim Limits) (Framing, *Refusal) {
	var f Framing
	lineEnd := bytes.Index(head, crlf)
	if lineEnd <= 0 {
		return f, refuse(http.StatusBadRequest, "no request line")
	}
	if r := parseRequestLine(head[:lineEnd], lim); r != nil {
		return f, r
	}
	http10 := bytes.HasSuffix(head[:lineEnd], []byte("HTTP/1.0"))
	rest := head[lineEnd+2:]
	if len(rest)-2 > lim.MaxHeaderBytes {
		return f, refuse(http.StatusRequestHeaderFieldsTooLarge, "request headers over "+strconv.Itoa(lim.MaxHeaderBytes)+" bytes")
	}
	var cl, te, host int
	for len(rest) > 0 {
		end := bytes.Index(rest, crlf)
		if end < 0 {
			return f, refuse(http.StatusBadRequest, "request head does not end with an empty line")
		}
		line := rest[:end]
		rest = rest[end+2:]
		if len(line) == 0 {
			if len(rest) != 0 {
				return f, refuse(http.StatusBadRequest, "data after the end of the request head")
			}
			break
		}
		name, value, r := parseField(line)
		if r != nil {
			return f, r
		}
		switch {
		case equalFold(name, "content-length"):
			cl++
			if cl > 1 {
				return f, refuse(http.StatusBadRequest, "more than one Content-Length")
			}
			n, ok := parseLength(value)
			if !ok {
				return f, refuse(http.StatusBadRequest, "Content-Length is not a plain decimal number")
			}
			f.Length = n
		case equalFold(name, "transfer-encoding"):
			te++
			if te > 1 {
				return f, refuse(http.StatusBadRequest, "more than one Transfer-Encoding")
			}
			if !equalFold(value, "chunked") {
				return f, refuse(http.StatusBadRequest, "Transfer-Encoding other than chunked")
			}
			f.Chunked = true
		case equalFold(name, "host"):
			host++
			if host > 1 {
				return f, refuse(http.StatusBadRequest, "more than one Host")
			}
		}
	}
	switch {
	case cl > 0 && te > 0:
		return f, refuse(http.StatusBadRequest, "both Content-Length and Transfer-Encoding")
	case te > 0 && http10:
		return f, refuse(http.StatusBadRequest, "Transfer-Encoding on HTTP/1.0")
	}
	return f, nil
}

var crlf = []byte("\r\n")

func parseRequestLine(line []byte, lim Limits) *Refusal {
	sp1 := bytes.IndexByte(line, ' ')
	if sp1 <= 0 {
		return refuse(http.StatusBadRequest, "malformed request line")
	}
	method := line[:sp1]
	rest := line[sp1+1:]
	sp2 := bytes.LastIndexByte(rest, ' ')
	if sp2 < 0 {
		return refuse(http.StatusBadRequest, "malformed request line")
	}
	target, version := rest[:sp2], rest[sp2+1:]
	if !isToken(method) {
		return refuse(http.StatusBadRequest, "method is not a token")
	}
	if string(method) == refusedMethod {
		return refuse(http.StatusBadRequest, "reserved method")
	}
	if len(target) > lim.MaxRequestTarget {
		return refuse(http.StatusRequestURITooLong, "request target over "+strconv.Itoa(lim.MaxRequestTarget)+" bytes")
	}
	if len(target) == 0 {
		return refuse(http.StatusBadRequest, "malformed request line")
	}
	for _, c := range target {
		if c <= ' ' || c == 0x7f {
			return refuse(http.StatusBadRequest, "space or control character in the request target")
		}
	}
	if string(target) == "*" {
		return refuse(http.StatusBadRequest, "asterisk-form request target")
	}
	switch string(version) {
	case "HTTP/1.1", "HTTP/1.0":
	default:
		if bytes.HasPrefix(version, []byte("HTTP/")) {
			return refuse(http.StatusHTTPVersionNotSupported, "HTTP version other than 1.0 and 1.1")
		}
		return refuse(http.StatusBadRequest, "malformed request line")
	}
	return nil
}

// parseField splits a header field line into name and value (without
// surrounding whitespace).
func parseField(line []byte) (name, value []byte, r *Refusal) {
	if line[0] == ' ' || line[0] == '\t' {
		return nil, nil, refuse(http.StatusBadRequest, "header line folded onto the previous one (obs-fold)")
	}
	colon := bytes.IndexByte(line, ':')
	if colon <= 0 || !isToken(line[:colon]) {
		return nil, nil, refuse(http.StatusBadRequest, "malformed header field name")
	}
	value = line[colon+1:]
	if !noControl(value) {
		return nil, nil, refuse(http.StatusBadRequest, "control character in a header value")
	}
	return line[:colon], trimOWS(value), nil
}

// noControl reports whether v holds no control character other than HTAB
// (DEL counts as one). It looks at eight bytes at a time while none of
// them can be one, and at each byte from the first word that may hold one
// (a tab, too) on.
func noControl(v []byte) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	for len(v) >= 8 {
		x := binary.LittleEndian.Uint64(v)
		del := x ^ 0x7f*ones
		// A byte below 0x20, or a byte equal to 0x7f, sets its high bit
		// (the classic "has less" and "has zero" word tests).
		if ((x-0x20*ones)&^x|(del-ones)&^del)&highs != 0 {
			break
		}
		v = v[8:]
	}
	for _, c := range v {
		if c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// trimOWS drops the spaces and tabs around v.
func trimOWS(v []byte) []byte {
	for len(v) > 0 && (v[0] == ' ' || v[0] == '\t') {
		v = v[1:]
	}
	for len(v) > 0 && (v[len(v)-1] == ' ' || v[len(v)-1] == '\t') {
		v = v[:len(v)-1]
	}
	return v
}

// maxLengthDigits bounds a Content-Length: 18 digits fit an int64.
const maxLengthDigits = 18

func parseLength(v []byte) (int64, bool) {
	if len(v) == 0 || len(v) > maxLengthDigits {
		return 0, false
	}
	var n int64
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// isToken reports whether b is an RFC 9110 token.
func isToken(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if !tchar[c] {
			return false
		}
	}
	return true
}

var tchar = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

func equalFold(b []byte, lower string) bool {
	if len(b) != len(lower) {
		return false
	}
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}
