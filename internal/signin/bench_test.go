package signin

import (
	"net/http/httptest"
	"testing"
	"time"

	"github.com/raygate/raygate/internal/session"
)

// BenchmarkAuthenticate is the cost a browser's request adds: reading the
// session cookie, opening it (AES-256-GCM) and decoding it.
func BenchmarkAuthenticate(b *testing.B) {
	r := newRig(b, rigOptions{})
	now := time.Now()
	value, err := r.b.jar.Codec.EncodeSession(&session.Session{ID: "s1", Issuer: r.idp.Issuer, Subject: "u1", User: "carol@example.com",
		Groups: []string{"team-a-viewers"}, SignedIn: now.Unix(), Expires: now.Add(time.Hour).Unix(), RefreshToken: "rt-0123456789abcdef0123456789abcdef"})
	if err != nil {
		b.Fatal(err)
	}
	req := httptest.NewRequest("GET", "/clusters/team-a/ray1/api/jobs/", nil)
	req.Header.Set("Cookie", "theme=dark; "+session.PlainSessionName+"="+value)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := r.b.Authenticate(nil, req); err != nil {
			b.Fatal(err)
		}
	}
}
