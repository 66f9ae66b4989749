package signin

import (
	"net/http"

	"github.com/raygate/raygate/internal/ui"
)

// signOut asks to confirm on GET, and on POST from raygate's own pages
// clears the session and, when the issuer advertises an
// end_session_endpoint, sends the browser there to end the issuer's
// session too; otherwise to the signed-out page, which says the issuer's
// session may remain.
func (b *Browser) signOut(w http.ResponseWriter, r *http.Request, requestID string) Result {
	s, err := b.jar.ReadSession(r)
	if err != nil {
		s = nil
	}
	res := Result{Action: ActionSignOut}
	if s != nil {
		res.Identity = b.identity(s)
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		if s == nil {
			http.Redirect(w, r, PathSignedOut, http.StatusSeeOther)
			res.Allow, res.Reason = true, "no session"
			return res
		}
		_, idp := b.endSessionURL(r, s.Issuer, "")
		ui.RenderSignOut(w, &ui.User{Name: s.User, CanSignOut: true}, idp)
		res.Allow, res.Reason = true, "confirmation page"
		return res
	case http.MethodPost:
	default:
		w.Header().Set("Allow", "GET, HEAD, POST")
		ui.WriteProblem(w, r, ui.Problem{Status: http.StatusMethodNotAllowed, Code: "method_not_allowed", Message: "sign out with POST", RequestID: requestID})
		res.Reason = "method not allowed"
		return res
	}
	if !b.SameOrigin(r) {
		ui.WriteProblem(w, r, ui.Problem{Status: http.StatusForbidden, Code: "forbidden", RequestID: requestID,
			Heading: "Sign-out refused", Message: "this sign-out did not come from raygate's own pages (Origin " + originOf(r) + "); use the Sign out button"})
		res.Reason = "cross-site sign-out refused"
		return res
	}
	b.jar.ClearSession(w, r)
	res.Allow, res.Reason = true, "signed out"
	if s != nil {
		if u, ok := b.endSessionURL(r, s.Issuer, s.IDToken); ok {
			http.Redirect(w, r, u, http.StatusSeeOther)
			res.Reason = "signed out; ending the identity provider's session"
			return res
		}
		http.Redirect(w, r, PathSignedOut+"?idp=kept", http.StatusSeeOther)
		return res
	}
	http.Redirect(w, r, PathSignedOut, http.StatusSeeOther)
	return res
}

// endSessionURL is the issuer's end-session address for a browser signed
// in with iss, when the issuer advertises one.
func (b *Browser) endSessionURL(r *http.Request, iss, idToken string) (string, bool) {
	is := b.byIssuer[iss]
	if is == nil {
		return "", false
	}
	p, err := is.discovery.Provider(r.Context())
	if err != nil {
		return "", false
	}
	return p.EndSessionURL(is.cfg.ClientID, idToken, b.signedOutURL(), "")
}
