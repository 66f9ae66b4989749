package proxy

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/raygate/raygate/internal/authz"
	"github.com/raygate/raygate/internal/config"
	"github.com/raygate/raygate/internal/identity"
	"github.com/raygate/raygate/internal/route"
)

func testProxy(t *testing.T, cfg config.Proxy) (*Proxy, *[]string) {
	t.Helper()
	if cfg.DialTimeout == 0 {
		cfg.DialTimeout = config.Duration(time.Second)
	}
	if cfg.ResponseHeaderTimeout == 0 {
		cfg.ResponseHeaderTimeout = config.Duration(5 * time.Second)
	}
	var mu sync.Mutex
	var errs []string
	p := New(NewTransport(cfg), slog.New(slog.NewTextHandler(io.Discard, nil)), func(cluster, kind string) {
		mu.Lock()
		defer mu.Unlock()
		errs = append(errs, cluster+":"+kind)
	})
	return p, &errs
}

func call(t *testing.T, upstream, rawPath, token string) *Call {
	t.Helper()
	u, err := url.Parse(upstream)
	if err != nil {
		t.Fatal(err)
	}
	tgt, ok := route.Split("/clusters/team-a/ray1" + rawPath)
	if !ok {
		t.Fatalf("bad path %q", rawPath)
	}
	return &Call{
		Cluster:   &route.Cluster{Namespace: "team-a", Name: "ray1", Key: "team-a/ray1", Upstream: u, Token: token, Bindings: authz.NewBindings(nil)},
		Target:    tgt,
		Identity:  &identity.Identity{User: "alice@example.com", Groups: []string{"team-a", "ml"}, Method: identity.MethodOIDC},
		RequestID: "req-1",
	}
}

func serve(p *Proxy, c *Call, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	p.ServeHTTP(w, r.WithContext(WithCall(r.Context(), c)))
	return w
}

func TestRewrite(t *testing.T) {
	var got *http.Request
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Clone(context.Background())
		http.SetCookie(w, &http.Cookie{Name: RayTokenCookie, Value: "cluster-secret"})
		http.SetCookie(w, &http.Cookie{Name: "theme", Value: "dark"})
		_, _ = io.WriteString(w, "ok")
	}))
	defer up.Close()
	p, _ := testProxy(t, config.Proxy{})

	r := httptest.NewRequest("GET", "/clusters/team-a/ray1/api/jobs/my%20job?x=1&y=2", nil)
	r.Header.Set("Authorization", "Bearer user-secret")
	r.Header["X_Forwarded_User"] = []string{"root"}
	r.Header.Set("X-Ray-Authorization", "Bearer guess")
	r.Header.Set("Cookie", "ray-authentication-token=old; theme=dark")
	r.Header.Set("Accept", "application/json")
	w := serve(p, call(t, up.URL, "/api/jobs/my%20job", "cluster-secret"), r)

	if w.Code != 200 || w.Body.String() != "ok" {
		t.Fatalf("response %d %q", w.Code, w.Body.String())
	}
	if got.URL.EscapedPath() != "/api/jobs/my%20job" || got.URL.RawQuery != "x=1&y=2" {
		t.Errorf("upstream path %q query %q", got.URL.EscapedPath(), got.URL.RawQuery)
	}
	want := map[string]string{
		"Authorization":       "",
		"X-Ray-Authorization": "Bearer cluster-secret",
		"X-Forwarded-User":    "alice@example.com",
		"X-Forwarded-Email":   "alice@example.com",
		"X-Forwarded-Groups":  "team-a,ml",
		"X-Request-Id":        "req-1",
		"Cookie":              "theme=dark",
		"Accept":              "application/json",
		"User-Agent":          "",
	}
	for k, v := range want {
		if g := got.Header.Get(k); g != v {
			t.Errorf("upstream %s = %q, want %q", k, g, v)
		}
	}
	if vs := got.Header.Values("X-Forwarded-User"); len(vs) != 1 {
		t.Errorf("X-Forwarded-User values %q", vs)
	}
	if _, ok := got.Header["X_forwarded_user"]; ok {
		t.Errorf("spoofed header reached upstream")
	}
	for _, c := range w.Result().Cookies() {
		if c.Name == RayTokenCookie {
			t.Errorf("cluster token cookie reached the caller")
		}
	}
}

