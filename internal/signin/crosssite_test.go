package signin

import (
	"net/http/httptest"
	"testing"
)

func TestIntendedByProgramOrPage(t *testing.T) {
	for _, tc := range []struct {
		name, method, externalURL string
		hdr                       []string
		want                      bool
	}{
		{"a program", "POST", "https://raygate.example", nil, true},
		{"own origin", "POST", "https://raygate.example", []string{"Origin", "https://raygate.example"}, true},
		{"own origin, default port", "POST", "https://raygate.example:443", []string{"Origin", "https://raygate.example"}, true},
		{"another origin", "POST", "https://raygate.example", []string{"Origin", "https://evil.example"}, false},
		{"plain http on the same host", "POST", "https://raygate.example", []string{"Origin", "http://raygate.example"}, false},
		{"Origin null", "POST", "https://raygate.example", []string{"Origin", "null"}, false},
		{"no externalURL: the request's host", "POST", "", []string{"Origin", "https://raygate.example"}, true},
		{"no externalURL: another host", "POST", "", []string{"Origin", "https://raygate.example.evil"}, false},
		{"no externalURL: not a URL", "POST", "", []string{"Origin", "raygate.example"}, false},
		{"fetch metadata: same origin", "POST", "https://raygate.example", []string{"Sec-Fetch-Site", "same-origin"}, true},
		{"fetch metadata: cross-site", "GET", "https://raygate.example", []string{"Sec-Fetch-Site", "cross-site"}, false},
		{"fetch metadata: same site", "GET", "https://raygate.example", []string{"Sec-Fetch-Site", "same-site"}, false},
		{"typed GET", "GET", "https://raygate.example", []string{"Sec-Fetch-Site", "none"}, true},
		{"typed POST", "POST", "https://raygate.example", []string{"Sec-Fetch-Site", "none"}, false},
		{"Origin wins over fetch metadata", "POST", "https://raygate.example", []string{"Origin", "https://evil.example", "Sec-Fetch-Site", "same-origin"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, "http://raygate.example/clusters/a/b/api/jobs/x/stop", nil)
			for i := 0; i+1 < len(tc.hdr); i += 2 {
				r.Header.Set(tc.hdr[i], tc.hdr[i+1])
			}
			f := IntendedByProgramOrPage(r, tc.externalURL)
			if (f == nil) != tc.want {
				t.Fatalf("IntendedByProgramOrPage = %v, want intended %v", f, tc.want)
			}
			if f != nil && (f.Reason != "cross_site" || f.Status != 403) {
				t.Fatalf("refusal %+v, want 403 cross_site", f)
			}
		})
	}
}
