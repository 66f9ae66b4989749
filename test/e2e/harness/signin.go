package harness

import (
	"context"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
)

// NewBrowserClient returns an HTTP client that keeps cookies like a
// browser but follows no redirect, so a test can stop anywhere in a
// sign-in and look.
func NewBrowserClient() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

var formAction = regexp.MustCompile(`(?s)<form[^>]*method="post"[^>]*action="([^"]+)"`)

// SignInCallback walks a browser sign-in from start (a raygate URL that
// leads to sign-in) through Dex's password form as email, and returns the
// callback URL Dex sends the browser back to, not yet visited, with c
// holding the sign-in's cookie. callbackPrefix is raygate's callback URL.
func (d *Dex) SignInCallback(ctx context.Context, c *http.Client, start, email, callbackPrefix string) (string, error) {
	next, method, form := start, "GET", url.Values(nil)
	for i := 0; i < 20; i++ {
		var body io.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		}
		req, err := http.NewRequestWithContext(ctx, method, next, body)
		if err != nil {
			return "", err
		}
		req.Header.Set("Accept", "text/html")
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		resp, err := c.Do(req)
		if err != nil {
			return "", err
		}
		page, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		method, form = "GET", nil
		switch {
		case resp.StatusCode >= 300 && resp.StatusCode < 400:
			loc, err := resp.Request.URL.Parse(resp.Header.Get("Location"))
			if err != nil {
				return "", err
			}
			if strings.HasPrefix(loc.String(), callbackPrefix) {
				return loc.String(), nil
			}
			next = loc.String()
		case resp.StatusCode == http.StatusOK:
			m := formAction.FindSubmatch(page)
			if m == nil {
				return "", fmt.Errorf("dex sign-in: %s has no login form:\n%s", next, clip(string(page), 2000))
			}
			action, err := resp.Request.URL.Parse(html.UnescapeString(string(m[1])))
			if err != nil {
				return "", err
			}
			next, method, form = action.String(), "POST", url.Values{"login": {email}, "password": {Password}}
		default:
			return "", fmt.Errorf("dex sign-in: %s answered %s:\n%s", next, resp.Status, clip(string(page), 2000))
		}
	}
	return "", fmt.Errorf("dex sign-in: too many steps from %s", start)
}

// RayCLI runs the Ray CLI of the virtualenv venv with env added, and
// returns its combined output.
func RayCLI(ctx context.Context, venv string, env []string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(venv, "bin", "ray"), args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}