func TestRewriteWithUpstreamPathAndNoToken(t *testing.T) {
	var path string
	var rayAuth []string
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path, rayAuth = r.URL.Path, r.Header.Values("X-Ray-Authorization")
	}))
	defer up.Close()
	p, _ := testProxy(t, config.Proxy{})
	r := httptest.NewRequest("GET", "/clusters/team-a/ray1/api/version", nil)
	r.Header.Set("X-Ray-Authorization", "Bearer guess")
	serve(p, call(t, up.URL+"/ray/", "/api/version", ""), r)
	if path != "/ray/api/version" || len(rayAuth) != 0 {
		t.Fatalf("path %q, X-Ray-Authorization %q", path, rayAuth)
	}
}

func TestUpstreamUnreachable(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	p, errs := testProxy(t, config.Proxy{})
	w := serve(p, call(t, "http://"+addr, "/api/version", ""), httptest.NewRequest("GET", "/x", nil))
	assertJSONError(t, w, 502, "bad_gateway")
	if len(*errs) != 1 || (*errs)[0] != "team-a/ray1:connect" {
		t.Fatalf("errors %v", *errs)
	}
}

func TestUpstreamTimeout(t *testing.T) {
	release := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release }))
	defer up.Close()
	defer close(release)
	p, errs := testProxy(t, config.Proxy{ResponseHeaderTimeout: config.Duration(100 * time.Millisecond)})
	c := call(t, up.URL, "/api/version", "")
	w := serve(p, c, httptest.NewRequest("GET", "/x", nil))
	assertJSONError(t, w, 504, "gateway_timeout")
	if c.ErrorKind != ErrKindTimeout || len(*errs) != 1 {
		t.Fatalf("kind %q errors %v", c.ErrorKind, *errs)
	}
}

func TestUpstreamHangsUpWithoutAnswer(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_, _ = bufio.NewReader(c).ReadString('\n')
			c.Close()
		}
	}()
	p, _ := testProxy(t, config.Proxy{})
	w := serve(p, call(t, "http://"+ln.Addr().String(), "/api/version", ""), httptest.NewRequest("GET", "/x", nil))
	assertJSONError(t, w, 502, "bad_gateway")
}

func TestBodyLimitWhileStreaming(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	}))
	defer up.Close()
	p, _ := testProxy(t, config.Proxy{})
	r := httptest.NewRequest("PUT", "/x", strings.NewReader(strings.Repeat("x", 2048)))
	r.ContentLength = -1
	rec := httptest.NewRecorder()
	r.Body = http.MaxBytesReader(rec, r.Body, 1024)
	c := call(t, up.URL, "/api/packages/gcs/x.zip", "")
	p.ServeHTTP(rec, r.WithContext(WithCall(r.Context(), c)))
	assertJSONError(t, rec, 413, "payload_too_large")
}

func TestOnResponseSeesTheAnswer(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `{"submission_id":"raysubmit_1"}`)
	}))
	defer up.Close()
	p, _ := testProxy(t, config.Proxy{})
	c := call(t, up.URL, "/api/jobs/", "")
	var seen int
	c.OnResponse = func(resp *http.Response) error { seen = resp.StatusCode; return nil }
	w := serve(p, c, httptest.NewRequest("POST", "/x", strings.NewReader("{}")))
	if seen != 200 || !strings.Contains(w.Body.String(), "raysubmit_1") {
		t.Fatalf("hook saw %d, body %q", seen, w.Body.String())
	}
	c = call(t, up.URL, "/api/jobs/", "")
	c.OnResponse = func(*http.Response) error { return errors.New("refused") }
	assertJSONError(t, serve(p, c, httptest.NewRequest("POST", "/x", nil)), 502, "bad_gateway")
}

