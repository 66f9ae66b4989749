// Package webhook is raygate's Kubernetes admission webhook for KubeRay's
// RayCluster, RayJob, RayService and RayCronJob. /validate runs the lint
// rules: an error-severity finding denies the object, naming rule and
// field; warnings come back as admission warnings. /mutate applies the
// harden fixes as a JSON Patch. Both speak AdmissionReview
// admission.k8s.io/v1 in JSON.
//
// The webhook fails closed: an object it cannot read or evaluate is denied
// (mutate included), unless its namespace is exempt. On UPDATE, validation
// ratchets precisely: an error finding is let through only if the old
// object had the very same one (same rule, same field of the same named
// container, same message, same value there), so an operator or autoscaler
// can keep updating an existing cluster, but no new violation hides behind
// an old one, and a warning never excuses an error. A RayCluster that a
// RayService owns may be changed only by whoever may change that RayService
// (asked of the API server with a SubjectAccessReview; an error denies).
// Mutation applies on CREATE only, so updates never change running clusters
// behind their owners' backs.
package webhook

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"slices"
	"strings"

	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kjson "sigs.k8s.io/json"

	"github.com/raygate/raygate/internal/config"
	"github.com/raygate/raygate/internal/harden"
	"github.com/raygate/raygate/internal/manifest"
	"github.com/raygate/raygate/internal/tenant"
)

// MaxBodyBytes bounds an AdmissionReview request body. The API server
// stores objects up to about 1.5 MiB; a review carries the object twice on
// UPDATE.
const MaxBodyBytes = 8 << 20

// maxWarning bounds one admission warning (the API server shortens longer
// ones).
const maxWarning = 240

// Paths the handler serves.
const (
	PathValidate = "/validate"
	PathMutate   = "/mutate"
)

// Options configure a handler.
type Options struct {
	// Exempt are namespaces whose objects are admitted unchanged.
	Exempt []string
	// Tenants, when set, turns on the tenant rules for objects in a
	// tenant's namespace.
	Tenants *tenant.File
	// Access answers whether a requester may change the RayService that
	// owns a RayCluster; nil denies every change to such a RayCluster.
	Access Authorizer
	// Logger receives one line per decision; nil discards them.
	Logger *slog.Logger
}

type handler struct {
	opts Options
	log  *slog.Logger
}

// NewHandler returns the admission handler for a webhook config: its
// exempt namespaces, its tenants file, and Kubernetes access for the
// ownership check (webhook.kubeconfig, or the pod's service account in
// Kubernetes). cfg may be nil (nothing exempt, no tenants, no access);
// logger may be nil. The caller serves it over TLS.
func NewHandler(cfg *config.Webhook, logger *slog.Logger) (http.Handler, error) {
	opts := Options{Logger: logger}
	if cfg != nil {
		for _, ns := range cfg.ExemptNamespaces {
			if strings.TrimSpace(ns) == "" {
				return nil, errors.New("webhook: empty exempt namespace")
			}
			opts.Exempt = append(opts.Exempt, ns)
		}
		if cfg.TenantsFile != "" {
			t, err := config.LoadTenants(cfg.TenantsFile)
			if err != nil {
				return nil, fmt.Errorf("webhook: tenants file %s: %w", cfg.TenantsFile, err)
			}
			opts.Tenants = t
		}
		access, err := NewAccessReviewer(cfg.Kubeconfig)
		if err != nil {
			return nil, err
		}
		if access != nil {
			opts.Access = access
		}
	}
	return NewHandlerWith(opts), nil
}

// NewHandlerWith returns the admission handler serving PathValidate and
// PathMutate with explicit options.
func NewHandlerWith(opts Options) http.Handler {
	h := &handler{opts: opts, log: opts.Logger}
	if h.log == nil {
		h.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+PathValidate, func(w http.ResponseWriter, r *http.Request) { h.serve(w, r, h.validate) })
	mux.HandleFunc("POST "+PathMutate, func(w http.ResponseWriter, r *http.Request) { h.serve(w, r, h.mutate) })
	return mux
}

