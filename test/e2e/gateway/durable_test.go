//go:build e2e

package gateway_test

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/raygate/raygate/test/e2e/harness"
)

// rayJobsDirect lists the jobs of team-a's head, asking Ray itself.
func rayJobsDirect(t *testing.T) string {
	t.Helper()
	s := requireStack(t)
	req, _ := http.NewRequest("GET", s.RayA.Dashboard+"/api/jobs/", nil)
	req.Header.Set("X-Ray-Authorization", "Bearer "+s.RayA.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// auditRecords reads the JSON lines of an audit file.
func auditRecords(t *testing.T, path string) []map[string]any {
	t.Helper()
	raw, _ := os.ReadFile(path)
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("audit line is not one JSON object: %q", l)
		}
		out = append(out, m)
	}
	return out
}

// submitWhenReady submits a job through url, waiting for a head that
// started moments ago to have its job agent up.
func submitWhenReady(t *testing.T, url, bearer, body string) string {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		c, resp := send(t, "POST", url, bearer, body)
		if c == 200 {
			var r struct {
				SubmissionID string `json:"submission_id"`
			}
			_ = json.Unmarshal([]byte(resp), &r)
			return r.SubmissionID
		}
		if !strings.Contains(resp, "No available agent") || time.Now().After(deadline) {
			t.Fatalf("submit: %d %s", c, resp)
		}
		time.Sleep(time.Second)
	}
}

func status(t *testing.T, url string) int {
	t.Helper()
	c, _ := get(t, url, "")
	return c
}

// TestAuditFailureRefusesMutations: the audit file's disk fills up (here:
// the file is replaced by a link to /dev/full, then SIGHUP). The very next
// job submission is refused with 503 and never reaches Ray; reads go on;
// readiness fails on both listeners until the audit log works again.
func TestAuditFailureRefusesMutations(t *testing.T) {
	g := extraGateway(t, "audit-full", nil)
	alice := token(t, "alice@example.com")
	base := g.URL + "/clusters/team-a/ray1"
	submitWhenReady(t, base+"/api/jobs/", alice, `{"entrypoint":"echo before"}`)

	if err := os.Remove(g.AuditPath); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/dev/full", g.AuditPath); err != nil {
		t.Fatal(err)
	}
	_ = g.Proc.Signal(syscall.SIGHUP)
	eventually(t, "the audit file to be reopened", func() bool {
		return strings.Contains(g.Proc.Tail(1<<16), "audit file reopened") || strings.Contains(g.Proc.Tail(1<<16), "config reloaded")
	})

	marker := fmt.Sprintf("echo unaudited-%d", time.Now().UnixNano())
	c, body := send(t, "POST", base+"/api/jobs/", alice, `{"entrypoint":"`+marker+`"}`)
	if c != 503 || !strings.Contains(body, `"error":"audit_unavailable"`) {
		t.Fatalf("first submission with the audit log full: %d %s, want 503 audit_unavailable", c, body)
	}
	if strings.Contains(rayJobsDirect(t), marker) {
		t.Fatal("a submission that could not be audited reached Ray")
	}
	if c, _ := get(t, base+"/api/version", alice); c != 200 {
		t.Fatalf("read with the audit log full: %d", c)
	}
	for _, u := range []string{g.URL + "/readyz", g.MetricsURL + "/readyz"} {
		if c := status(t, u); c != 503 {
			t.Fatalf("%s with the audit log full: %d", u, c)
		}
	}
	if v := metric(t, g, "raygate_audit_write_errors_total"); v == "" || v == "0" {
		t.Fatalf("raygate_audit_write_errors_total = %q", v)
	}
	if metric(t, g, "raygate_audit_sink_healthy") != "0" {
		t.Fatal("raygate_audit_sink_healthy is not 0")
	}
	if !strings.Contains(g.Proc.Tail(1<<16), "audit write failed") {
		t.Fatal("failed writes are not logged")
	}

	// Room again: raygate reopens the path by itself and recovers.
	if err := os.Remove(g.AuditPath); err != nil {
		t.Fatal(err)
	}
	eventually(t, "readiness to come back", func() bool { return status(t, g.MetricsURL+"/readyz") == 200 })
	if c, body := send(t, "POST", base+"/api/jobs/", alice, `{"entrypoint":"echo after"}`); c != 200 {
		t.Fatalf("submit after recovery: %d %s", c, body)
	}
	recs := auditRecords(t, g.AuditPath)
	var refused, stages []string
	for _, m := range recs {
		if m["reason"] == "audit log unavailable: not forwarded" && m["status"] == float64(503) {
			refused = append(refused, m["request_id"].(string))
		}
		if m["entrypoint"] == "echo after" {
			stages = append(stages, m["stage"].(string))
		}
	}
	if len(refused) != 1 {
		t.Fatalf("the refused submission is recorded %d times once the log works, want 1", len(refused))
	}
	if strings.Join(stages, ",") != "request,response" {
		t.Fatalf("stages of a submission: %v, want request then response", stages)
	}
}

