package explain

import (
	"github.com/raygate/raygate/internal/authn"
	"github.com/raygate/raygate/internal/decision"
	"github.com/raygate/raygate/internal/identity"
)

// What a request must show under decision.Intent's rules, as
// explanations word them.
const (
	ruleSameOrigin = "must come from raygate's own pages (Origin, or Sec-Fetch-Site: same-origin)"
	ruleOwnPages   = ruleSameOrigin + ", or be a GET or HEAD the person typed or bookmarked (Sec-Fetch-Site: none)"
	ruleIAP        = "must come from a program (neither Origin nor Sec-Fetch-Site), from raygate's own pages, or be a GET or HEAD the person typed or bookmarked"
	// ruleChangesState is the rule sign-in applies while authenticating.
	ruleChangesState = "with raygate's session cookie, a request that may change state (any method but GET and HEAD, or an upgrade) " + ruleSameOrigin + ": sign-in refuses it otherwise, before any cluster is looked up"
)

// intent explains the check of a request whose caller's credential the
// browser sends by itself (decision.IntentFor). For a caller given by
// name, when the config lets browsers sign in or sits behind IAP, it
// notes what a browser's request would have to show.
func (b *builder) intent(res decision.Result, id *identity.Identity) {
	switch res.Intent {
	case decision.IntentOwnPages:
		b.origin(id.Method, "with raygate's session cookie, more than reading "+ruleOwnPages)
		return
	case decision.IntentProgramOrPage:
		b.origin(id.Method, "behind IAP, anything but a GET or HEAD that only reads "+ruleIAP)
		return
	}
	if id.Method != "" {
		return
	}
	a, m, up := res.Request.Action, b.q.Method, b.q.Upgrade
	if b.p.Config.LoginEnabled() {
		rule := ruleOwnPages
		if decision.ChangesState(m, up) {
			rule = ruleSameOrigin
		}
		if decision.ChangesState(m, up) || decision.IntentFor(identity.MethodSession, a, m, up) != decision.IntentNone {
			b.step("origin", StepNote, "signed in through a browser (raygate's session cookie), this request %s; another site's is refused (403)", rule)
		}
	}
	if b.p.Config.Authentication.IAP != nil && decision.IntentFor(identity.MethodIAP, a, m, up) != decision.IntentNone {
		b.step("origin", StepNote, "behind IAP, this request %s; another site's is refused (403)", ruleIAP)
	}
}

// origin records the rule for the caller's credential: a request another
// site made the browser send is refused with 403. The first rule that
// applies is the one recorded.
func (b *builder) origin(m identity.Method, rule string) {
	if b.e.Origin != nil {
		return
	}
	b.e.Origin = &Origin{Credential: string(m), Rule: rule, OtherSite: "deny 403", Reason: "authentication: " + authn.ReasonCrossSite}
	b.step("origin", StepNote, "%s; another site's request is refused (403)", rule)
	if b.e.Condition == "" {
		b.e.Condition = "only if the person meant to send it (not another site's page); otherwise deny 403"
	}
}
