package handshake

import (
	"errors"
	"net/http"
	"strings"
	"testing"
)

func header(pairs ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(pairs); i += 2 {
		h.Add(pairs[i], pairs[i+1])
	}
	return h
}

var good = []string{"Upgrade", "websocket", "Connection", "Upgrade", "Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version", "13"}

func with(pairs ...string) []string { return append(append([]string{}, good...), pairs...) }

func TestCheckWebSocket(t *testing.T) {
	for _, tc := range []struct {
		name, method string
		hdr          []string
		reason       string // "" when accepted
	}{
		{"a browser's handshake", "GET", good, ""},
		{"keep-alive, Upgrade and capitals", "GET", []string{"Upgrade", "WebSocket", "Connection", "keep-alive, Upgrade", "Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version", "13"}, ""},
		{"h2c", "GET", []string{"Upgrade", "h2c", "Connection", "Upgrade, HTTP2-Settings", "HTTP2-Settings", "AAMAAABkAAQAAP__"}, "the only upgrade accepted is one Upgrade: websocket"},
		{"two protocols", "GET", []string{"Upgrade", "websocket, h2c", "Connection", "Upgrade"}, "the only upgrade accepted is one Upgrade: websocket"},
		{"two Upgrade headers", "GET", with("Upgrade", "websocket"), "the only upgrade accepted is one Upgrade: websocket"},
		{"POST", "POST", good, "a WebSocket handshake must be a GET"},
		{"no Connection: Upgrade", "GET", []string{"Upgrade", "websocket", "Connection", "keep-alive", "Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version", "13"}, "a WebSocket handshake must have Connection: Upgrade"},
		{"no key", "GET", []string{"Upgrade", "websocket", "Connection", "Upgrade", "Sec-WebSocket-Version", "13"}, "a WebSocket handshake must have one Sec-WebSocket-Key"},
		{"two keys", "GET", with("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="), "a WebSocket handshake must have one Sec-WebSocket-Key"},
		{"short key", "GET", []string{"Upgrade", "websocket", "Connection", "Upgrade", "Sec-WebSocket-Key", "c2hvcnQ=", "Sec-WebSocket-Version", "13"}, "Sec-WebSocket-Key is not the base64 of 16 bytes"},
		{"key not base64", "GET", []string{"Upgrade", "websocket", "Connection", "Upgrade", "Sec-WebSocket-Key", "not base64 at all!!!!!!", "Sec-WebSocket-Version", "13"}, "Sec-WebSocket-Key is not the base64 of 16 bytes"},
		{"version 8", "GET", []string{"Upgrade", "websocket", "Connection", "Upgrade", "Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version", "8"}, "a WebSocket handshake must have Sec-WebSocket-Version: 13"},
		{"no version", "GET", []string{"Upgrade", "websocket", "Connection", "Upgrade", "Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="}, "a WebSocket handshake must have Sec-WebSocket-Version: 13"},
		{"version after a line feed", "GET", []string{"Upgrade", "websocket", "Connection", "Upgrade", "Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version", "\n13"}, "a WebSocket handshake must have Sec-WebSocket-Version: 13"},
		{"key with a line feed", "GET", []string{"Upgrade", "websocket", "Connection", "Upgrade", "Sec-WebSocket-Key", "dGhlIHNhbXBs\nZSBub25jZQ==", "Sec-WebSocket-Version", "13"}, "Sec-WebSocket-Key is not the base64 of 16 bytes"},
		{"upgrade after a vertical tab", "GET", []string{"Upgrade", "\vwebsocket", "Connection", "Upgrade", "Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version", "13"}, "the only upgrade accepted is one Upgrade: websocket"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckWebSocket(tc.method, header(tc.hdr...))
			var e *Error
			switch {
			case tc.reason == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.reason != "" && (!errors.As(err, &e) || e.Reason != tc.reason || !errors.Is(err, ErrNotWebSocket)):
				t.Fatalf("error %v, want reason %q", err, tc.reason)
			}
		})
	}
}

// FuzzCheckWebSocket: whatever the headers, an accepted handshake asks
// for a WebSocket only, with one 16-byte key and version 13.
func FuzzCheckWebSocket(f *testing.F) {
	f.Add("GET", "websocket", "Upgrade", "dGhlIHNhbXBsZSBub25jZQ==", "13")
	f.Add("GET", "h2c", "Upgrade, HTTP2-Settings", "", "")
	f.Add("GET", " WebSocket ", "keep-alive,upgrade", "AAAAAAAAAAAAAAAAAAAAAA==", " 13 ")
	f.Fuzz(func(t *testing.T, method, upgrade, connection, key, version string) {
		h := header("Upgrade", upgrade, "Connection", connection, "Sec-WebSocket-Key", key, "Sec-WebSocket-Version", version)
		if CheckWebSocket(method, h) != nil {
			return
		}
		if method != "GET" || !hasToken([]string{connection}, "upgrade") {
			t.Fatalf("accepted %q with Connection %q", method, connection)
		}
		if u := strings.ToLower(strings.Trim(upgrade, " \t")); u != "websocket" {
			t.Fatalf("accepted Upgrade %q", upgrade)
		}
		if len(key) != 24 || strings.Trim(version, " \t") != "13" {
			t.Fatalf("accepted key %q, version %q", key, version)
		}
	})
}