// TestAuditRotation: the audit file is moved away while requests flow, then
// SIGHUP; every request is in exactly one of the two files, once.
func TestAuditRotation(t *testing.T) {
	g := extraGateway(t, "rotation", nil)
	alice := token(t, "alice@example.com")
	stop := make(chan struct{})
	var mu sync.Mutex
	var ids []string
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				req, _ := http.NewRequest("GET", g.URL+"/clusters/team-a/ray1/api/version", nil)
				req.Header.Set("Authorization", "Bearer "+alice)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
				mu.Lock()
				ids = append(ids, resp.Header.Get("X-Request-Id"))
				mu.Unlock()
			}
		}()
	}
	time.Sleep(500 * time.Millisecond)
	if err := os.Rename(g.AuditPath, g.AuditPath+".1"); err != nil {
		t.Fatal(err)
	}
	_ = g.Proc.Signal(syscall.SIGHUP)
	eventually(t, "the new audit file", func() bool { _, err := os.Stat(g.AuditPath); return err == nil })
	time.Sleep(500 * time.Millisecond)
	close(stop)
	wg.Wait()
	// A read's line is written with its batch, up to 5 ms after its
	// response: read the files until every answered request is there.
	var seen map[string]int
	var cur []map[string]any
	for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		seen = map[string]int{}
		old := auditRecords(t, g.AuditPath+".1")
		cur = auditRecords(t, g.AuditPath)
		for _, m := range append(old, cur...) {
			seen[m["request_id"].(string)]++
		}
		if allSeen(seen, ids) || time.Now().After(deadline) {
			break
		}
	}
	var inNew int
	for _, m := range cur {
		if m["action"] == "cluster.read" {
			inNew++
		}
	}
	if inNew == 0 {
		t.Fatal("nothing was written to the reopened file")
	}
	for _, id := range ids {
		if seen[id] != 1 {
			t.Fatalf("request %s is in the audit log %d times, want 1 (%d requests)", id, seen[id], len(ids))
		}
	}
}

// allSeen reports whether every id is in seen.
func allSeen(seen map[string]int, ids []string) bool {
	for _, id := range ids {
		if seen[id] == 0 {
			return false
		}
	}
	return true
}

// forgedToken signs alice's claims for issuer with a key the issuer never
// published.
func forgedToken(t *testing.T, issuer string) string {
	t.Helper()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: k}, (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", "not-published"))
	if err != nil {
		t.Fatal(err)
	}
	claims, _ := json.Marshal(map[string]any{
		"iss": issuer, "aud": harness.ClientID, "sub": "x", "email": "alice@example.com", "email_verified": true,
		"groups": []string{"platform-admins"}, "exp": time.Now().Add(time.Hour).Unix(), "iat": time.Now().Unix(),
	})
	obj, err := signer.Sign(claims)
	if err != nil {
		t.Fatal(err)
	}
	tok, _ := obj.CompactSerialize()
	return tok
}

