package gateway

import (
	"net/http"

	"github.com/raygate/raygate/internal/audit"
	"github.com/raygate/raygate/internal/authz"
	"github.com/raygate/raygate/internal/decision"
	"github.com/raygate/raygate/internal/proxy"
)

// forbid refuses an action the caller's role does not allow, naming the
// action, the role it needs and the caller's role.
func (x *exchange) forbid(d authz.Decision, action authz.Action, role authz.Role, _ string) {
	x.ev.Decision, x.ev.Reason = audit.Deny, d.Reason
	proxy.WriteErrorBody(&x.w, http.StatusForbidden, proxy.ErrorBody{Error: "forbidden", Message: decision.ForbiddenMessage(d.Reason), RequestID: x.ev.RequestID,
		Action: string(action), RequiredRole: d.Needs.String(), Role: role.String()})
}
