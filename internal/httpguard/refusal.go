package httpguard

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
)

// Refusal is a request the guard refuses: the status to answer and why.
type Refusal struct {
	// Status is the HTTP status of the answer (400, 414, 431, 505, or 503
	// when the listener holds too many heads still arriving).
	Status int
	// Reason says what was wrong; it holds nothing the client sent.
	Reason string
	// Method and Target are the refused request's method and target as far
	// as they could be read, percent-escaped and shortened, for the audit
	// log; "" when unknown.
	Method, Target string
}

func refuse(status int, reason string) *Refusal {
	return &Refusal{Status: status, Reason: reason}
}

// refusedMethod is the method of the request the guard hands net/http in
// place of a refused one. A client cannot send it: the guard refuses it
// like any other ambiguity.
const refusedMethod = "RAYGATE-REFUSED"

// Headers of the stand-in request.
const (
	headerRefusal = "Raygate-Refusal"
	headerRefused = "Raygate-Refused-Request"
)

// token proves that a stand-in request comes from this process's guard,
// also when the handler is served without it (tests).
var token = func() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}()

// standIn is the request net/http reads in place of a refused one: the
// handler answers it (Refused tells it so), and the connection closes.
func (r *Refusal) standIn() []byte {
	var b bytes.Buffer
	b.WriteString(refusedMethod + " / HTTP/1.1\r\nHost: raygate.invalid\r\nConnection: close\r\n")
	b.WriteString(headerRefusal + ": " + token + " " + strconv.Itoa(r.Status) + " " + r.Reason + "\r\n")
	if r.Method != "" || r.Target != "" {
		b.WriteString(headerRefused + ": " + r.Method + " " + r.Target + "\r\n")
	}
	b.WriteString("\r\n")
	return b.Bytes()
}

// Refused reports whether r stands in for a request the guard refused,
// and returns the refusal. The handler answers it with Refusal.Status and
// closes the connection.
func Refused(r *http.Request) (*Refusal, bool) {
	if r.Method != refusedMethod {
		return nil, false
	}
	v := r.Header.Get(headerRefusal)
	tok, rest, _ := strings.Cut(v, " ")
	code, reason, _ := strings.Cut(rest, " ")
	status, err := strconv.Atoi(code)
	if tok != token || err != nil || status < 400 || status > 599 {
		// A client spelled the method without the guard in front: refuse
		// it all the same, as a reserved method.
		return &Refusal{Status: http.StatusBadRequest, Reason: "reserved method"}, true
	}
	ref := &Refusal{Status: status, Reason: reason}
	ref.Method, ref.Target, _ = strings.Cut(r.Header.Get(headerRefused), " ")
	return ref, true
}

// maxDescribed bounds the target recorded for a refused request.
const maxDescribed = 512

// describe fills in the method and target of a refused head, as far as
// its request line can be read.
func (r *Refusal) describe(head []byte) *Refusal {
	line := head
	if i := bytes.IndexAny(line, "\r\n"); i >= 0 {
		line = line[:i]
	}
	method, rest, ok := bytes.Cut(line, []byte(" "))
	if !ok || !isToken(method) || len(method) > requestLineSlack {
		return r
	}
	r.Method = string(method)
	target, _, _ := bytes.Cut(rest, []byte(" "))
	r.Target = escape(target, maxDescribed)
	return r
}

// escape percent-escapes every byte outside printable ASCII (and '%'),
// up to max bytes of output.
func escape(b []byte, max int) string {
	const hexDigits = "0123456789ABCDEF"
	out := make([]byte, 0, min(len(b), max))
	for _, c := range b {
		if len(out)+3 > max {
			return string(out) + "..."
		}
		if c > ' ' && c < 0x7f && c != '%' {
			out = append(out, c)
			continue
		}
		out = append(out, '%', hexDigits[c>>4], hexDigits[c&15])
	}
	return string(out)
}
