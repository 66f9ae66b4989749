package gateway

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/raygate/raygate/internal/authz"
)

// checkEncoding refuses a body with a Content-Encoding other than
// identity: Ray decompresses request bodies, so it would read other bytes
// than the ones raygate counted against the body limit and checked.
func (x *exchange) checkEncoding() bool {
	for _, v := range x.r.Header.Values("Content-Encoding") {
		for _, c := range strings.Split(v, ",") {
			if c = strings.TrimSpace(c); c != "" && !strings.EqualFold(c, "identity") {
				x.deny(http.StatusUnsupportedMediaType, "unsupported_media_type", "content encoding "+strconv.Quote(c),
					"request bodies must not be compressed (Content-Encoding "+strconv.Quote(c)+")")
				return false
			}
		}
	}
	return true
}

// limitBody applies the body limit of the request's kind; an announced
// body over the limit is refused at once, a streamed one when it passes
// the limit.
func (x *exchange) limitBody(kind authz.BodyKind) bool {
	limit := x.st.limits.Default
	switch kind {
	case authz.BodyPackage:
		limit = x.st.limits.PackageUpload
	case authz.BodyJobSubmit:
		limit = x.st.limits.JobSubmit
	case authz.BodyServe:
		limit = x.st.limits.ServeDeploy
	}
	if x.r.ContentLength > limit {
		x.deny(http.StatusRequestEntityTooLarge, "payload_too_large", "request body over limit", "request body is larger than "+strconv.FormatInt(limit, 10)+" bytes")
		return false
	}
	if x.r.Body != nil && x.r.Body != http.NoBody {
		x.r.Body = http.MaxBytesReader(&x.w, x.r.Body, limit)
	}
	return true
}
