// Package ui renders raygate's own pages for browsers: the landing page
// (who you are and the clusters you can reach), the sign-in chooser, the
// sign-out pages, and error pages; and it decides, in one place, whether
// an answer goes to a browser as a page or to an API client as JSON. Pages
// are server-rendered with html/template, need no external asset (the
// style and the logo are inline) and are served with a strict Content
// Security Policy.
package ui

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

//go:embed templates
var files embed.FS

// logoSVG is raygate's mark: an arch (the gate) over a ray.
const logoSVG = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32" width="28" height="28" aria-hidden="true" focusable="false">` +
	`<rect width="32" height="32" rx="8" fill="#3f3cbb"/>` +
	`<path d="M9 25V15a7 7 0 0 1 14 0v10" fill="none" stroke="#fff" stroke-width="2.6" stroke-linecap="round"/>` +
	`<path d="M16 12.5V25" stroke="#b9bbff" stroke-width="2.6" stroke-linecap="round"/></svg>`

var (
	style = func() string {
		b, err := files.ReadFile("templates/style.css")
		if err != nil {
			panic(err)
		}
		return strings.TrimSpace(string(b))
	}()
	// csp allows nothing but the inline style (by its hash) and data:
	// images (the favicon).
	csp = func() string {
		sum := sha256.Sum256([]byte(style))
		return "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) +
			"'; img-src data:; base-uri 'none'; frame-ancestors 'none'"
	}()
	funcs = template.FuncMap{
		"style":   func() template.CSS { return template.CSS(style) },
		"logo":    func() template.HTML { return template.HTML(logoSVG) },
		"favicon": func() template.URL { return template.URL("data:image/svg+xml," + url.PathEscape(logoSVG)) },
		"join":    strings.Join,
		"initial": initial,
	}
	pages = map[string]*template.Template{}
)

func init() {
	for _, name := range []string{"landing", "problem", "chooser", "signedout", "signout"} {
		pages[name] = template.Must(template.New(name).Funcs(funcs).ParseFS(files, "templates/base.html", "templates/"+name+".html"))
	}
}

// User is the signed-in person shown in the page header.
type User struct {
	// Name is the user name raygate knows them by.
	Name string
	// CanSignOut shows the sign-out button (sessions from browser
	// sign-in; not IAP or bearer tokens, which raygate cannot end).
	CanSignOut bool
}

// ClusterLink is one cluster on the landing page.
type ClusterLink struct {
	Namespace, Name string
	// Role is the caller's role there: viewer, developer or admin.
	Role string
	// URL is the cluster's dashboard.
	URL string
	// RoleHelp says what the role allows.
	RoleHelp string
}

// Landing is the landing page: the caller and their clusters.
type Landing struct {
	User     User
	Method   string
	Groups   []string
	Clusters []ClusterLink
	// Until is when the session ends, zero if not known.
	Until time.Time
}

// RoleHelp says in a sentence what a role allows on a cluster.
func RoleHelp(role string) string {
	switch role {
	case "viewer":
		return "Read only: the dashboard, jobs, logs and cluster state."
	case "developer":
		return "Submit jobs and stop your own, plus everything a viewer sees."
	case "admin":
		return "Full control: stop any job, deploy Serve applications, profile workers."
	}
	return ""
}

// RenderLanding writes the landing page.
func RenderLanding(w http.ResponseWriter, l Landing) {
	render(w, http.StatusOK, "landing", struct {
		Landing
		Title, RequestID string
		User             *User
	}{Landing: l, Title: "Your Ray clusters", User: &l.User})
}

// Issuer is one way to sign in on the chooser page.
type Issuer struct {
	// Name is shown on the button; URL starts the sign-in.
	Name, URL string
}

// RenderChooser writes the page that lets a browser pick an issuer.
func RenderChooser(w http.ResponseWriter, issuers []Issuer) {
	render(w, http.StatusOK, "chooser", struct {
		Title, RequestID string
		User             *User
		Issuers          []Issuer
	}{Title: "Sign in", Issuers: issuers})
}

// RenderSignedOut writes the page shown after sign-out. idpKept says the
// identity provider's own session could not be ended.
func RenderSignedOut(w http.ResponseWriter, idpKept bool) {
	render(w, http.StatusOK, "signedout", struct {
		Title, RequestID string
		User             *User
		IdPKept          bool
	}{Title: "Signed out", IdPKept: idpKept})
}

// RenderSignOut writes the page that asks to confirm sign-out (signing
// out takes a POST, so no other site can sign a browser out with a link).
func RenderSignOut(w http.ResponseWriter, u *User, idp bool) {
	render(w, http.StatusOK, "signout", struct {
		Title, RequestID string
		User             *User
		IdP              bool
	}{Title: "Sign out", User: u, IdP: idp})
}

func render(w http.ResponseWriter, status int, name string, data any) {
	var buf bytes.Buffer
	if err := pages[name].ExecuteTemplate(&buf, "base", data); err != nil {
		slog.Error("ui: rendering a page failed", "page", name, "error", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	SetPageHeaders(w.Header())
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// SetPageHeaders sets the headers every raygate page carries: HTML, never
// cached, never framed, no referrer to other sites, and the Content
// Security Policy. (With no referrer at all, browsers would send "Origin:
// null" with the sign-out form, and raygate could not tell it from a
// cross-site POST.)
func SetPageHeaders(h http.Header) {
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
}

func initial(name string) string {
	r, _ := utf8.DecodeRuneInString(name)
	if r == utf8.RuneError || !unicode.IsLetter(r) && !unicode.IsDigit(r) {
		return "?"
	}
	return string(unicode.ToUpper(r))
}
