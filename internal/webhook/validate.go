package webhook

import (
	"fmt"
	"net/http"
	"strings"

	admissionv1 "k8s.io/api/admission/v1"

	"github.com/raygate/raygate/internal/lint"
	"github.com/raygate/raygate/internal/manifest"
)

func (h *handler) validate(r *http.Request, req *admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse {
	if ok, why := h.skip(req); ok {
		h.log.Debug("admission skipped", "webhook", "validate", "why", why, "namespace", req.Namespace, "name", req.Name)
		return allow()
	}
	isCluster := manifest.CanonicalKind(req.Kind.Kind) == manifest.KindRayCluster
	var obj, old *manifest.Object
	read := func(raw []byte) (*manifest.Object, *admissionv1.AdmissionResponse) {
		o, err := readObject(raw)
		if err != nil {
			h.log.Warn("admission denied", "webhook", "validate", "kind", req.Kind.Kind, "namespace", req.Namespace, "name", req.Name, "error", err)
			return nil, deny(http.StatusBadRequest, "raygate: "+err.Error())
		}
		return &o, nil
	}
	var resp *admissionv1.AdmissionResponse
	switch req.Operation {
	case admissionv1.Create, admissionv1.Update:
		if obj, resp = read(req.Object.Raw); resp != nil {
			return resp
		}
		if req.Operation == admissionv1.Update && len(req.OldObject.Raw) > 0 {
			if old, resp = read(req.OldObject.Raw); resp != nil {
				return resp
			}
		}
	case admissionv1.Delete:
		if !isCluster {
			return allow()
		}
		if old, resp = read(req.OldObject.Raw); resp != nil {
			return resp
		}
	default:
		return allow()
	}
	if resp := h.checkOwners(r, req, obj, old); resp != nil {
		return resp
	}
	if obj == nil {
		return allow() // DELETE: nothing more to check
	}
	opts := lint.Options{Tenants: h.opts.Tenants, Namespace: req.Namespace}
	findings := lint.Object("", *obj, opts)
	// The ratchet: on UPDATE, an error finding the old object had exactly
	// (rule, field of the same named container, message, and the value
	// at that field) is let through; only error findings count, so a
	// warning never excuses an error.
	excused := map[string]bool{}
	if req.Operation == admissionv1.Update && old != nil {
		for _, f := range lint.Object("", *old, opts) {
			if f.Severity == lint.SeverityError {
				excused[ratchetKey(*old, f)] = true
			}
		}
	}
	name := displayName(req, *obj)
	var errs, warnings []string
	for _, f := range findings {
		line := fmt.Sprintf("%s at %s: %s", f.Rule, f.Field, f.Message)
		switch {
		case f.Severity == lint.SeverityError && !excused[ratchetKey(*obj, f)]:
			errs = append(errs, line)
		case f.Severity == lint.SeverityError:
			warnings = append(warnings, shorten("already present: "+line))
		case f.Severity == lint.SeverityWarning:
			warnings = append(warnings, shorten(line))
		}
	}
	if len(errs) > 0 {
		h.log.Info("admission denied", "webhook", "validate", "kind", obj.Kind, "object", name, "operation", req.Operation, "errors", len(errs))
		resp = deny(http.StatusForbidden, fmt.Sprintf("raygate denied %s %s: %s", obj.Kind, name, strings.Join(errs, "; ")))
		resp.Warnings = warnings
		return resp
	}
	h.log.Info("admission allowed", "webhook", "validate", "kind", obj.Kind, "object", name, "operation", req.Operation, "warnings", len(warnings))
	resp = allow()
	resp.Warnings = warnings
	return resp
}

// ratchetKey identifies an error finding of o for the ratchet: its rule,
// field (list items by name) and message, and the value written at the
// field, so that an excused violation whose value changes (a host path
// pointed elsewhere, a load balancer opened to more addresses) is a new
// one.
func ratchetKey(o manifest.Object, f lint.Finding) string {
	v, err := o.Value.Lookup(f.Field).MarshalJSON()
	if err != nil {
		v = []byte("?")
	}
	return f.Key + "\x00" + string(v)
}

// checkOwners denies a change to a RayCluster owned by a RayService
// (before or after the change) unless the requester may update that
// RayService: a developer who may change RayClusters but not RayServices
// must not rewrite the cluster an admin's RayService runs. nil allows.
func (h *handler) checkOwners(r *http.Request, req *admissionv1.AdmissionRequest, objs ...*manifest.Object) *admissionv1.AdmissionResponse {
	if manifest.CanonicalKind(req.Kind.Kind) != manifest.KindRayCluster {
		return nil
	}
	if req.Operation == admissionv1.Update && objs[0] != nil && objs[1] != nil && scalingOnly(objs[1].Value, objs[0].Value) {
		return nil // the autoscaler's change: worker replicas only
	}
	seen := map[string]bool{}
	for _, o := range objs {
		if o == nil {
			continue
		}
		for _, ref := range o.Value.Lookup("metadata.ownerReferences").Items() {
			group, _, _ := strings.Cut(ref.Get("apiVersion").Str(), "/")
			if !strings.EqualFold(group, manifest.Group) || manifest.CanonicalKind(ref.Get("kind").Str()) != manifest.KindRayService {
				continue
			}
			owner := ref.Get("name").Str()
			if seen[owner] {
				continue
			}
			seen[owner] = true
			what := fmt.Sprintf("RayCluster %s/%s belongs to RayService %s", req.Namespace, req.Name, owner)
			if h.opts.Access == nil {
				h.log.Warn("admission denied", "webhook", "validate", "why", "no access review configured", "namespace", req.Namespace, "name", req.Name, "owner", owner)
				return deny(http.StatusForbidden, fmt.Sprintf("raygate denied %s of RayCluster %s/%s: it belongs to RayService %s, and raygate has no way to check who may change it (configure webhook.kubeconfig or run raygate in Kubernetes)", strings.ToLower(string(req.Operation)), req.Namespace, req.Name, owner))
			}
			ok, reason, err := h.opts.Access.MayUpdate(r.Context(), req.UserInfo, req.Namespace, "rayservices", owner)
			if err != nil {
				h.log.Warn("admission denied", "webhook", "validate", "why", "access review failed", "namespace", req.Namespace, "name", req.Name, "owner", owner, "error", err)
				return deny(http.StatusForbidden, fmt.Sprintf("raygate denied %s of RayCluster %s/%s: it belongs to RayService %s and raygate could not check who may change it", strings.ToLower(string(req.Operation)), req.Namespace, req.Name, owner))
			}
			if !ok {
				h.log.Info("admission denied", "webhook", "validate", "why", "not allowed to change the owning RayService", "namespace", req.Namespace, "name", req.Name, "owner", owner, "user", req.UserInfo.Username, "reason", reason)
				return deny(http.StatusForbidden, fmt.Sprintf("raygate denied %s of RayCluster %s/%s: %s, which %s may not update; change the RayService instead", strings.ToLower(string(req.Operation)), req.Namespace, req.Name, what, req.UserInfo.Username))
			}
		}
	}
	return nil
}

// scalingOnly reports whether an update changes nothing but how many
// workers each group runs (replicas, scaleStrategy): what KubeRay's
// autoscaler changes, running as the cluster's own service account, which
// may not update RayServices. Fields the API server manages are ignored.
func scalingOnly(old, updated *manifest.Value) bool {
	strip := func(v *manifest.Value) *manifest.Value {
		c := v.Clone()
		c.Remove("status")
		meta := c.Get("metadata")
		for _, k := range []string{"resourceVersion", "generation", "managedFields", "creationTimestamp", "uid", "selfLink"} {
			meta.Remove(k)
		}
		for _, g := range c.Lookup("spec.workerGroupSpecs").Items() {
			g.Remove("replicas")
			g.Remove("scaleStrategy")
		}
		return c
	}
	return strip(old).Equal(strip(updated))
}
