package gateway

import (
	"bytes"
	"encoding/base64"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/raygate/raygate/internal/oidcclient/oidctest"
	"github.com/raygate/raygate/internal/session"
)

// BenchmarkGatewaySession is a browser's request: the session cookie is
// opened (AES-GCM) and decoded on every request.
func BenchmarkGatewaySession(b *testing.B) {
	idp := oidctest.New(b, oidctest.Options{})
	up := benchUpstream(b)
	key := bytes.Repeat([]byte{5}, 32)
	dir := b.TempDir()
	if err := writeFile(dir+"/key", base64.StdEncoding.EncodeToString(key)); err != nil {
		b.Fatal(err)
	}
	g := gatewayFromText(b, "authentication:\n  oidc: [{issuer: "+idp.Issuer+", audiences: [raygate], login: true, clientID: raygate}]\n"+
		"  session: {keyFiles: ["+dir+"/key]}\n"+
		"clusters:\n  - {namespace: team-a, name: ray1, upstream: "+up.URL+", access: [{role: developer, groups: [team-a]}]}\n")
	c, _ := session.NewCodec([][]byte{key})
	now := time.Now()
	cookie, err := c.EncodeSession(&session.Session{ID: "s1", Issuer: idp.Issuer, Subject: "u1", User: "alice@example.com", Groups: []string{"team-a"},
		SignedIn: now.Unix(), Expires: now.Add(time.Hour).Unix(), RefreshToken: "rt-0123456789abcdef0123456789abcdef"})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r := httptest.NewRequest("GET", "/clusters/team-a/ray1/api/version", nil)
			r.Header.Set("Cookie", session.PlainSessionName+"="+cookie)
			w := httptest.NewRecorder()
			g.ServeHTTP(w, r)
			if w.Code != 200 {
				b.Fatalf("status %d: %s", w.Code, w.Body.String())
			}
		}
	})
}