type reviewFunc func(r *http.Request, req *admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse

// serve decodes an AdmissionReview, calls review and writes the answer.
func (h *handler) serve(w http.ResponseWriter, r *http.Request, review reviewFunc) {
	if ct, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || ct != "application/json" {
		http.Error(w, "webhook: Content-Type must be application/json", http.StatusUnsupportedMediaType)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
	if err != nil {
		http.Error(w, "webhook: cannot read body", http.StatusBadRequest)
		return
	}
	if len(body) > MaxBodyBytes {
		http.Error(w, "webhook: body too large", http.StatusRequestEntityTooLarge)
		return
	}
	in, err := DecodeReview(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	resp := review(r, in.Request)
	resp.UID = in.Request.UID
	out := admissionv1.AdmissionReview{TypeMeta: in.TypeMeta, Response: resp}
	b, err := json.Marshal(out)
	if err != nil {
		http.Error(w, "webhook: cannot encode response", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}

// DecodeReview parses an AdmissionReview admission.k8s.io/v1 request body.
func DecodeReview(body []byte) (*admissionv1.AdmissionReview, error) {
	var rev admissionv1.AdmissionReview
	if err := kjson.UnmarshalCaseSensitivePreserveInts(body, &rev); err != nil {
		return nil, fmt.Errorf("webhook: not an AdmissionReview: %v", strings.TrimPrefix(err.Error(), "json: "))
	}
	if rev.APIVersion != "admission.k8s.io/v1" || rev.Kind != "AdmissionReview" {
		return nil, fmt.Errorf("webhook: expected AdmissionReview admission.k8s.io/v1, got %s %s", rev.Kind, rev.APIVersion)
	}
	if rev.Request == nil {
		return nil, errors.New("webhook: AdmissionReview has no request")
	}
	if rev.Request.UID == "" {
		return nil, errors.New("webhook: AdmissionReview request has no uid")
	}
	return &rev, nil
}

func allow() *admissionv1.AdmissionResponse { return &admissionv1.AdmissionResponse{Allowed: true} }

func deny(code int32, msg string) *admissionv1.AdmissionResponse {
	return &admissionv1.AdmissionResponse{Allowed: false, Result: &metav1.Status{
		Status: metav1.StatusFailure, Code: code, Reason: metav1.StatusReasonForbidden, Message: msg,
	}}
}

// skip reports whether the request is not raygate's to judge: an exempt
// namespace, another kind, or a subresource.
func (h *handler) skip(req *admissionv1.AdmissionRequest) (bool, string) {
	switch {
	case slices.Contains(h.opts.Exempt, req.Namespace):
		return true, "exempt namespace"
	case req.Kind.Group != manifest.Group || !manifest.IsRayKind(manifest.Group+"/"+req.Kind.Version, req.Kind.Kind):
		return true, "not a KubeRay object"
	case req.SubResource != "":
		return true, "subresource " + req.SubResource
	}
	return false, ""
}

// readObject reads a KubeRay object an admission review carries.
func readObject(raw []byte) (manifest.Object, error) {
	if len(strings.TrimSpace(string(raw))) == 0 || string(raw) == "null" {
		return manifest.Object{}, errors.New("the request carries no object")
	}
	o, err := manifest.ObjectFromJSON(raw)
	if err != nil {
		return manifest.Object{}, err
	}
	if !o.IsRay() {
		return manifest.Object{}, errors.New("the object is not a RayCluster, RayJob, RayService or RayCronJob")
	}
	return o, nil
}

func (h *handler) mutate(_ *http.Request, req *admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse {
	if ok, why := h.skip(req); ok {
		h.log.Debug("admission skipped", "webhook", "mutate", "why", why, "namespace", req.Namespace, "name", req.Name)
		return allow()
	}
	if req.Operation != admissionv1.Create {
		return allow()
	}
	obj, err := readObject(req.Object.Raw)
	if err != nil {
		h.log.Warn("admission denied", "webhook", "mutate", "kind", req.Kind.Kind, "namespace", req.Namespace, "name", req.Name, "error", err)
		return deny(http.StatusBadRequest, "raygate: "+err.Error())
	}
	edits, changes := harden.Object(obj)
	if len(changes) == 0 {
		return allow()
	}
	hardened := obj.Value.Clone()
	if err := manifest.Apply(hardened, edits); err != nil {
		return deny(http.StatusInternalServerError, "raygate: cannot harden the object: "+err.Error())
	}
	to, err := json.Marshal(hardened.Interface())
	if err != nil {
		return deny(http.StatusInternalServerError, "raygate: cannot encode the hardened object: "+err.Error())
	}
	ops, err := jsonPatch(req.Object.Raw, to)
	if err != nil {
		return deny(http.StatusInternalServerError, "raygate: "+err.Error())
	}
	resp := allow()
	if len(ops) == 0 {
		return resp
	}
	patch, err := json.Marshal(ops)
	if err != nil {
		return deny(http.StatusInternalServerError, "raygate: cannot encode the patch: "+err.Error())
	}
	pt := admissionv1.PatchTypeJSONPatch
	resp.Patch, resp.PatchType = patch, &pt
	h.log.Info("admission mutated", "webhook", "mutate", "kind", obj.Kind, "object", displayName(req, obj), "changes", len(changes))
	return resp
}

func displayName(req *admissionv1.AdmissionRequest, obj manifest.Object) string {
	name := obj.Name
	if name == "" {
		name = req.Name
	}
	ns := obj.Namespace
	if ns == "" {
		ns = req.Namespace
	}
	if ns == "" {
		return name
	}
	return ns + "/" + name
}

func shorten(s string) string {
	if len(s) <= maxWarning {
		return s
	}
	return s[:maxWarning-3] + "..."
}
