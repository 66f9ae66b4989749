package ui

import (
	"encoding/json"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/raygate/raygate/internal/proxy"
)

// Problem is an error answer, shown to a browser as a page and to an API
// client as JSON.
type Problem struct {
	// Status is the HTTP status.
	Status int
	// Code is the machine-readable error (the JSON body's error).
	Code string
	// Message is safe to show the caller and says what happened.
	Message string
	// RequestID ties the answer to its audit line.
	RequestID string
	// Action, Needs, Role and Cluster explain an authorization refusal:
	// the Ray action, the least role it needs, the caller's role, and the
	// cluster.
	Action, Needs, Role, Cluster string
	// SignIn, when set, is a sign-in link to offer.
	SignIn string
	// Heading, when set, titles the page instead of the status's default.
	Heading string
	// User, when known, is shown in the page's header.
	User *User
}

// WriteProblem answers r with p: a page when r comes from a browser that
// wants one (WantsHTML), JSON otherwise.
func WriteProblem(w http.ResponseWriter, r *http.Request, p Problem) {
	if WantsHTML(r) {
		renderProblem(w, p)
		return
	}
	b, _ := json.Marshal(proxy.ErrorBody{Error: p.Code, Message: p.Message, RequestID: p.RequestID,
		Action: p.Action, RequiredRole: p.Needs, Role: p.Role})
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(p.Status)
	_, _ = w.Write(append(b, '\n'))
}

// WriteError is WriteProblem for an error with only a status, a code and a
// message; it has the signature of the proxy's error writer.
func WriteError(w http.ResponseWriter, r *http.Request, status int, code, msg, requestID string) {
	WriteProblem(w, r, Problem{Status: status, Code: code, Message: msg, RequestID: requestID})
}

func renderProblem(w http.ResponseWriter, p Problem) {
	heading := p.Heading
	if heading == "" {
		heading = defaultHeading(p)
	}
	if p.Status == http.StatusNotFound && p.Message == "not found" {
		p.Message = "there is no cluster or page at this address, or none you have a role on. The clusters you can use are listed on the home page"
	}
	p.Heading, p.Message = heading, sentence(p.Message)
	if p.Status == http.StatusForbidden && p.Role != "" && p.Needs != "" && actionHelp(p.Action) != "" {
		where := "here"
		if p.Cluster != "" {
			where = "on " + p.Cluster
		}
		p.Message = "Your role " + where + " is " + p.Role + ". To " + actionHelp(p.Action) + " you need the " + p.Needs +
			" role; the people who run raygate can grant it."
	}
	render(w, p.Status, "problem", struct {
		Problem
		Title, StatusText, ActionHelp string
	}{Problem: p, Title: heading, StatusText: http.StatusText(p.Status), ActionHelp: actionLong(p.Action)})
}

func actionLong(action string) string {
	_, long := actionText(action)
	return long
}

// sentence capitalizes msg and ends it with a full stop.
func sentence(msg string) string {
	if msg == "" {
		return ""
	}
	msg = strings.ToUpper(msg[:1]) + msg[1:]
	if !strings.HasSuffix(msg, ".") {
		msg += "."
	}
	return msg
}

func defaultHeading(p Problem) string {
	switch p.Status {
	case http.StatusBadRequest:
		return "This request was refused"
	case http.StatusUnauthorized:
		return "Sign in to continue"
	case http.StatusForbidden:
		if h := actionHelp(p.Action); h != "" {
			if p.Cluster != "" {
				return "You can't " + h + " on " + p.Cluster
			}
			return "You can't " + h + " here"
		}
		return "You don't have access to this"
	case http.StatusNotFound:
		return "There is nothing here for you"
	case http.StatusMethodNotAllowed:
		return "This address does not take that kind of request"
	case http.StatusRequestEntityTooLarge:
		return "The request is too large"
	case http.StatusBadGateway, http.StatusGatewayTimeout:
		return "The Ray cluster did not answer"
	case http.StatusServiceUnavailable:
		return "raygate cannot check who you are right now"
	}
	if p.Status >= 500 {
		return "Something went wrong"
	}
	return http.StatusText(p.Status)
}

// actionHelp says what a Ray action does, to complete "You can't ...".
func actionHelp(action string) string {
	short, _ := actionText(action)
	return short
}

// actionText says what a Ray action does: briefly, and in more detail.
func actionText(action string) (short, long string) {
	switch action {
	case "dashboard.view":
		return "open the dashboard", "the dashboard's pages and assets"
	case "cluster.read":
		return "read the cluster's state", "jobs, nodes, actors, tasks and cluster status"
	case "logs.read":
		return "read log files", "the contents of log files (the Logs tab, job and actor logs)"
	case "jobs.submit":
		return "submit jobs", "submitting jobs and uploading their packages"
	case "jobs.stop":
		return "stop your jobs", "stopping or deleting a job you submitted"
	case "jobs.stop.any":
		return "stop other people's jobs", "stopping or deleting a job someone else submitted"
	case "serve.deploy":
		return "deploy Serve applications", "deploying, changing or deleting Serve applications"
	case "cluster.admin":
		return "use admin routes", "profiling, stack traces, and every route raygate does not know"
	}
	return "", ""
}

// WantsHTML reports whether r should be answered with a page: a browser
// navigating (Sec-Fetch-Mode: navigate, or Sec-Fetch-Dest: document), or a
// client whose Accept header prefers text/html to JSON. Scripts (the Ray
// dashboard's own calls) get JSON.
func WantsHTML(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Mode") {
	case "navigate":
		return true
	case "":
	default:
		return r.Header.Get("Sec-Fetch-Dest") == "document"
	}
	return prefersHTML(r.Header.Values("Accept"))
}

// IsNavigation reports whether r is a browser loading a page with GET or
// HEAD: the requests that may be redirected to sign-in.
func IsNavigation(r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	if m := r.Header.Get("Sec-Fetch-Mode"); m != "" {
		return m == "navigate"
	}
	return prefersHTML(r.Header.Values("Accept"))
}

// prefersHTML reports whether an Accept header ranks text/html above
// application/json (ties go to HTML, as browsers list it first).
func prefersHTML(values []string) bool {
	html, json := -1.0, -1.0
	for _, v := range values {
		for _, part := range strings.Split(v, ",") {
			mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
			if err != nil {
				continue
			}
			q := 1.0
			if s, ok := params["q"]; ok {
				if f, err := strconv.ParseFloat(s, 64); err == nil && f >= 0 && f <= 1 {
					q = f
				}
			}
			switch mt {
			case "text/html", "application/xhtml+xml":
				html = max(html, q)
			case "application/json":
				json = max(json, q)
			}
		}
	}
	return html > 0 && html >= json
}
