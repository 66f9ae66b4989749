package harness

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// RequireChromium returns the Chromium binary scripts/install-chromium.sh
// installed (RAYGATE_CHROMIUM); without it the test fails under CI and is
// skipped otherwise.
func RequireChromium(t testing.TB) string {
	t.Helper()
	return RequireEnv(t, "RAYGATE_CHROMIUM", "Chromium", "scripts/install-chromium.sh installs Debian's chromium and prints its path")
}

// Chromium is a headless Chromium with a fresh profile, driven over the
// DevTools protocol, that records every request its pages make.
type Chromium struct {
	// Dir is the browser's profile (user data dir).
	Dir string
	// Net records the requests of the browser's pages.
	Net *NetworkLog

	ctx         context.Context
	cancel      context.CancelFunc
	allocCancel context.CancelFunc
}

// ChromiumFlags are the command-line switches the browser runs with,
// besides its profile folder: headless, as root in a container, with no
// traffic of its own.
var ChromiumFlags = []string{"headless", "no-sandbox", "disable-gpu", "no-first-run", "disable-background-networking", "disable-component-update", "disable-sync"}

// StartChromium starts bin with ChromiumFlags and a fresh profile under
// dir, and opens a tab. Stop it with Close.
func StartChromium(ctx context.Context, bin, dir string) (*Chromium, error) {
	profile, err := os.MkdirTemp(dir, "chromium-profile-")
	if err != nil {
		return nil, err
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(bin), chromedp.UserDataDir(profile), chromedp.WindowSize(1366, 900),
		chromedp.Flag("no-default-browser-check", true), chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("password-store", "basic"), chromedp.Flag("disable-features", "Translate"),
	}
	for _, f := range ChromiumFlags {
		opts = append(opts, chromedp.Flag(f, true))
	}
	actx, allocCancel := chromedp.NewExecAllocator(ctx, opts...)
	bctx, cancel := chromedp.NewContext(actx)
	c := &Chromium{Dir: profile, Net: &NetworkLog{byID: map[network.RequestID]*Exchange{}}, ctx: bctx, cancel: cancel, allocCancel: allocCancel}
	if err := chromedp.Do(bctx); err != nil { // starts the browser
		c.Close()
		return nil, fmt.Errorf("chromium: start %s: %w", bin, err)
	}
	if err := chromedp.Listen(bctx, c.Net.record); err != nil {
		c.Close()
		return nil, fmt.Errorf("chromium: listen: %w", err)
	}
	return c, nil
}

// Close stops the browser.
func (c *Chromium) Close() {
	c.cancel()
	c.allocCancel()
}

// Context is the tab's context, for chromedp calls of a test's own.
func (c *Chromium) Context() context.Context { return c.ctx }

// timed returns the tab's context bounded by d.
func (c *Chromium) timed(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(c.ctx, d)
}

// Navigate loads url and returns the main document's response (nil when
// the navigation ends without one, as on a same-document hash change).
func (c *Chromium) Navigate(url string) (*network.Response, error) {
	ctx, cancel := c.timed(60 * time.Second)
	defer cancel()
	return chromedp.Run(ctx, chromedp.NavigateResponse(url))
}

// Location is the tab's current URL.
func (c *Chromium) Location() (string, error) {
	ctx, cancel := c.timed(10 * time.Second)
	defer cancel()
	return chromedp.Run(ctx, chromedp.Location())
}

// Text is the visible text of the page.
func (c *Chromium) Text() (string, error) {
	ctx, cancel := c.timed(10 * time.Second)
	defer cancel()
	return chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
}

