package route

import (
	"errors"
	"net/url"
	"path"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

var pathCases = []struct {
	path string
	ok   bool
	why  string
}{
	{"/clusters/team-a/ray1/api/jobs/", true, ""},
	{"/clusters/team-a/ray1/", true, ""},
	{"/clusters/team-a/ray1", true, ""},
	{"/clusters/team-a/ray1/api/jobs/raysubmit_abc/logs/tail", true, ""},
	{"/clusters/team-a/ray1/api/jobs/my%20job", true, ""},
	{"/clusters/team-a/ray1/static/js/main.84605326.js", true, ""},
	{"/clusters/team-a/ray1/api/packages/gcs/_ray_pkg_0a1b.zip", true, ""},
	{"/", true, ""},
	{"/clusters/team-a/ray1/api/jobs/caf%C3%A9", true, ""},
	{"/clusters/team-a/ray1/api/jobs/caf\xc3\xa9", true, ""},
	{"/clusters/team-a/ray1/api/jobs/%E2%9C%93", true, ""},
	{"/clusters/team-a/ray1/api/jobs/%ff", false, "invalid UTF-8"},
	{"/clusters/team-a/ray1/api/jobs/%FF%FE", false, "invalid UTF-8"},
	{"/clusters/team-a/ray1/api/jobs/\xff\xfe", false, "invalid UTF-8"},
	{"/clusters/team-a/ray1/api/jobs/%c0%ae%c0%ae/x", false, "invalid UTF-8"},
	{"/clusters/team-a/ray1/api/jobs/\xc0\xae\xc0\xae/x", false, "invalid UTF-8"},
	{"/clusters/team-a/ray1/api/jobs/%e0%80%af", false, "invalid UTF-8"},
	{"/clusters/team-a/ray1/api/jobs/%ed%a0%80", false, "invalid UTF-8"},
	{"/clusters/team-a/ray1/api/jobs/%C3", false, "invalid UTF-8"},
	{"/clusters/team-a/ray1/api/jobs/%C2%85", false, "control character"},
	{"/clusters/team-a/ray1/api/jobs/\xc2\x9b", false, "control character"},
	{"/clusters/team-a/ray1/api/jobs/%2F", false, "encoded slash"},
	{"/clusters/team-a/ray1/api/jobs/%2f", false, "encoded slash"},
	{"/clusters/team-a%2Fray1/api", false, "encoded slash"},
	{"/clusters/team-a/ray1/api%5Cjobs", false, "encoded backslash"},
	{"/clusters/team-a/ray1/api\\jobs", false, "backslash"},
	{"/clusters/team-a/ray1/../team-b/ray1/api/jobs/", false, "dot segment"},
	{"/clusters/team-a/ray1/./api", false, "dot segment"},
	{"/clusters/team-a/ray1/%2e%2e/x", false, "encoded dot"},
	{"/clusters/team-a/ray1/%2E./x", false, "encoded dot"},
	{"/clusters/team-a/ray1/.%2e/x", false, "encoded dot"},
	{"/clusters/team-a/ray1/..;/team-b", false, "dot segment"},
	{"/clusters/team-a/ray1/.;/x", false, "dot segment"},
	{"/clusters/team-a/ray1/..", false, "dot segment"},
	{"/clusters/team-a/ray1/api/%00", false, "encoded control character"},
	{"/clusters/team-a/ray1/api/%0a", false, "encoded control character"},
	{"/clusters/team-a/ray1/api/%7F", false, "encoded control character"},
	{"/clusters/team-a/ray1/api/\x00", false, "control character"},
	{"/clusters/team-a/ray1/api/%252e%252e", false, "encoded percent sign (double encoding)"},
	{"/clusters/team-a/ray1/api/%", false, "invalid percent-encoding"},
	{"/clusters/team-a/ray1/api/%zz", false, "invalid percent-encoding"},
	{"/clusters/team-a/ray1/api/%2", false, "invalid percent-encoding"},
	{"/clusters//team-a/ray1/api", false, "empty path segment"},
	{"/clusters/team-a/ray1//api/jobs/", false, "empty path segment"},
	{"//clusters/team-a/ray1/", false, "empty path segment"},
	{"clusters/team-a", false, "path must start with /"},
	{"", false, "path must start with /"},
}

func TestCheckPath(t *testing.T) {
	for _, tc := range pathCases {
		t.Run(tc.path, func(t *testing.T) {
			err := CheckPath(tc.path)
			if tc.ok {
				if err != nil {
					t.Fatalf("CheckPath(%q) = %v, want nil", tc.path, err)
				}
				return
			}
			var pe *PathError
			if !errors.As(err, &pe) || !errors.Is(err, ErrAmbiguousPath) {
				t.Fatalf("CheckPath(%q) = %v, want a PathError", tc.path, err)
			}
			if pe.Reason != tc.why {
				t.Fatalf("CheckPath(%q) reason = %q, want %q", tc.path, pe.Reason, tc.why)
			}
		})
	}
}

func TestSplit(t *testing.T) {
	for _, tc := range []struct {
		in            string
		ok            bool
		ns, name      string
		rest, rawRest string
	}{
		{"/clusters/team-a/ray1/api/jobs/", true, "team-a", "ray1", "/api/jobs/", "/api/jobs/"},
		{"/clusters/team-a/ray1/", true, "team-a", "ray1", "/", "/"},
		{"/clusters/team-a/ray1", true, "team-a", "ray1", "", ""},
		{"/clusters/team-a/ray1/api/jobs/my%20job", true, "team-a", "ray1", "/api/jobs/my job", "/api/jobs/my%20job"},
		{"/clusters/team-a", false, "", "", "", ""},
		{"/clusters/Team-A/ray1/", false, "", "", "", ""},
		{"/clusters/team-a/ray_1/", false, "", "", "", ""},
		{"/clusters/-a/ray1/", false, "", "", "", ""},
		{"/clusters/a-/ray1/", false, "", "", "", ""},
		{"/clusters/" + strings.Repeat("a", 64) + "/ray1/", false, "", "", "", ""},
		{"/clusters/%74eam/ray1/", false, "", "", "", ""},
		{"/cluster/team-a/ray1/", false, "", "", "", ""},
		{"/api/jobs/", false, "", "", "", ""},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, ok := Split(tc.in)
			if ok != tc.ok {
				t.Fatalf("Split(%q) ok = %v, want %v", tc.in, ok, tc.ok)
			}
			if !ok {
				return
			}
			if got.Namespace != tc.ns || got.Name != tc.name || got.Rest != tc.rest || got.RawRest != tc.rawRest {
				t.Fatalf("Split(%q) = %+v", tc.in, got)
			}
		})
	}
}

