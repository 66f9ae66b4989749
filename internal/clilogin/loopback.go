package clilogin

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"html/template"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/raygate/raygate/internal/oidcclient"
)

// CallbackPath is the path of the loopback redirect URI.
const CallbackPath = "/callback"

// DefaultWait is how long the browser flow waits for the browser.
const DefaultWait = 5 * time.Minute

// result is what the one accepted callback brought.
type result struct {
	tok *oidcclient.Token
	err error
}

// loopback signs in with the authorization code flow and PKCE, the
// browser coming back to a listener on 127.0.0.1 with a port of the
// system's choosing (RFC 8252 §7.3). The listener answers only
// GET /callback for its own host and port, and accepts one callback: the
// one whose state matches, after which it closes. Other requests get an
// error page and do not end the wait, so no other page can end or steal
// the sign-in. It returns the tokens and the nonce sent.
func (c *Client) loopback(ctx context.Context, issuer string, p *oidcclient.Provider, oc *oidcclient.Client, wait time.Duration) (*oidcclient.Token, string, error) {
	if wait <= 0 {
		wait = DefaultWait
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", problem(err, "cannot listen on 127.0.0.1 for the browser to come back (%s): run raygate login --device", cause(err))
	}
	host := "127.0.0.1:" + strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	redirect := "http://" + host + CallbackPath
	state, nonce, verifier := oidcclient.RandomString(32), oidcclient.RandomString(32), oidcclient.NewVerifier()

	done := make(chan result, 1)
	h := &callback{host: host, state: state, issuer: issuer}
	h.finish = func(code string, cerr error) result {
		res := result{err: cerr}
		if cerr == nil {
			res.tok, res.err = oc.Exchange(ctx, p, code, verifier, redirect)
			if res.err != nil {
				res.err = c.providerError(ctx, issuer, res.err)
			}
		}
		done <- res
		return res
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx) // lets the last page finish
	}()

	authURL := oc.AuthCodeURL(p, redirect, state, nonce, verifier)
	fmt.Fprintf(c.out(), "To sign in, open this page in a browser on this computer:\n\n    %s\n\n", authURL)
	c.openPage(authURL)
	fmt.Fprintf(c.out(), "Waiting for the browser to come back to %s (at most %s)...\n", redirect, wait.Round(time.Second))

	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case res := <-done:
		return res.tok, nonce, res.err
	case <-ctx.Done():
		return nil, "", errInterrupted(ctx.Err())
	case <-timer.C:
		return nil, "", errNoCallback(wait)
	}
}

// callback serves the loopback listener.
type callback struct {
	host, state, issuer string
	// finish settles the sign-in with the callback's code or error and
	// returns the outcome; it is called once.
	finish func(code string, err error) result
	mu     sync.Mutex
	used   bool
}

func (h *callback) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Host != h.host:
		// Another name for this address (DNS rebinding): not the browser
		// the provider sent back.
		page(w, http.StatusBadRequest, "Wrong address", "This address serves only the sign-in of raygate login.")
		return
	case r.URL.Path != CallbackPath:
		page(w, http.StatusNotFound, "Not found", "This address serves only the sign-in of raygate login.")
		return
	case r.Method != http.MethodGet:
		w.Header().Set("Allow", "GET")
		page(w, http.StatusMethodNotAllowed, "Method not allowed", "Use GET.")
		return
	}
	q := r.URL.Query()
	if subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(h.state)) != 1 {
		page(w, http.StatusBadRequest, "Not this sign-in", "This page does not belong to the sign-in raygate login is waiting for. Start again from the terminal.")
		return
	}
	h.mu.Lock()
	used := h.used
	h.used = true
	h.mu.Unlock()
	if used {
		page(w, http.StatusGone, "Already done", "This sign-in has already come back. Return to the terminal.")
		return
	}
	var err error
	code := q.Get("code")
	switch e := q.Get("error"); {
	case e == oidcclient.ErrAccessDenied:
		err = errDenied(h.issuer)
	case e != "":
		te := &oidcclient.TokenError{Code: e}
		if desc := q.Get("error_description"); printable(desc) && len(desc) < 300 {
			te.Description = desc
		}
		if !printable(e) || len(e) > 100 {
			te.Code = "unexpected_response"
		}
		err = errRefused(h.issuer, te)
	case code == "":
		err = errRefused(h.issuer, errors.New("the answer has no code"))
	}
	res := h.finish(code, err)
	if res.err != nil {
		page(w, http.StatusBadRequest, "Sign-in failed", res.err.Error())
		return
	}
	page(w, http.StatusOK, "Signed in", "raygate login has what it needs. You can close this tab and return to the terminal.")
}

var pageTmpl = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>raygate login: {{.Title}}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem;color:#222}h1{font-size:1.4rem}</style>
</head><body><h1>{{.Title}}</h1><p>{{.Text}}</p></body></html>
`))

// page answers with a small HTML page that nothing may frame or cache.
func page(w http.ResponseWriter, status int, title, text string) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'")
	w.WriteHeader(status)
	_ = pageTmpl.Execute(w, struct{ Title, Text string }{title, text})
}
