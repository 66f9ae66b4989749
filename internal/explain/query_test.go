package explain

import (
	"net/url"
	"strings"
	"testing"
)

var queryCases = []struct {
	raw     string
	want    Query
	problem string
}{
	{"method=GET&path=/clusters/team-a/ray1/api/jobs/", Query{Method: "GET", Path: "/clusters/team-a/ray1/api/jobs/"}, ""},
	{"method=POST&path=%2Fclusters%2Fteam-a%2Fray1%2Fapi%2Fjobs%2F&upgrade=false", Query{Method: "POST", Path: "/clusters/team-a/ray1/api/jobs/"}, ""},
	{"method=GET&path=/clusters/a/b/api/jobs/x/logs/tail&upgrade=true", Query{Method: "GET", Path: "/clusters/a/b/api/jobs/x/logs/tail", Upgrade: true}, ""},
	// The path is the request path as sent: an encoded slash stays encoded.
	{"method=GET&path=/clusters/a/b/api/jobs/..%252f", Query{Method: "GET", Path: "/clusters/a/b/api/jobs/..%2f"}, ""},
	{"method=GET&path=/clusters/a/b/x%253Fy%3Fz=1", Query{Method: "GET", Path: "/clusters/a/b/x%3Fy"}, ""},
	{"method=get&path=/", Query{Method: "get", Path: "/"}, ""},
	{"method=GET&path=https://gw.example.com/clusters/a/b/", Query{Method: "GET", Path: "/clusters/a/b/"}, ""},
	{"method=GET&path=https://gw.example.com", Query{Method: "GET", Path: "/"}, ""},
	{"path=/", Query{}, "method is required"},
	{"method=GET", Query{}, "path is required"},
	{"method=GET&path=", Query{}, "the path is empty"},
	{"method=GET&path=/&path=/x", Query{}, `"path" is given 2 times`},
	{"method=GET&path=/&owner=x", Query{}, `unknown parameter "owner"`},
	{"method=GET&path=/&upgrade=maybe", Query{}, "upgrade must be true or false"},
	{"method=&path=/", Query{}, "the method is empty"},
	{"method=GE%20T&path=/", Query{}, "not an HTTP method token"},
	{"method=" + strings.Repeat("A", 33) + "&path=/", Query{}, "longer than 32"},
	{"method=GET&path=clusters/a/b/", Query{}, "must start with /"},
	{"method=GET&path=ftp://x/", Query{}, "must start with /"},
	{"method=GET&path=/a%00b", Query{}, ""},
	{"method=GET&path=" + url.QueryEscape("/a\x7fb"), Query{}, "cannot be read as a request target"},
	{"method=%zz", Query{}, "not a valid query string"},
	{"method=GET&path=/" + strings.Repeat("a", MaxTarget), Query{}, "longer than"},
}

func TestParseQuery(t *testing.T) {
	for _, tc := range queryCases {
		got, err := ParseQuery(tc.raw)
		switch {
		case tc.problem == "" && tc.want.Method == "":
			// Parses or not; must not panic (the fuzz target checks more).
		case tc.problem == "":
			if err != nil || got.Method != tc.want.Method || got.Path != tc.want.Path || got.Upgrade != tc.want.Upgrade {
				t.Errorf("ParseQuery(%q) = %+v, %v; want %+v", tc.raw, got, err, tc.want)
			}
		case err == nil || !strings.Contains(err.Error(), tc.problem):
			t.Errorf("ParseQuery(%q) = %+v, %v; want an error with %q", tc.raw, got, err, tc.problem)
		}
	}
}

// FuzzParseQuery: the explain endpoint's query parser never panics, and
// what it accepts is a method token and a path that starts with / with no
// query, which parses again to itself.
func FuzzParseQuery(f *testing.F) {
	for _, tc := range queryCases {
		f.Add(tc.raw)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := ParseQuery(raw)
		if err != nil {
			if q != (Query{}) {
				t.Fatalf("error %v with a query %+v", err, q)
			}
			return
		}
		if CheckMethod(q.Method) != nil {
			t.Fatalf("accepted method %q", q.Method)
		}
		if !strings.HasPrefix(q.Path, "/") || strings.ContainsAny(q.Path, "?#") || len(q.Path) > 3*MaxTarget {
			t.Fatalf("accepted path %q", q.Path)
		}
		again, err := ParseTarget(q.Path)
		if err != nil || again != q.Path {
			t.Fatalf("path %q reads again as %q, %v", q.Path, again, err)
		}
	})
}
