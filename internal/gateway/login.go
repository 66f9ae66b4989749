package gateway

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/raygate/raygate/internal/audit"
	"github.com/raygate/raygate/internal/authn"
	"github.com/raygate/raygate/internal/config"
	"github.com/raygate/raygate/internal/loginconfig"
	"github.com/raygate/raygate/internal/oidcclient"
)

// ActionLoginConfig is the audit action of /_raygate/login-config.
const ActionLoginConfig = "gateway.login-config"

// discoveryWait bounds how long /_raygate/login-config waits for an
// issuer's discovery document.
const discoveryWait = 3 * time.Second

// cliLogin is what /_raygate/login-config answers from: the issuers with a
// cliClientID and, for each, its discovery (to tell whether it offers the
// device authorization grant).
type cliLogin struct {
	issuers   []loginconfig.Issuer
	discovery []*oidcclient.Discovery
	caFiles   []string
}

// buildCLILogin builds the terminal sign-in issuers of cfg, reusing the
// previous state's discovery of an issuer whose CA file is unchanged.
func buildCLILogin(cfg *config.Config, prev *State) (*cliLogin, error) {
	out := &cliLogin{issuers: loginconfig.FromConfig(cfg)}
	for _, is := range out.issuers {
		var ca string
		for _, o := range cfg.Authentication.OIDC {
			if o.Issuer == is.Issuer {
				ca = o.CAFile
			}
		}
		d := prev.cliDiscovery(is.Issuer, ca)
		if d == nil {
			httpc, err := authn.NewHTTPClient(ca)
			if err != nil {
				return nil, err
			}
			d = oidcclient.NewDiscovery(is.Issuer, httpc)
		}
		out.discovery = append(out.discovery, d)
		out.caFiles = append(out.caFiles, ca)
	}
	return out, nil
}

// cliDiscovery is s's discovery of issuer when its CA file is ca, or nil.
func (s *State) cliDiscovery(issuer, ca string) *oidcclient.Discovery {
	if s == nil || s.cliLogin == nil {
		return nil
	}
	for i, is := range s.cliLogin.issuers {
		if is.Issuer == issuer && s.cliLogin.caFiles[i] == ca {
			return s.cliLogin.discovery[i]
		}
	}
	return nil
}

// document is the login configuration, with each issuer's device grant
// as its discovery document (fetched at most once an hour) says.
func (l *cliLogin) document(ctx context.Context) loginconfig.Document {
	doc := loginconfig.Document{Issuers: []loginconfig.Issuer{}}
	if l == nil {
		return doc
	}
	for i, is := range l.issuers {
		dctx, cancel := context.WithTimeout(ctx, discoveryWait)
		p, err := l.discovery[i].Provider(dctx)
		cancel()
		is.DeviceAuthorization = err == nil && p.OffersDeviceGrant()
		doc.Issuers = append(doc.Issuers, is)
	}
	return doc
}

// serveLoginConfig answers /_raygate/login-config: public, without
// credentials, cacheable for a minute.
func (x *exchange) serveLoginConfig() {
	x.ev.Action = ActionLoginConfig
	if x.r.Method != http.MethodGet && x.r.Method != http.MethodHead {
		x.w.Header().Set("Allow", "GET, HEAD")
		x.deny(http.StatusMethodNotAllowed, "method_not_allowed", "method not allowed", "use GET")
		return
	}
	x.ev.Decision, x.ev.Reason = audit.Allow, "public login configuration"
	doc := x.st.cliLogin.document(x.r.Context())
	h := x.w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "public, max-age="+strconv.Itoa(loginconfig.MaxAge))
	_ = json.NewEncoder(&x.w).Encode(doc)
}
