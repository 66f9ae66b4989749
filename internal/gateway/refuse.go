package gateway

import (
	"net/http"

	"github.com/raygate/raygate/internal/decision"
	"github.com/raygate/raygate/internal/httpguard"
)

// refused answers a request the connection guard refused (ambiguous
// framing, a target or headers over the limits) and closes the
// connection, so nothing the client sent after it is read.
func (x *exchange) refused(ref *httpguard.Refusal) {
	x.ev.Method, x.ev.Path = ref.Method, ref.Target
	x.w.Header().Set("Connection", "close")
	code := "bad_request"
	switch ref.Status {
	case http.StatusRequestURITooLong:
		code = "uri_too_long"
	case http.StatusRequestHeaderFieldsTooLarge:
		code = "header_fields_too_large"
	case http.StatusHTTPVersionNotSupported:
		code = "http_version_not_supported"
	case http.StatusServiceUnavailable:
		code = "unavailable"
	}
	reason := "malformed request: " + ref.Reason
	if ref.Status == http.StatusServiceUnavailable {
		reason = ref.Reason // not the request's fault: the listener is busy
	}
	x.deny(ref.Status, code, reason, "the request was refused: "+ref.Reason)
}

// maxAuditMethod bounds an unknown method recorded in the audit log.
const maxAuditMethod = 32

// allowMethods is what the Allow header of a 405 lists.
const allowMethods = "GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS"

// checkMethod refuses, before anything else looks at the request, the
// methods raygate never forwards (decision.CheckMethod).
func (x *exchange) checkMethod() bool {
	ref := decision.CheckMethod(x.r.Method)
	switch ref.Status {
	case 0:
		return true
	case http.StatusMethodNotAllowed:
		x.w.Header().Set("Allow", allowMethods)
	default:
		if len(x.ev.Method) > maxAuditMethod {
			x.ev.Method = x.ev.Method[:maxAuditMethod] + "..."
		}
	}
	x.deny(ref.Status, ref.Code, ref.Reason, ref.Message)
	return false
}
