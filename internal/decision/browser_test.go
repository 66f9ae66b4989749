package decision

import (
	"context"
	"net/http"
	"testing"

	"github.com/raygate/raygate/internal/authz"
	"github.com/raygate/raygate/internal/identity"
	"github.com/raygate/raygate/internal/loginconfig"
)

func TestCheckUpgrade(t *testing.T) {
	ws := func(kv ...string) http.Header {
		h := http.Header{}
		h.Set("Upgrade", "websocket")
		h.Set("Connection", "Upgrade")
		h.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
		h.Set("Sec-WebSocket-Version", "13")
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] == "" {
				h.Del(kv[i])
			} else {
				h.Set(kv[i], kv[i+1])
			}
		}
		return h
	}
	for _, tc := range []struct {
		name, method string
		h            http.Header
		reason       string
	}{
		{"no upgrade", "POST", http.Header{}, ""},
		{"a WebSocket handshake", "GET", ws(), ""},
		{"h2c", "GET", ws("Upgrade", "h2c"), "malformed WebSocket handshake: the only upgrade accepted is one Upgrade: websocket"},
		{"a POST", "POST", ws(), "malformed WebSocket handshake: a WebSocket handshake must be a GET"},
		{"no key", "GET", ws("Sec-WebSocket-Key", ""), "malformed WebSocket handshake: a WebSocket handshake must have one Sec-WebSocket-Key"},
		{"version 8", "GET", ws("Sec-WebSocket-Version", "8"), "malformed WebSocket handshake: a WebSocket handshake must have Sec-WebSocket-Version: 13"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := CheckUpgrade(tc.method, tc.h)
			if r.Reason != tc.reason || r.Refused() != (tc.reason != "") || r.Refused() && (r.Status != 400 || r.Code != "bad_request") {
				t.Fatalf("CheckUpgrade = %+v, want reason %q", r, tc.reason)
			}
		})
	}
}

func TestIntentFor(t *testing.T) {
	for _, tc := range []struct {
		m       identity.Method
		action  authz.Action
		method  string
		upgrade bool
		want    Intent
	}{
		{identity.MethodOIDC, authz.ActionClusterAdmin, "GET", false, IntentNone},
		{identity.MethodAPIKey, authz.ActionJobsSubmit, "POST", false, IntentNone},
		{identity.MethodSession, authz.ActionClusterRead, "GET", false, IntentNone},
		{identity.MethodSession, authz.ActionLogsRead, "GET", false, IntentNone},
		{identity.MethodSession, authz.ActionClusterAdmin, "GET", false, IntentOwnPages},
		{identity.MethodSession, authz.ActionJobsSubmit, "POST", false, IntentOwnPages},
		{identity.MethodIAP, authz.ActionDashboardView, "GET", false, IntentNone},
		{identity.MethodIAP, authz.ActionDashboardView, "HEAD", false, IntentNone},
		{identity.MethodIAP, authz.ActionClusterRead, "GET", true, IntentProgramOrPage},
		{identity.MethodIAP, authz.ActionClusterAdmin, "GET", false, IntentProgramOrPage},
		{identity.MethodIAP, authz.ActionJobsSubmit, "POST", false, IntentProgramOrPage},
	} {
		if got := IntentFor(tc.m, tc.action, tc.method, tc.upgrade); got != tc.want {
			t.Errorf("IntentFor(%s, %s, %s, %v) = %d, want %d", tc.m, tc.action, tc.method, tc.upgrade, got, tc.want)
		}
	}
	if !ChangesState("POST", false) || !ChangesState("GET", true) || ChangesState("HEAD", false) {
		t.Error("ChangesState")
	}
}

// TestDecideAfterAuthorization: what an allowed request still goes
// through: the browser credential's intent, an answer of raygate's own,
// a package written once.
func TestDecideAfterAuthorization(t *testing.T) {
	reg := testRegistry()
	session := &identity.Identity{User: "alice", Groups: []string{"team-a"}, Method: identity.MethodSession}
	for _, tc := range []struct {
		name, method, path   string
		id                   *identity.Identity
		intent               Intent
		local, pkg, redirect bool
	}{
		{"a session's read", "GET", "/clusters/team-a/ray1/api/jobs/", session, IntentNone, false, false, false},
		{"a session's profile", "GET", "/clusters/team-a/ray1/worker/traceback", &identity.Identity{User: "root", Method: identity.MethodSession}, IntentOwnPages, false, false, false},
		{"a session's submission", "POST", "/clusters/team-a/ray1/api/jobs/", session, IntentOwnPages, false, false, false},
		{"authentication mode", "GET", "/clusters/team-a/ray1/api/authentication_mode", session, IntentNone, true, false, false},
		{"authentication mode, HEAD", "HEAD", "/clusters/team-a/ray1/api/authentication_mode", session, IntentNone, true, false, false},
		{"a package upload", "PUT", "/clusters/team-a/ray1/api/packages/gcs/_ray_pkg_a.zip", session, IntentOwnPages, false, true, false},
		{"a package lookup", "GET", "/clusters/team-a/ray1/api/packages/gcs/_ray_pkg_a.zip", session, IntentOwnPages, false, false, false},
		{"a redirect", "GET", "/clusters/team-a/ray1", session, IntentNone, false, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := Decide(context.Background(), reg, authz.BindingsOnly{}, Request{Method: tc.method, Target: Route(tc.path).Target, Identity: tc.id})
			if res.Refused() || res.Intent != tc.intent || res.Local != tc.local || res.CheckPackage != tc.pkg || res.Redirect != tc.redirect {
				t.Fatalf("Decide = %+v", res)
			}
		})
	}
}

func TestOwnEndpoints(t *testing.T) {
	if EndpointLoginConfig != loginconfig.Path {
		t.Fatal("login-config path")
	}
	for path, ep := range Endpoints {
		if Route(path).Kind != PathGateway || ep.Action == "" || ep.Reason == "" {
			t.Errorf("%s: %+v", path, ep)
		}
		if ep.Public != (path == EndpointLoginConfig) {
			t.Errorf("%s: public %v", path, ep.Public)
		}
	}
	for m, status := range map[string]int{"GET": 0, "HEAD": 0, "POST": 405, "DELETE": 405, "OPTIONS": 405} {
		if r := OwnMethod(m); r.Status != status || status != 0 && r.Reason != "method not allowed" {
			t.Errorf("OwnMethod(%s) = %+v", m, r)
		}
	}
}