// TestIdentityProviderDown: with a real Dex stopped, raygate keeps
// verifying tokens with the keys it fetched (the token cache is off, so
// every request checks a signature), and a token signed by an unknown key
// fails closed with 401, counted.
func TestIdentityProviderDown(t *testing.T) {
	s := requireStack(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dex, err := harness.StartDex(ctx, components.DexBin, filepath.Join(s.Dir, "dex-down"))
	if err != nil {
		t.Fatal(err)
	}
	defer dex.Proc.Stop(5 * time.Second)
	g := extraGateway(t, "idp-down", func(c *harness.GatewayConfig) {
		c.Issuer = dex.Issuer
		c.Authentication = "  tokenCache: {size: 0}\n"
	})
	alice, err := dex.Token(ctx, "alice@example.com")
	if err != nil {
		t.Fatal(err)
	}
	url := g.URL + "/clusters/team-a/ray1/api/version"
	if c, body := get(t, url, alice); c != 200 {
		t.Fatalf("before: %d %s", c, body)
	}
	dex.Proc.Stop(10 * time.Second)
	for i := 0; i < 5; i++ {
		if c, body := get(t, url, alice); c != 200 {
			t.Fatalf("with Dex down, request %d: %d %s", i, c, body)
		}
	}
	// Tokens naming a key raygate does not hold fail closed. Once the
	// refetch interval (10s) has passed, such a token makes raygate try
	// Dex again; that fails, is counted, and the token is still refused.
	forged := 0
	eventually(t, "a failed key set fetch", func() bool {
		req, _ := http.NewRequest("GET", url, nil)
		req.Header.Set("Authorization", "Bearer "+forgedToken(t, dex.Issuer))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		forged++
		if resp.StatusCode != 401 || !strings.Contains(resp.Header.Get("WWW-Authenticate"), "invalid_token") {
			t.Fatalf("unknown key with Dex down: %d %q, want 401", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
		}
		time.Sleep(time.Second)
		return metric(t, g, `raygate_oidc_keyset_fetches_total{issuer="`+dex.Issuer+`",result="failure"}`) != ""
	})
	if v := metric(t, g, `raygate_authentication_failures_total{reason="unknown_key"}`); v != fmt.Sprint(forged) {
		t.Fatalf("unknown_key failures counted %q, want %d", v, forged)
	}
	if c, _ := get(t, url, alice); c != 200 {
		t.Fatalf("after the unknown key: %d", c)
	}
}

// wsFrame reads one WebSocket frame (op code and payload).
func wsFrame(t *testing.T, c net.Conn, br *bufio.Reader) (byte, []byte) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(60 * time.Second))
	var h [2]byte
	if _, err := io.ReadFull(br, h[:]); err != nil {
		t.Fatalf("reading a WebSocket frame: %v", err)
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var b [2]byte
		_, _ = io.ReadFull(br, b[:])
		n = uint64(b[0])<<8 | uint64(b[1])
	case 127:
		var b [8]byte
		_, _ = io.ReadFull(br, b[:])
		n = 0
		for _, x := range b {
			n = n<<8 | uint64(x)
		}
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(br, p); err != nil {
		t.Fatalf("reading a WebSocket frame: %v", err)
	}
	return h[0] & 0x0f, p
}

// TestSIGTERMUnderLoad: under load, SIGTERM fails readiness at once, keeps
// serving for shutdownDelay, then lets requests finish; an open log tail
// gets a WebSocket close frame; no request fails and everything is audited.
func TestSIGTERMUnderLoad(t *testing.T) {
	g := extraGateway(t, "sigterm", func(c *harness.GatewayConfig) { c.Extra = "shutdownDelay: 2s\nshutdownTimeout: 20s\n" })
	alice := token(t, "alice@example.com")
	entry, _ := json.Marshal(map[string]string{"entrypoint": "python -c \"import time\nfor i in range(600):\n    print('line', i, flush=True)\n    time.sleep(0.1)\""})
	job := submitWhenReady(t, requireStack(t).Gateway.URL+"/clusters/team-a/ray1/api/jobs/", alice, string(entry))
	t.Cleanup(func() { call(t, alice, "POST", "/clusters/team-a/ray1/api/jobs/"+job+"/stop", "") })
	waitJob(t, alice, "team-a/ray1", job, "RUNNING")

	conn, err := net.Dial("tcp", strings.TrimPrefix(g.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET /clusters/team-a/ray1/api/jobs/%s/logs/tail HTTP/1.1\r\nHost: gw\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nAuthorization: Bearer %s\r\n\r\n", job, alice)
	br := bufio.NewReader(conn)
	if resp, err := http.ReadResponse(br, nil); err != nil || resp.StatusCode != 101 {
		t.Fatalf("log tail: %v %v", resp, err)
	}
	if op, _ := wsFrame(t, conn, br); op != 1 {
		t.Fatalf("first log tail frame op %d", op)
	}

	// Load: keep-alive clients that stop sending once readiness fails, as
	// a load balancer does.
	var ready atomic.Bool
	ready.Store(true)
	var sent, failed atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Transport: &http.Transport{}, Timeout: 30 * time.Second}
			for ready.Load() {
				req, _ := http.NewRequest("GET", g.URL+"/clusters/team-a/ray1/api/version", nil)
				req.Header.Set("Authorization", "Bearer "+alice)
				resp, err := client.Do(req)
				sent.Add(1)
				if err != nil || resp.StatusCode != 200 {
					failed.Add(1)
					t.Errorf("request during shutdown: %v %v", err, resp)
				}
				if resp != nil {
					resp.Body.Close()
				}
			}
		}()
	}
	time.Sleep(time.Second)
	termAt := time.Now()
	if err := g.Proc.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	eventually(t, "readiness to fail", func() bool { return status(t, g.MetricsURL+"/readyz") == 503 })
	if d := time.Since(termAt); d > 1500*time.Millisecond {
		t.Fatalf("readiness failed %s after SIGTERM, want at once", d)
	}
	// Within shutdownDelay, a new connection is still served.
	if c, _ := get(t, g.URL+"/clusters/team-a/ray1/api/version", alice); c != 200 {
		t.Fatalf("new request during shutdownDelay: %d", c)
	}
	ready.Store(false)
	wg.Wait()

	for {
		op, p := wsFrame(t, conn, br)
		if op == 1 {
			continue
		}
		if op != 8 || len(p) < 2 || int(p[0])<<8|int(p[1]) != 1001 {
			t.Fatalf("log tail ended with op %d % x, want a close frame 1001", op, p)
		}
		break
	}
	if time.Since(termAt) < 2*time.Second {
		t.Fatal("the log tail was closed before shutdownDelay passed")
	}
	_, _ = conn.Write([]byte{0x88, 0x82, 1, 2, 3, 4, 0x03 ^ 1, 0xe9 ^ 2})
	conn.Close()
	if err := g.Proc.Wait(30 * time.Second); err != nil {
		t.Fatalf("raygate did not exit cleanly: %v", err)
	}
	if failed.Load() != 0 || sent.Load() == 0 {
		t.Fatalf("%d of %d requests failed", failed.Load(), sent.Load())
	}
	var tail bool
	var reads int64
	for _, m := range auditRecords(t, g.AuditPath) {
		if strings.HasSuffix(m["path"].(string), "/logs/tail") && m["status"] == float64(101) {
			tail = true
		}
		if m["action"] == "cluster.read" && strings.HasSuffix(m["path"].(string), "/api/version") {
			reads++
		}
	}
	if !tail {
		t.Fatal("the log tail is not in the audit log")
	}
	if reads < sent.Load() {
		t.Fatalf("%d reads audited, %d sent", reads, sent.Load())
	}
}

