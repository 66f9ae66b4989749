//go:build e2e

package browser_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"

	"github.com/raygate/raygate/test/e2e/harness"
)

var submissionID = regexp.MustCompile(`raysubmit_[A-Za-z0-9]+`)

// submit runs a job on team-a through raygate with the unchanged Ray CLI,
// as alice (developer), and returns its submission id once it succeeded.
func submit(t *testing.T, s *harness.Stack, entrypoint ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	tok, err := s.Dex.Token(ctx, "alice@example.com")
	if err != nil {
		t.Fatal(err)
	}
	hdr, _ := json.Marshal(map[string]string{"Authorization": "Bearer " + tok})
	out, err := harness.RayCLI(ctx, components.RayVenv, nil, append([]string{"job", "submit", "--address", s.Gateway.URL + "/clusters/team-a/ray1", "--headers", string(hdr), "--"}, entrypoint...)...)
	id := submissionID.FindString(out)
	if err != nil || id == "" || !strings.Contains(out, "succeeded") {
		t.Fatalf("ray job submit: %v\n%s", err, out)
	}
	return id
}

// signIn opens raygate's home page, signs in on Dex's login page and waits
// for the landing page.
func signIn(t *testing.T, c *harness.Chromium, gw, email string) string {
	t.Helper()
	if _, err := c.Navigate(gw + "/"); err != nil {
		t.Fatal(err)
	}
	if u := must[string](t)(c.Location()); !strings.Contains(u, "/dex/") {
		t.Fatalf("without a session the home page went to %s, not to Dex", u)
	}
	if err := c.DexSignIn(email, harness.Password); err != nil {
		t.Fatal(err)
	}
	if _, err := c.WaitURL(30*time.Second, gw+"/"); err != nil {
		t.Fatal(err)
	}
	return must[string](t)(c.WaitText(30*time.Second, "Signed in", email))
}

// TestViewerDashboard is the story of a viewer: carol signs in on Dex's
// real login page, sees team-a only, opens team-a's Ray dashboard, finds
// the job alice submitted through the CLI and its log (on the job's page
// and in the Logs tab), cannot reach team-b, and signs out. Every request
// the dashboard makes is checked: none gets a refusal or an error from
// raygate, and the few Ray itself answers with an error are Ray's own.
func TestViewerDashboard(t *testing.T) {
	s := requireStack(t)
	gw := s.Gateway.URL
	// What the job prints is not in its entrypoint, which the dashboard
	// shows too.
	const printed = "log line log line read in a browser"
	job := submit(t, s, "python", "-c", "print('log line ' * 2 + 'read in a browser')")
	c := chromium(t, "viewer")

	landing := signIn(t, c, gw, "carol@example.com")
	if !strings.Contains(landing, "Your Ray clusters") || !strings.Contains(landing, "team-a") || !strings.Contains(landing, "ray1") ||
		!strings.Contains(strings.ToLower(landing), "viewer") || strings.Contains(landing, "team-b") {
		t.Fatalf("landing page:\n%s", landing)
	}
	screenshot(t, c, "landing")
	cookies := must[[]*network.Cookie](t)(c.Cookies(gw + "/"))
	var session *network.Cookie
	for _, k := range cookies {
		if k.Name == "raygate-session" {
			session = k
		}
		if strings.HasPrefix(k.Name, "raygate-login-") {
			t.Errorf("the sign-in cookie %s outlived the sign-in", k.Name)
		}
	}
	if session == nil || !session.HTTPOnly || session.SameSite != network.CookieSameSiteLax {
		t.Fatalf("session cookie %+v", session)
	}

	mark, auditMark := c.Net.Mark(), fileSize(s.Gateway.AuditPath)
	dash := gw + "/clusters/team-a/ray1/"
	if err := c.Click(`a[href="/clusters/team-a/ray1/"]`); err != nil {
		t.Fatal(err)
	}
	if _, err := c.WaitURL(30*time.Second, dash); err != nil {
		t.Fatal(err)
	}
	must[string](t)(c.WaitText(60*time.Second, "Jobs", "Cluster"))

	// The Jobs view lists the job submitted through the CLI.
	must[*network.Response](t)(c.Navigate(dash + "#/jobs"))
	must[string](t)(c.WaitText(90*time.Second, job))
	screenshot(t, c, "dashboard-jobs")

	// The job's page shows its log.
	must[*network.Response](t)(c.Navigate(dash + "#/jobs/" + job))
	must[string](t)(c.WaitText(90*time.Second, printed))
	screenshot(t, c, "dashboard-job")

	// The Logs tab: the head node, then the job's driver log.
	must[*network.Response](t)(c.Navigate(dash + "#/logs"))
	nodeLink := waitLink(t, c, "nodeId=")
	must[*network.Response](t)(c.Navigate(nodeLink))
	driverLog := waitLink(t, c, "job-driver-"+job)
	must[*network.Response](t)(c.Navigate(driverLog))
	must[string](t)(c.WaitText(90*time.Second, printed))
	screenshot(t, c, "dashboard-logs")

	// Let the dashboard's timers fire once more, then read the log.
	time.Sleep(5 * time.Second)
	checkDashboardRequests(t, s, c.Net.Since(mark, dash), dash, auditMark)

	// team-b's dashboard does not exist for carol.
	resp := must[*network.Response](t)(c.Navigate(gw + "/clusters/team-b/ray1/"))
	if resp == nil || resp.Status != http.StatusNotFound {
		t.Fatalf("team-b's dashboard: %+v", resp)
	}
	must[string](t)(c.WaitText(10*time.Second, "There is nothing here for you"))

	// An action a viewer may not take is a page that says why.
	resp = must[*network.Response](t)(c.Navigate(dash + "worker/traceback?pid=1&node_id=x"))
	if resp == nil || resp.Status != http.StatusForbidden {
		t.Fatalf("a viewer's traceback: %+v", resp)
	}
	must[string](t)(c.WaitText(10*time.Second, "cluster.admin", "admin", "Your role on team-a/ray1 is viewer"))
	screenshot(t, c, "forbidden")

	// Sign-out ends the session.
	must[*network.Response](t)(c.Navigate(gw + "/"))
	if err := c.Click(`form[action="/_raygate/sign-out"] button`); err != nil {
		t.Fatal(err)
	}
	must[string](t)(c.WaitURL(30*time.Second, gw+"/_raygate/signed-out"))
	must[string](t)(c.WaitText(10*time.Second, "You have signed out"))
	for _, k := range must[[]*network.Cookie](t)(c.Cookies(gw + "/")) {
		if k.Name == "raygate-session" {
			t.Fatal("the session cookie survived sign-out")
		}
	}
	must[*network.Response](t)(c.Navigate(dash))
	if u := must[string](t)(c.Location()); !strings.Contains(u, "/dex/") {
		t.Fatalf("after sign-out the dashboard went to %s, not to sign-in", u)
	}
}

