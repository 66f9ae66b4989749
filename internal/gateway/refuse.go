package gateway

import (
	"net/http"

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
// methods raygate never forwards: CONNECT and TRACE (405), and every
// method HTTP does not define, including known ones not spelled in
// capitals (501; methods are case-sensitive).
func (x *exchange) checkMethod() bool {
	switch x.r.Method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch, http.MethodOptions:
		return true
	case http.MethodConnect, http.MethodTrace:
		x.w.Header().Set("Allow", allowMethods)
		x.deny(http.StatusMethodNotAllowed, "method_not_allowed", "method "+x.r.Method+" not allowed", "method "+x.r.Method+" is not allowed")
	default:
		if len(x.ev.Method) > maxAuditMethod {
			x.ev.Method = x.ev.Method[:maxAuditMethod] + "..."
		}
		x.deny(http.StatusNotImplemented, "not_implemented", "unknown method", "the request method is not supported")
	}
	return false
}