// WaitText waits until the page's visible text holds every one of want,
// and returns the text.
func (c *Chromium) WaitText(timeout time.Duration, want ...string) (string, error) {
	deadline := time.Now().Add(timeout)
	var text string
	for {
		var err error
		text, err = c.Text()
		if err == nil {
			missing := ""
			for _, w := range want {
				if !strings.Contains(text, w) {
					missing = w
					break
				}
			}
			if missing == "" {
				return text, nil
			}
			if time.Now().After(deadline) {
				return text, fmt.Errorf("chromium: the page never showed %q; it shows:\n%s", missing, clip(text, 3000))
			}
		} else if time.Now().After(deadline) {
			return "", fmt.Errorf("chromium: reading the page: %w", err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// WaitURL waits until the tab's URL starts with prefix.
func (c *Chromium) WaitURL(timeout time.Duration, prefix string) (string, error) {
	deadline := time.Now().Add(timeout)
	for {
		u, err := c.Location()
		if err == nil && strings.HasPrefix(u, prefix) {
			return u, nil
		}
		if time.Now().After(deadline) {
			return u, fmt.Errorf("chromium: the tab is at %q, not under %q", u, prefix)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// Click clicks the first element css selects, once it is visible.
func (c *Chromium) Click(css string) error {
	ctx, cancel := c.timed(30 * time.Second)
	defer cancel()
	return chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(css)), chromedp.Click(chromedp.CSS(css)))
}

// Fill types value into the field css selects.
func (c *Chromium) Fill(css, value string) error {
	ctx, cancel := c.timed(30 * time.Second)
	defer cancel()
	return chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(css)), chromedp.SendKeys(chromedp.CSS(css), value))
}

// Eval evaluates a JavaScript expression in the page (awaiting a
// promise) and decodes its result into T.
func Eval[T any](c *Chromium, expr string) (T, error) {
	ctx, cancel := c.timed(30 * time.Second)
	defer cancel()
	return chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
}

// Screenshot saves the whole page as a PNG.
func (c *Chromium) Screenshot(path string) error {
	ctx, cancel := c.timed(30 * time.Second)
	defer cancel()
	b, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		return fmt.Errorf("chromium: screenshot: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

// Cookies returns the cookies the browser would send to url.
func (c *Chromium) Cookies(url string) ([]*network.Cookie, error) {
	ctx, cancel := c.timed(10 * time.Second)
	defer cancel()
	res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{url}})
	if err != nil {
		return nil, err
	}
	return res.Cookies, nil
}

// SetHeaders makes the tab send headers with every request from now on
// (as a proxy in front of raygate would add them).
func (c *Chromium) SetHeaders(h map[string]string) error {
	ctx, cancel := c.timed(10 * time.Second)
	defer cancel()
	hs := network.Headers{}
	for k, v := range h {
		hs[k] = v
	}
	_, err := chromedp.Call(ctx, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: hs})
	return err
}

// DexSignIn fills and submits Dex's password form, which the tab must be
// on or be about to reach.
func (c *Chromium) DexSignIn(email, password string) error {
	if _, err := c.WaitText(60*time.Second, "Log in to Your Account"); err != nil {
		return fmt.Errorf("chromium: Dex's login page: %w", err)
	}
	if err := c.Fill("#login", email); err != nil {
		return err
	}
	if err := c.Fill("#password", password); err != nil {
		return err
	}
	return c.Click("#submit-login")
}

// Exchange is one request a page made, and how it ended.
type Exchange struct {
	Method string `json:"method"`
	URL    string `json:"url"`
	// Type is the resource type: Document, XHR, Fetch, Script...
	Type string `json:"type"`
	// Status is the HTTP status, 0 when the request failed.
	Status int `json:"status"`
	// Failed is the network error of a request that got no answer.
	Failed string `json:"failed,omitempty"`
	// Console holds console errors and exceptions (URL is empty then).
	Console string `json:"console,omitempty"`
	seq     int
}

// NetworkLog records a browser's requests, redirects included, and its
// console errors.
type NetworkLog struct {
	mu   sync.Mutex
	byID map[network.RequestID]*Exchange
	all  []*Exchange
}

func (l *NetworkLog) record(ev any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch e := ev.(type) {
	case *network.EventRequestWillBeSent:
		if prev, ok := l.byID[e.RequestID]; ok && e.RedirectResponse != nil {
			prev.Status = int(e.RedirectResponse.Status)
		}
		x := &Exchange{Method: e.Request.Method, URL: e.Request.URL, Type: string(e.Type), seq: len(l.all)}
		l.byID[e.RequestID] = x
		l.all = append(l.all, x)
	case *network.EventResponseReceived:
		if x, ok := l.byID[e.RequestID]; ok {
			x.Status = int(e.Response.Status)
		}
	case *network.EventLoadingFailed:
		if x, ok := l.byID[e.RequestID]; ok {
			x.Failed = e.ErrorText
		}
	case *runtime.EventExceptionThrown:
		l.all = append(l.all, &Exchange{Console: "exception: " + e.ExceptionDetails.Text, seq: len(l.all)})
	case *runtime.EventConsoleAPICalled:
		if e.Type == runtime.ConsoleAPICalledTypeError {
			var parts []string
			for _, a := range e.Args {
				parts = append(parts, strings.Trim(string(a.Value), `"`))
			}
			l.all = append(l.all, &Exchange{Console: "console.error: " + strings.Join(parts, " "), seq: len(l.all)})
		}
	}
}

// Mark returns a position in the log, for Since.
func (l *NetworkLog) Mark() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.all)
}

// Since returns copies of the exchanges recorded after mark whose URL
// starts with prefix ("" for all, console entries included).
func (l *NetworkLog) Since(mark int, prefix string) []Exchange {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []Exchange
	for _, x := range l.all[min(mark, len(l.all)):] {
		if prefix == "" || (x.URL != "" && strings.HasPrefix(x.URL, prefix)) {
			out = append(out, *x)
		}
	}
	return out
}

// Save writes the whole log as JSON, one exchange per line.
func (l *NetworkLog) Save(path string) error {
	var b strings.Builder
	for _, x := range l.Since(0, "") {
		j, _ := json.Marshal(x)
		b.Write(j)
		b.WriteByte('\n')
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
