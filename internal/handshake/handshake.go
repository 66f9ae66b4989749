// Package handshake checks a request that asks for a protocol upgrade. The
// only upgrade raygate forwards is a WebSocket opening handshake (RFC 6455
// §4.2.1): a job's log tail. Anything else that asks to switch protocols
// (h2c, a WebSocket handshake without its key or version) would reach Ray
// as a request raygate did not understand, so it is refused.
package handshake

import (
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
)

// Error says why an upgrade request was refused; its text is safe to show
// the caller.
type Error struct{ Reason string }

// Error returns the reason with the package prefix.
func (e *Error) Error() string { return "handshake: " + e.Reason }

// ErrNotWebSocket is wrapped by every Error.
var ErrNotWebSocket = errors.New("not a WebSocket opening handshake")

// Unwrap makes every Error match ErrNotWebSocket.
func (e *Error) Unwrap() error { return ErrNotWebSocket }

func refuse(reason string) error { return &Error{Reason: reason} }

// CheckWebSocket accepts a request whose Upgrade header asks for a
// WebSocket, and nothing else, with the fields RFC 6455 requires: method
// GET, Connection naming "upgrade", one Sec-WebSocket-Key that is the
// base64 of 16 bytes, and Sec-WebSocket-Version 13. method is the
// request's method, h its header.
func CheckWebSocket(method string, h http.Header) error {
	up := h.Values("Upgrade")
	if len(up) != 1 || !strings.EqualFold(trimOWS(up[0]), "websocket") {
		return refuse("the only upgrade accepted is one Upgrade: websocket")
	}
	if method != http.MethodGet {
		return refuse("a WebSocket handshake must be a GET")
	}
	if !hasToken(h.Values("Connection"), "upgrade") {
		return refuse("a WebSocket handshake must have Connection: Upgrade")
	}
	keys := h.Values("Sec-WebSocket-Key")
	if len(keys) != 1 {
		return refuse("a WebSocket handshake must have one Sec-WebSocket-Key")
	}
	// 24 characters exactly: Go's decoder skips CR and LF, which are no
	// part of a key.
	if k, err := base64.StdEncoding.DecodeString(keys[0]); err != nil || len(k) != 16 || len(keys[0]) != 24 {
		return refuse("Sec-WebSocket-Key is not the base64 of 16 bytes")
	}
	if v := h.Values("Sec-WebSocket-Version"); len(v) != 1 || trimOWS(v[0]) != "13" {
		return refuse("a WebSocket handshake must have Sec-WebSocket-Version: 13")
	}
	return nil
}

// hasToken reports whether the comma-separated values hold token, in any
// case.
func hasToken(values []string, token string) bool {
	for _, v := range values {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(trimOWS(t), token) {
				return true
			}
		}
	}
	return false
}

// trimOWS removes HTTP's optional whitespace (spaces and horizontal tabs,
// RFC 9110 §5.6.3) around a value, and nothing else.
func trimOWS(s string) string { return strings.Trim(s, " \t") }
