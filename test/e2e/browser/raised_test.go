//go:build e2e

package browser_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"

	"github.com/raygate/raygate/test/e2e/harness"
)

// TestRaisedLogsRead: an operator raises logs.read to developer on
// team-a. carol, a viewer, still uses the dashboard: the job's page shows
// the job, and where it would show the log Ray's dashboard says "Failed to
// load" (its own words for any refused request; raygate's JSON answer,
// which names the action and the role, is what the dashboard's request
// got). The dashboard does not ask for Ray's token, and nothing else on
// the page breaks.
func TestRaisedLogsRead(t *testing.T) {
	s := requireStack(t)
	gw := s.Gateway.URL
	job := submit(t, s, "python", "-c", "print('not for ' * 2 + 'viewers')")
	cfg := s.Config
	cfg.Clusters = append(cfg.Clusters[:0:0], cfg.Clusters...)
	cfg.Clusters[0].ActionRoles = "{logs.read: developer}"
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := s.Gateway.Rewrite(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := s.Gateway.Rewrite(ctx, s.Config); err != nil {
			t.Error(err)
		}
	}()

	c := chromium(t, "raised")
	signIn(t, c, gw, "carol@example.com")
	dash := gw + "/clusters/team-a/ray1/"
	mark := c.Net.Mark()
	must[*network.Response](t)(c.Navigate(dash + "#/jobs/" + job))
	text, err := c.WaitText(60*time.Second, job, "SUCCEEDED", "Failed to load")
	screenshot(t, c, "raised-logs-read")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(text, "not for not for viewers") || strings.Contains(text, "Authentication Token Required") {
		t.Fatalf("the job page:\n%s", text)
	}
	refused := false
	for _, x := range c.Net.Since(mark, dash) {
		if strings.Contains(x.URL, "/api/v0/logs/file?") && x.Status == 403 {
			refused = true
		} else if x.Status == 401 || x.Status == 403 {
			t.Errorf("%s %s: %d", x.Method, x.URL, x.Status)
		}
	}
	if !refused {
		t.Fatal("the dashboard's log read was not refused")
	}
	// What the dashboard's request got: the action and the role.
	got := must[string](t)(harness.Eval[string](c, `fetch("api/v0/logs/file?node_id=x&filename=y").then(async r => r.status + " " + await r.text())`))
	if !strings.HasPrefix(got, "403 ") || !strings.Contains(got, `"action":"logs.read"`) || !strings.Contains(got, `"required_role":"developer"`) {
		t.Fatalf("the dashboard's log read got: %s", got)
	}
}
