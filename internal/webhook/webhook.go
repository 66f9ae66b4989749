// Package webhook is raygate's Kubernetes admission webhook for KubeRay's
// RayCluster, RayJob and RayService. /validate runs the lint rules: an
// error-severity finding denies the object, naming rule and field; warnings
// come back as admission warnings. /mutate applies the harden fixes as a
// JSON Patch. Both speak AdmissionReview admission.k8s.io/v1 in JSON.
//
// The webhook fails closed: an object it cannot read or evaluate is denied
// (mutate included), unless its namespace is exempt. On UPDATE, validation
// ratchets: only findings the old object did not have deny, so an existing
// cluster's operator and autoscaler can keep updating it. Mutation applies
// on CREATE only, so updates never change running clusters behind their
// owners' backs.
package webhook

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kjson "sigs.k8s.io/json"

	"github.com/raygate/raygate/internal/config"
	"github.com/raygate/raygate/internal/harden"
	"github.com/raygate/raygate/internal/lint"
	"github.com/raygate/raygate/internal/manifest"
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

type handler struct {
	exempt []string
	log    *slog.Logger
}

// NewHandler returns the admission handler serving PathValidate and
// PathMutate. cfg may be nil (no exempt namespaces); logger may be nil
// (no logging). The caller serves it over TLS.
func NewHandler(cfg *config.Webhook, logger *slog.Logger) (http.Handler, error) {
	h := &handler{log: logger}
	if h.log == nil {
		h.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg != nil {
		for _, ns := range cfg.ExemptNamespaces {
			if strings.TrimSpace(ns) == "" {
				return nil, errors.New("webhook: empty exempt namespace")
			}
			h.exempt = append(h.exempt, ns)
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+PathValidate, func(w http.ResponseWriter, r *http.Request) { h.serve(w, r, h.validate) })
	mux.HandleFunc("POST "+PathMutate, func(w http.ResponseWriter, r *http.Request) { h.serve(w, r, h.mutate) })
	return mux, nil
}

type reviewFunc func(req *admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse

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
	resp := review(in.Request)
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
// namespace, another kind, or an operation without an object.
func (h *handler) skip(req *admissionv1.AdmissionRequest) (bool, string) {
	switch {
	case slices.Contains(h.exempt, req.Namespace):
		return true, "exempt namespace"
	case req.Kind.Group != manifest.Group || !manifest.IsRayKind(manifest.Group+"/"+req.Kind.Version, req.Kind.Kind):
		return true, "not a KubeRay object"
	case req.Operation != admissionv1.Create && req.Operation != admissionv1.Update:
		return true, "operation " + string(req.Operation)
	case req.SubResource != "":
		return true, "subresource " + req.SubResource
	}
	return false, ""
}

// readObject parses raw JSON into a KubeRay object.
func readObject(raw []byte) (manifest.Object, *yaml.Node, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return manifest.Object{}, nil, errors.New("the request carries no object")
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return manifest.Object{}, nil, fmt.Errorf("cannot read the object: %v", strings.TrimPrefix(err.Error(), "yaml: "))
	}
	objs := manifest.Objects([]manifest.Document{{Node: &doc}})
	if len(objs) != 1 || objs[0].Prefix != "" {
		return manifest.Object{}, nil, errors.New("the object is not a RayCluster, RayJob or RayService")
	}
	return objs[0], &doc, nil
}

func (h *handler) validate(req *admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse {
	if ok, why := h.skip(req); ok {
		h.log.Debug("admission skipped", "webhook", "validate", "why", why, "namespace", req.Namespace, "name", req.Name)
		return allow()
	}
	obj, _, err := readObject(req.Object.Raw)
	if err != nil {
		h.log.Warn("admission denied", "webhook", "validate", "kind", req.Kind.Kind, "namespace", req.Namespace, "name", req.Name, "error", err)
		return deny(http.StatusBadRequest, "raygate: "+err.Error())
	}
	findings := lint.Object("", obj)
	old := map[string]bool{}
	if req.Operation == admissionv1.Update && len(req.OldObject.Raw) > 0 {
		if o, _, err := readObject(req.OldObject.Raw); err == nil {
			for _, f := range lint.Object("", o) {
				old[f.Rule+"@"+f.Field] = true
			}
		}
	}
	name := displayName(req, obj)
	var errs []string
	var warnings []string
	for _, f := range findings {
		line := fmt.Sprintf("%s at %s: %s", f.Rule, f.Field, f.Message)
		switch {
		case f.Severity == lint.SeverityError && !old[f.Rule+"@"+f.Field]:
			errs = append(errs, line)
		case f.Severity == lint.SeverityError, f.Severity == lint.SeverityWarning:
			warnings = append(warnings, shorten(line))
		}
	}
	if len(errs) > 0 {
		h.log.Info("admission denied", "webhook", "validate", "kind", obj.Kind, "object", name, "operation", req.Operation, "errors", len(errs))
		resp := deny(http.StatusForbidden, fmt.Sprintf("raygate denied %s %s: %s", obj.Kind, name, strings.Join(errs, "; ")))
		resp.Warnings = warnings
		return resp
	}
	h.log.Info("admission allowed", "webhook", "validate", "kind", obj.Kind, "object", name, "operation", req.Operation, "warnings", len(warnings))
	resp := allow()
	resp.Warnings = warnings
	return resp
}

func (h *handler) mutate(req *admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse {
	if ok, why := h.skip(req); ok {
		h.log.Debug("admission skipped", "webhook", "mutate", "why", why, "namespace", req.Namespace, "name", req.Name)
		return allow()
	}
	if req.Operation != admissionv1.Create {
		return allow()
	}
	obj, doc, err := readObject(req.Object.Raw)
	if err != nil {
		h.log.Warn("admission denied", "webhook", "mutate", "kind", req.Kind.Kind, "namespace", req.Namespace, "name", req.Name, "error", err)
		return deny(http.StatusBadRequest, "raygate: "+err.Error())
	}
	changes := harden.Object(obj)
	if len(changes) == 0 {
		return allow()
	}
	hardened, err := manifest.ToJSON(doc)
	if err != nil {
		return deny(http.StatusInternalServerError, "raygate: cannot encode the hardened object: "+err.Error())
	}
	ops, err := jsonPatch(req.Object.Raw, hardened)
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