func TestSend(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Ray-Authorization") != "Bearer tok" || r.Header.Get("User-Agent") != "" {
			w.WriteHeader(401)
			return
		}
		_, _ = io.WriteString(w, r.Method+" "+r.URL.EscapedPath())
	}))
	defer up.Close()
	p, _ := testProxy(t, config.Proxy{})
	for _, tc := range []struct{ base, rest, want string }{
		{"", "/api/jobs/mine", "GET /api/jobs/mine"},
		{"/prefix/", "/api/jobs/a%20b", "GET /prefix/api/jobs/a%20b"},
	} {
		c := call(t, up.URL+tc.base, "/", "tok").Cluster
		resp, err := p.Send(context.Background(), c, "GET", tc.rest)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(b) != tc.want {
			t.Errorf("Send(%q) = %d %q, want %q", tc.rest, resp.StatusCode, b, tc.want)
		}
	}
	if _, err := p.Send(context.Background(), call(t, "http://127.0.0.1:1", "/", "").Cluster, "GET", "/x"); err == nil {
		t.Error("Send to a closed port succeeded")
	}
}

func TestWebSocketPassThrough(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "websocket" || r.Header.Get("X-Ray-Authorization") != "Bearer tok" {
			w.WriteHeader(400)
			return
		}
		c, rw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer c.Close()
		_, _ = rw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
		_ = rw.Flush()
		line, _ := rw.ReadString('\n')
		_, _ = rw.WriteString("echo:" + line)
		_ = rw.Flush()
	}))
	defer up.Close()
	p, _ := testProxy(t, config.Proxy{})
	c := call(t, up.URL, "/api/jobs/x/logs/tail", "tok")
	gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.ServeHTTP(w, r.WithContext(WithCall(r.Context(), c)))
	}))
	defer gw.Close()
	conn, err := net.Dial("tcp", strings.TrimPrefix(gw.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_, _ = io.WriteString(conn, "GET /x HTTP/1.1\r\nHost: gw\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nAuthorization: Bearer user\r\n\r\n")
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 101 {
		t.Fatalf("upgrade: %v %v", resp, err)
	}
	_, _ = io.WriteString(conn, "hello\n")
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	line, err := br.ReadString('\n')
	if err != nil || line != "echo:hello\n" {
		t.Fatalf("read %q %v", line, err)
	}
}

func assertJSONError(t *testing.T, w *httptest.ResponseRecorder, status int, code string) {
	t.Helper()
	if w.Code != status {
		t.Fatalf("status %d, want %d (body %q)", w.Code, status, w.Body.String())
	}
	var b ErrorBody
	if err := json.Unmarshal(w.Body.Bytes(), &b); err != nil || b.Error != code || b.Message == "" {
		t.Fatalf("body %q, want JSON error %q", w.Body.String(), code)
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q", ct)
	}
}

func TestUpstreamRefusesGatewayToken(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/missing":
			w.WriteHeader(401)
			_, _ = io.WriteString(w, "Unauthorized: Missing authentication token")
		case "/wrong":
			w.WriteHeader(403)
			_, _ = io.WriteString(w, "Forbidden: Invalid authentication token")
		default:
			w.WriteHeader(403)
			_, _ = io.WriteString(w, "Browser requests not allowed.")
		}
	}))
	defer up.Close()
	p, errs := testProxy(t, config.Proxy{})
	for _, path := range []string{"/missing", "/wrong"} {
		w := serve(p, call(t, up.URL, path, "tok"), httptest.NewRequest("GET", "/x", nil))
		assertJSONError(t, w, 502, "bad_gateway")
		if !strings.Contains(w.Body.String(), "rayTokenFile") {
			t.Fatalf("%s: %s", path, w.Body.String())
		}
	}
	if len(*errs) != 2 || (*errs)[0] != "team-a/ray1:auth" {
		t.Fatalf("errors %v", *errs)
	}
	w := serve(p, call(t, up.URL, "/other", "tok"), httptest.NewRequest("GET", "/x", nil))
	if w.Code != 403 || w.Body.String() != "Browser requests not allowed." {
		t.Fatalf("Ray's own 403 changed: %d %q", w.Code, w.Body.String())
	}
}
