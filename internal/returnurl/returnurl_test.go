package returnurl

import (
	"bufio"
	"errors"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
)

// corpus reads one Go-quoted string per line, skipping comments.
func corpus(t testing.TB, file string) []string {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 64<<10)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		s, err := strconv.Unquote(line)
		if err != nil {
			t.Fatalf("%s:%d: %v", file, n, err)
		}
		out = append(out, s)
	}
	return out
}

// sameOrigin resolves ref as a browser resolves a Location header on a
// raygate page, dropping tabs and newlines first as the URL standard says.
func sameOrigin(ref string) bool {
	base, _ := url.Parse("https://raygate.example.com/_raygate/callback?code=c&state=s")
	ref = strings.NewReplacer("\t", "", "\n", "", "\r", "").Replace(strings.TrimSpace(ref))
	ref = strings.ReplaceAll(ref, "\\", "/")
	u, err := url.Parse(ref)
	if err != nil {
		return false
	}
	r := base.ResolveReference(u)
	return r.Scheme == "https" && r.Host == "raygate.example.com"
}

func TestOpenRedirectCorpus(t *testing.T) {
	bad := corpus(t, "testdata/open-redirects.txt")
	if len(bad) < 100 {
		t.Fatalf("the corpus has %d payloads, want at least 100", len(bad))
	}
	for _, p := range bad {
		t.Run(strconv.Quote(p), func(t *testing.T) {
			got, err := Check(p)
			var e *Error
			if !errors.As(err, &e) || !errors.Is(err, ErrUnsafe) || e.Reason == "" {
				t.Fatalf("Check(%q) = %q, %v; want a refusal with a reason", p, got, err)
			}
			// The query string a browser sends carries the payload
			// encoded once more; the decoded value is what Check sees,
			// and the encoded one must not pass either.
			if enc := url.QueryEscape(p); enc != p {
				if got, err := Check(enc); err == nil && !sameOrigin(got) {
					t.Fatalf("Check(%q) accepted an encoded payload that leaves the site", enc)
				}
			}
		})
	}
}

func TestSameOriginPaths(t *testing.T) {
	for _, p := range corpus(t, "testdata/same-origin-paths.txt") {
		t.Run(strconv.Quote(p), func(t *testing.T) {
			got, err := Check(p)
			if err != nil || got != p {
				t.Fatalf("Check(%q) = %q, %v; want it unchanged", p, got, err)
			}
			if !sameOrigin(got) {
				t.Fatalf("%q leaves the site", got)
			}
		})
	}
}

func TestReasons(t *testing.T) {
	for _, tc := range []struct{ in, reason string }{
		{"//evil.example", "scheme-relative (//host)"},
		{"/\\evil.example", "scheme-relative (//host)"},
		{"/a\\b", "backslash"},
		{"https://evil.example", "does not start with /"},
		{"/\t/evil.example", "control character or whitespace"},
		{"/%09/evil.example", "encoded control character"},
		{"/%2F%2Fevil.example", "scheme-relative (//host)"},
		{"/%252F%252Fevil.example", "scheme-relative (//host)"},
		{"/%2525252F", "percent-encoded too many times"},
		{"/\uff0fevil", "non-ASCII character"},
		{"/%EF%BC%8Fevil", "look-alike slash"},
		{"/%C0%AF", "encoded bytes that are not UTF-8"},
		{"/../evil", "dot segment"},
		{"/a#b", "fragment"},
		{"/%zz", "invalid percent-encoding"},
		{"/_raygate/sign-in?rd=/", "points at sign-in itself"},
		{"", "empty"},
		{"/" + strings.Repeat("a", MaxLength), "too long"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			_, err := Check(tc.in)
			var e *Error
			if !errors.As(err, &e) || e.Reason != tc.reason {
				t.Fatalf("Check(%q) = %v, want reason %q", tc.in, err, tc.reason)
			}
		})
	}
}

// FuzzCheck: whatever Check accepts comes back unchanged, is printable
// ASCII, and a browser resolving it on a raygate page stays on raygate.
func FuzzCheck(f *testing.F) {
	for _, p := range corpus(f, "testdata/open-redirects.txt") {
		f.Add(p)
	}
	for _, p := range corpus(f, "testdata/same-origin-paths.txt") {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		got, err := Check(raw)
		if err != nil {
			if !errors.Is(err, ErrUnsafe) {
				t.Fatalf("Check(%q): error %v does not wrap ErrUnsafe", raw, err)
			}
			return
		}
		if got != raw {
			t.Fatalf("Check(%q) = %q, changed", raw, got)
		}
		for i := 0; i < len(got); i++ {
			if got[i] <= 0x20 || got[i] >= 0x7f || got[i] == '\\' {
				t.Fatalf("Check(%q) accepted byte %#x", raw, got[i])
			}
		}
		if !sameOrigin(got) {
			t.Fatalf("Check(%q) accepted a URL that leaves the site", raw)
		}
		for d, i := got, 0; i < 3; i++ {
			if d, err = url.PathUnescape(d); err != nil {
				break
			}
			if !sameOrigin(d) {
				t.Fatalf("Check(%q) accepted a URL that leaves the site once decoded %d times: %q", raw, i+1, d)
			}
		}
	})
}