// FuzzCheckPath checks that every path CheckPath accepts means the same
// thing to any reader: decoding it yields no dot segments, no empty
// segments, no backslashes and no new slashes, so cleaning it changes
// nothing.
func FuzzCheckPath(f *testing.F) {
	for _, tc := range pathCases {
		f.Add(tc.path)
	}
	f.Fuzz(func(t *testing.T, p string) {
		if CheckPath(p) != nil {
			return
		}
		dec, err := url.PathUnescape(p)
		if err != nil {
			t.Fatalf("accepted %q, which does not decode: %v", p, err)
		}
		if strings.Count(dec, "/") != strings.Count(p, "/") {
			t.Fatalf("accepted %q, whose decoding %q has other slashes", p, dec)
		}
		if strings.ContainsAny(dec, "\\\x00") {
			t.Fatalf("accepted %q, whose decoding %q has a backslash or NUL", p, dec)
		}
		if !utf8.ValidString(dec) {
			t.Fatalf("accepted %q, whose decoding %q is not UTF-8", p, dec)
		}
		for _, r := range dec {
			if unicode.IsControl(r) {
				t.Fatalf("accepted %q, whose decoding %q has the control character %U", p, dec, r)
			}
		}
		want := path.Clean(dec)
		if strings.HasSuffix(dec, "/") && want != "/" {
			want += "/"
		}
		if want != dec {
			t.Fatalf("accepted %q, which cleans to %q", p, want)
		}
		if tgt, ok := Split(p); ok {
			if p != Prefix+tgt.Namespace+"/"+tgt.Name+tgt.RawRest {
				t.Fatalf("Split(%q) = %+v does not rebuild the path", p, tgt)
			}
			if r, err := url.PathUnescape(tgt.RawRest); err != nil || r != tgt.Rest {
				t.Fatalf("Split(%q) rest %q does not decode from %q", p, tgt.Rest, tgt.RawRest)
			}
			if tgt.Rest != "" && !strings.HasPrefix(tgt.Rest, "/") {
				t.Fatalf("Split(%q) rest %q does not start with /", p, tgt.Rest)
			}
			if !isLabel(tgt.Namespace) || !isLabel(tgt.Name) {
				t.Fatalf("Split(%q) = %+v: invalid names", p, tgt)
			}
		}
	})
}
