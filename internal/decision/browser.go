package decision

import (
	"errors"
	"net/http"

	"github.com/raygate/raygate/internal/authz"
	"github.com/raygate/raygate/internal/handshake"
	"github.com/raygate/raygate/internal/identity"
)

// CheckUpgrade refuses a request to a cluster that asks to switch
// protocols (h has an Upgrade header) unless it is a well-formed
// WebSocket handshake, the only upgrade raygate forwards: to Ray it would
// be a request raygate did not understand (Ray answers a handshake
// without a key with a 500 after seconds). It is checked before
// authentication.
func CheckUpgrade(method string, h http.Header) Refusal {
	if h.Get("Upgrade") == "" {
		return Refusal{}
	}
	var he *handshake.Error
	if !errors.As(handshake.CheckWebSocket(method, h), &he) {
		return Refusal{}
	}
	return Refusal{Status: http.StatusBadRequest, Code: "bad_request", Reason: "malformed WebSocket handshake: " + he.Reason,
		Message: "the request asks to switch protocols but is not a WebSocket handshake (" + he.Reason + ")"}
}

// ChangesState reports whether a request may change state whatever its
// path: any method but GET and HEAD, and any upgrade (a page on another
// site can open a WebSocket). With raygate's session cookie such a
// request must come from raygate's own pages: sign-in refuses it
// otherwise (403) while authenticating, before any cluster is looked up.
func ChangesState(method string, upgrade bool) bool {
	return method != http.MethodGet && method != http.MethodHead || upgrade
}

// Intent is what must show that the person signed in meant to send a
// request, when the credential is one their browser sends by itself, to
// any site's request: raygate's session cookie, or IAP's (with its signed
// header). Another site could otherwise make the browser send it (a
// SameSite=Lax cookie goes with any top-level navigation, and Ray acts
// on some GETs).
type Intent uint8

// Intents.
const (
	// IntentNone: nothing to show (a bearer token or an API key, which
	// browsers never send by themselves, or only reading).
	IntentNone Intent = iota
	// IntentOwnPages: raygate's session cookie, for more than reading.
	// The request must come from raygate's own pages (its Origin, or
	// Sec-Fetch-Site: same-origin), or be a GET or HEAD the person typed
	// or bookmarked (Sec-Fetch-Site: none, no Origin).
	IntentOwnPages
	// IntentProgramOrPage: IAP's credential, for more than a GET or HEAD
	// that only reads. A program's request (neither Origin nor
	// Sec-Fetch-Site) passes too.
	IntentProgramOrPage
)

// IntentFor is the Intent a request needs: m is how the caller
// authenticated, action the Ray action, method and upgrade the request's.
func IntentFor(m identity.Method, action authz.Action, method string, upgrade bool) Intent {
	switch m {
	case identity.MethodSession:
		if !authz.IsRead(action) {
			return IntentOwnPages
		}
	case identity.MethodIAP:
		if !authz.IsRead(action) || ChangesState(method, upgrade) {
			return IntentProgramOrPage
		}
	}
	return IntentNone
}
