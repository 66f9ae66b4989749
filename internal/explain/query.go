package explain

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// Query is a request to explain.
type Query struct {
	// Method is the request's method, as sent (case matters).
	Method string
	// Path is the request path as the client escapes it, without the
	// query: what the gateway reads (URL.EscapedPath).
	Path string
	// Upgrade says whether the request asks for a protocol upgrade
	// (a WebSocket, as Ray's job log tail uses).
	Upgrade bool
	// JobOwner, when set, is the owner the cluster would report for the
	// job a stop or delete names (its raygate.owner; "" for none), so
	// that the explanation can settle the ownership rule. When nil, both
	// cases are described.
	JobOwner *string
	// JobMissing says that the cluster reports no job by the id a stop or
	// delete names (JobOwner is then ignored).
	JobMissing bool
}

// Bounds of a query's parts.
const (
	// MaxTarget bounds a path, or a URL, to explain.
	MaxTarget = 64 << 10
	// MaxMethod bounds a method.
	MaxMethod = 32
	// maxRawQuery bounds the query string of GET /_raygate/explain.
	maxRawQuery = MaxTarget + 256
)

// ParseTarget reads a request target as someone would copy it: a path
// ("/clusters/team-a/ray1/api/jobs/") or a URL ("https://gw/clusters/..."),
// and returns the path as the gateway reads it from such a request: its
// escaped path, without the query.
func ParseTarget(s string) (string, error) {
	if s == "" {
		return "", errors.New("explain: the path is empty")
	}
	if len(s) > MaxTarget {
		return "", fmt.Errorf("explain: the path is longer than %d bytes", MaxTarget)
	}
	var u *url.URL
	var err error
	switch {
	case strings.HasPrefix(s, "/"):
		u, err = url.ParseRequestURI(s)
	case strings.HasPrefix(s, "http://"), strings.HasPrefix(s, "https://"):
		u, err = url.Parse(s)
	default:
		return "", errors.New("explain: the path must start with / (or be an http or https URL)")
	}
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return "", fmt.Errorf("explain: the path cannot be read as a request target: %v", err)
	}
	p := u.EscapedPath()
	if p == "" {
		p = "/"
	}
	return p, nil
}

// CheckMethod refuses what is not an HTTP method token (RFC 9110): a
// method the gateway refuses is explained, but not one no client could
// send.
func CheckMethod(m string) error {
	if m == "" {
		return errors.New("explain: the method is empty")
	}
	if len(m) > MaxMethod {
		return fmt.Errorf("explain: the method is longer than %d characters", MaxMethod)
	}
	for i := 0; i < len(m); i++ {
		if !tchar(m[i]) {
			return fmt.Errorf("explain: the method %q is not an HTTP method token", m)
		}
	}
	return nil
}

func tchar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// ReasonBadQuery is the audit log's reason when GET /_raygate/explain is
// refused its query (400).
const ReasonBadQuery = "explain: bad query"

// ParseQuery reads the query string of GET /_raygate/explain:
// method=M&path=P, and optionally upgrade=true. Every parameter appears
// at most once; unknown ones are refused, so a typo is never explained
// as something else.
func ParseQuery(raw string) (Query, error) {
	if len(raw) > maxRawQuery {
		return Query{}, fmt.Errorf("explain: the query is longer than %d bytes", maxRawQuery)
	}
	vals, err := url.ParseQuery(raw)
	if err != nil {
		return Query{}, errors.New("explain: the query is not a valid query string")
	}
	var q Query
	for k, vs := range vals {
		if len(vs) != 1 {
			return Query{}, fmt.Errorf("explain: %s is given %d times", quoteParam(k), len(vs))
		}
		switch k {
		case "method", "path":
		case "upgrade":
			if q.Upgrade, err = strconv.ParseBool(vs[0]); err != nil {
				return Query{}, errors.New("explain: upgrade must be true or false")
			}
		default:
			return Query{}, fmt.Errorf("explain: unknown parameter %s (method, path, upgrade)", quoteParam(k))
		}
	}
	q.Method = vals.Get("method")
	if _, ok := vals["method"]; !ok {
		return Query{}, errors.New("explain: method is required")
	}
	if err := CheckMethod(q.Method); err != nil {
		return Query{}, err
	}
	if _, ok := vals["path"]; !ok {
		return Query{}, errors.New("explain: path is required")
	}
	if q.Path, err = ParseTarget(vals.Get("path")); err != nil {
		return Query{}, err
	}
	return q, nil
}

// quoteParam quotes a parameter name for a message, bounded.
func quoteParam(k string) string {
	if len(k) > 40 {
		k = k[:40] + "..."
	}
	return strconv.Quote(k)
}