// waitLink waits for a link whose URL contains part, and returns it.
func waitLink(t *testing.T, c *harness.Chromium, part string) string {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		links, err := harness.Eval[[]string](c, `Array.from(document.querySelectorAll('a')).map(a => a.href)`)
		if err == nil {
			for _, l := range links {
				if strings.Contains(l, part) {
					return l
				}
			}
		}
		if time.Now().After(deadline) {
			text, _ := c.Text()
			t.Fatalf("no link with %q; links %v; page:\n%s", part, links, text)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// rayAnswers lists requests Ray itself answers with an error on these test
// clusters, whoever asks: no Prometheus or Grafana runs, Ray Serve is not
// installed, platform events are off.
var rayAnswers = map[string]bool{
	"GET /api/grafana_health":      true,
	"GET /api/prometheus_health":   true,
	"GET /api/serve/applications/": true,
	"HEAD /api/v0/platform_events": true,
}

// checkDashboardRequests asserts that none of the dashboard's requests got
// 401, 403, 404 or 5xx from raygate: each such answer must be Ray's own,
// which the same request sent to Ray directly with the cluster's token
// proves, and which the audit log shows raygate allowed.
func checkDashboardRequests(t *testing.T, s *harness.Stack, log []harness.Exchange, dash string, auditMark int64) {
	t.Helper()
	seen := map[string]bool{}
	for _, x := range log {
		u, err := url.Parse(x.URL)
		if err != nil {
			t.Fatal(err)
		}
		rest := "/" + strings.TrimPrefix(u.Path, strings.TrimSuffix(mustPath(t, dash), "/")+"/")
		key := x.Method + " " + rest
		seen[key] = true
		if x.Failed != "" && !strings.Contains(x.Failed, "ERR_ABORTED") {
			t.Errorf("%s failed: %s", key, x.Failed)
			continue
		}
		bad := x.Status == 401 || x.Status == 403 || x.Status == 404 || x.Status >= 500
		if !bad {
			continue
		}
		if !rayAnswers[key] {
			t.Errorf("the dashboard's %s got %d", key, x.Status)
			continue
		}
		direct := rayStatus(t, s, x.Method, rest+query(u))
		if direct != x.Status {
			t.Errorf("the dashboard's %s got %d through raygate, Ray answers %d itself", key, x.Status, direct)
		}
	}
	for _, want := range []string{"GET /api/jobs/", "GET /api/v0/logs/file", "GET /nodes", "GET /api/cluster_status", "GET /static/js/main.84605326.js"} {
		if !seen[want] {
			t.Errorf("the dashboard never requested %s; it requested %v", want, keys(seen))
		}
	}
	// Reads' audit lines are written in batches a few milliseconds apart.
	time.Sleep(100 * time.Millisecond)
	b, _ := os.ReadFile(s.Gateway.AuditPath)
	for _, line := range strings.Split(string(b[auditMark:]), "\n") {
		var e struct{ User, Path, Decision, Reason string }
		if json.Unmarshal([]byte(line), &e) != nil || e.User != "carol@example.com" || !strings.HasPrefix(e.Path, "/clusters/team-a/") {
			continue
		}
		if e.Decision != "allow" {
			t.Errorf("raygate refused the dashboard's %s: %s", e.Path, e.Reason)
		}
	}
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func mustPath(t *testing.T, raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.Path
}

func query(u *url.URL) string {
	if u.RawQuery == "" {
		return ""
	}
	return "?" + u.RawQuery
}

// rayStatus sends a request straight to team-a's Ray head with the
// cluster's token and returns the status.
func rayStatus(t *testing.T, s *harness.Stack, method, rest string) int {
	t.Helper()
	req, err := http.NewRequest(method, s.RayA.Dashboard+rest, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Ray-Authorization", "Bearer "+s.RayA.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func fileSize(path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return st.Size()
}
