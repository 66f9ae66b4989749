package proxy

import (
	"net/http"
	"strings"
	"testing"
)

// FuzzStripSetCookies checks that no Set-Cookie a browser would store
// under the Ray token's or the gateway's cookie names reaches the caller,
// and that every other Set-Cookie is kept as it was.
func FuzzStripSetCookies(f *testing.F) {
	f.Add("ray-authentication-token=secret; HttpOnly", "theme=dark")
	f.Add(" RAY-Authentication-Token =x", "_raygate_s=1; Path=/")
	f.Add("_RAYGATE=1", "a=b; ray-authentication-token=c")
	f.Fuzz(func(t *testing.T, a, b string) {
		h := http.Header{"Set-Cookie": {a, b}}
		StripSetCookies(h)
		kept := 0
		for _, v := range []string{a, b} {
			name, _, _ := strings.Cut(v, "=")
			if !isSensitiveCookie(strings.TrimSpace(name)) {
				kept++
			}
		}
		if got := h.Values("Set-Cookie"); len(got) != kept {
			t.Fatalf("kept %q of %q, %q; want %d", got, a, b, kept)
		}
		for _, v := range h.Values("Set-Cookie") {
			if v != a && v != b {
				t.Fatalf("Set-Cookie %q was rewritten", v)
			}
			// What a browser would store: Go's own reading of the header.
			resp := http.Response{Header: http.Header{"Set-Cookie": {v}}}
			for _, c := range resp.Cookies() {
				if isSensitiveCookie(c.Name) {
					t.Fatalf("Set-Cookie %q sets %q", v, c.Name)
				}
			}
		}
		if kept == 0 {
			if _, ok := h["Set-Cookie"]; ok {
				t.Fatal("empty Set-Cookie list left in the header")
			}
		}
	})
}
