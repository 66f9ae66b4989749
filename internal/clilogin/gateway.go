package clilogin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/raygate/raygate/internal/loginconfig"
	"github.com/raygate/raygate/internal/tokencache"
)

// PathWhoAmI is the gateway's who-am-I endpoint.
const PathWhoAmI = "/_raygate/whoami"

// maxBody bounds what is read from the gateway.
const maxBody = 1 << 20

// NormalizeGateway checks a gateway address as a person types it and
// returns it in one spelling (the key of its sign-ins): scheme and host in
// lower case, no default port, no trailing slash. It must be https, or
// http on a loopback host (a token is never sent in the clear over a
// network), and the root of its host: a cluster's address
// (.../clusters/NS/NAME) is refused with a hint.
func NormalizeGateway(raw string) (string, error) {
	raw = strings.TrimSpace(raw)
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "HTTP" && u.Scheme != "HTTPS") {
		return "", problem(err, "%q is not a gateway address: give its URL, e.g. https://raygate.example.com", raw)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return "", problem(nil, "%q is not a gateway address: give only its scheme and host, e.g. https://raygate.example.com", raw)
	}
	if p := strings.TrimSuffix(u.Path, "/"); p != "" {
		if i := strings.Index(p, "/clusters/"); i >= 0 {
			return "", problem(nil, "%q is a cluster's address: give the gateway's, %s", raw, strings.ToLower(u.Scheme)+"://"+u.Host)
		}
		return "", problem(nil, "%q has a path: give only the gateway's scheme and host, e.g. https://raygate.example.com", raw)
	}
	scheme, host, port := strings.ToLower(u.Scheme), strings.ToLower(u.Hostname()), u.Port()
	if scheme == "http" && !isLoopback(host) {
		return "", problem(nil, "refusing to send tokens in the clear to %s: use https (plain http is allowed only on this computer, 127.0.0.1)", raw)
	}
	if (scheme == "https" && port == "443") || (scheme == "http" && port == "80") {
		port = ""
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" {
		host += ":" + port
	}
	return scheme + "://" + host, nil
}

func isLoopback(host string) bool {
	ip := net.ParseIP(host)
	return host == "localhost" || (ip != nil && ip.IsLoopback())
}

// WhoAmI is what /_raygate/whoami says about the caller.
type WhoAmI struct {
	User       string   `json:"user"`
	Groups     []string `json:"groups"`
	AuthMethod string   `json:"auth_method"`
	Clusters   []struct {
		Cluster string `json:"cluster"`
		Role    string `json:"role"`
		Path    string `json:"path"`
	} `json:"clusters"`
}

// LoginConfig fetches and checks gw's /_raygate/login-config.
func (c *Client) LoginConfig(ctx context.Context, gw string) (*loginconfig.Document, error) {
	status, ctype, body, err := c.get(ctx, gw+loginconfig.Path, "")
	if err != nil {
		return nil, errGatewayUnreachable(gw, err)
	}
	if status != http.StatusOK || !isJSON(ctype) {
		return nil, errNotRaygate(gw, fmt.Sprintf("%s answered %d %s", loginconfig.Path, status, describeType(ctype)))
	}
	doc, err := loginconfig.Parse(body)
	if err != nil {
		return nil, errNotRaygate(gw, cause(err))
	}
	return doc, nil
}

// WhoAmI asks gw who idToken's bearer is and which clusters it can use.
// A refusal is an *Error naming the gateway's reason.
func (c *Client) WhoAmI(ctx context.Context, gw, idToken string) (*WhoAmI, error) {
	status, ctype, body, err := c.get(ctx, gw+PathWhoAmI, idToken)
	if err != nil {
		return nil, errGatewayUnreachable(gw, err)
	}
	if !isJSON(ctype) {
		return nil, errNotRaygate(gw, fmt.Sprintf("%s answered %d %s", PathWhoAmI, status, describeType(ctype)))
	}
	if status != http.StatusOK {
		var e struct {
			Message string `json:"message"`
		}
		_ = json.Unmarshal(body, &e)
		msg := oneLine(e.Message)
		if msg == "" || len(msg) > 300 || !printable(msg) {
			msg = fmt.Sprintf("status %d", status)
		}
		return nil, &refusal{status: status, msg: msg}
	}
	var w WhoAmI
	if err := json.Unmarshal(body, &w); err != nil {
		return nil, errNotRaygate(gw, PathWhoAmI+" is not JSON")
	}
	return &w, nil
}

// refusal is the gateway refusing a token.
type refusal struct {
	status int
	msg    string
}

func (r *refusal) Error() string { return r.msg }

// get sends a GET with an optional bearer token and reads the answer.
func (c *Client) get(ctx context.Context, u, bearer string) (status int, ctype string, body []byte, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, "", nil, err
	}
	req.Header.Set("Accept", "application/json")
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return 0, "", nil, err
	}
	defer resp.Body.Close()
	body, err = io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return 0, "", nil, err
	}
	if len(body) > maxBody {
		return 0, "", nil, errors.New("answer too large")
	}
	return resp.StatusCode, resp.Header.Get("Content-Type"), body, nil
}

func isJSON(ctype string) bool {
	mt, _, err := mime.ParseMediaType(ctype)
	return err == nil && mt == "application/json"
}

func describeType(ctype string) string {
	mt, _, err := mime.ParseMediaType(ctype)
	if err != nil || mt == "" {
		return "without a content type"
	}
	return "with " + mt
}

// EnvGateway names the environment variable that gives the gateway when
// --gateway does not.
const EnvGateway = "RAYGATE_GATEWAY"

// ResolveGateway is the gateway a command talks to: flag if not "", else
// $RAYGATE_GATEWAY, else the one remembered from the last sign-in;
// normalized.
func (c *Client) ResolveGateway(flag, env string) (string, error) {
	raw := flag
	if raw == "" {
		raw = env
	}
	if raw == "" {
		st, err := c.Store.Settings()
		if err != nil {
			return "", err
		}
		raw = st.Gateway
	}
	if raw == "" {
		return "", errNoGateway()
	}
	return NormalizeGateway(raw)
}

// Check asks gw who the bearer of l's ID token is. newLogin says the token
// was just issued, which changes the advice when the gateway refuses it:
// a token refused right after sign-in means the gateway is set up wrong.
func (c *Client) Check(ctx context.Context, gw string, l *tokencache.Login, newLogin bool) (*WhoAmI, error) {
	w, err := c.WhoAmI(ctx, gw, l.IDToken)
	var r *refusal
	switch {
	case errors.As(err, &r) && newLogin:
		return nil, errNewTokenRefused(gw, r.msg)
	case errors.As(err, &r):
		return nil, errTokenRefused(gw, r.msg)
	}
	return w, err
}