// TestAbuseLimits: against a real Ray head, a user over its rate gets 429
// with Retry-After, other users do not, and the limited request never
// reaches Ray.
func TestAbuseLimits(t *testing.T) {
	s := requireStack(t)
	g := extraGateway(t, "limits", func(c *harness.GatewayConfig) {
		c.Extra = "limits:\n  perUser: {requestsPerSecond: 0.05, burst: 3}\n"
	})
	alice, bob := token(t, "alice@example.com"), token(t, "bob@example.com")
	url := g.URL + "/clusters/team-a/ray1/api/version"
	for i := 0; i < 3; i++ {
		if c, _ := get(t, url, alice); c != 200 {
			t.Fatalf("request %d: %d", i, c)
		}
	}
	before := len(s.TapA.Seen())
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+alice)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" || !strings.Contains(string(b), `"error":"too_many_requests"`) {
		t.Fatalf("over the limit: %d Retry-After %q %s", resp.StatusCode, resp.Header.Get("Retry-After"), b)
	}
	if n := len(s.TapA.Seen()) - before; n != 0 {
		t.Fatalf("%d limited requests reached Ray", n)
	}
	if c, _ := get(t, url, bob); c != 200 {
		t.Fatalf("bob: %d", c)
	}
	if v := metric(t, g, `raygate_limited_requests_total{cluster="team-a/ray1",limit="rate",scope="user"}`); v != "1" {
		t.Fatalf("limited requests counted %q", v)
	}
}

// TestInvalidConfigUnderLoad: invalid configs written over the file while
// requests flow to a real Ray head are refused one after the other; no
// request fails and the old config stays in force.
func TestInvalidConfigUnderLoad(t *testing.T) {
	g := extraGateway(t, "bad-reloads", nil)
	alice, eve := token(t, "alice@example.com"), token(t, "eve@example.com")
	orig, _ := os.ReadFile(g.ConfigPath)
	valid := string(orig)
	stop := make(chan struct{})
	var sent, failed atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Transport: &http.Transport{}, Timeout: 30 * time.Second}
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				bearer, want := alice, 200
				if i%3 == 0 {
					bearer, want = eve, 404 // eve has no role on team-a
				}
				req, _ := http.NewRequest("GET", g.URL+"/clusters/team-a/ray1/api/version", nil)
				req.Header.Set("Authorization", "Bearer "+bearer)
				resp, err := client.Do(req)
				sent.Add(1)
				if err != nil || resp.StatusCode != want {
					failed.Add(1)
					t.Errorf("request during refused reloads: %v %v", err, resp)
				}
				if resp != nil {
					resp.Body.Close()
				}
			}
		}()
	}
	bad := []string{
		valid + "clusters: [\n",
		valid + "not_a_field: 1\n",
		strings.Replace(valid, "role: developer", "role: owner", 1),
		strings.Replace(valid, "{role: viewer, groups: [team-a-viewers]}", "{role: viewer, groups: [team-a-viewers]}\n      - {role: admin, users: [eve@example.com]}", 1) + "limits: {perUser: {requestsPerSecond: -1}}\n",
		"",
	}
	for i, text := range bad {
		writeAtomic(t, g.ConfigPath, text)
		eventually(t, fmt.Sprintf("refused reload %d", i+1), func() bool {
			return metric(t, g, `raygate_config_reloads_total{result="failure"}`) == fmt.Sprint(i+1)
		})
	}
	close(stop)
	wg.Wait()
	if failed.Load() != 0 || sent.Load() == 0 {
		t.Fatalf("%d of %d requests failed", failed.Load(), sent.Load())
	}
	if c, _ := get(t, g.URL+"/clusters/team-a/ray1/api/version", eve); c != 404 {
		t.Fatalf("eve after the refused reloads: %d, want the old config (404)", c)
	}
}
