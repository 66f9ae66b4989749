package webhook

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"unicode/utf8"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	sigsyaml "sigs.k8s.io/yaml"
)

var reviewKinds = []string{"RayCluster", "RayJob", "RayService", "Pod"}

var reviewOps = []admissionv1.Operation{admissionv1.Create, admissionv1.Update, admissionv1.Delete, admissionv1.Connect}

// FuzzReview wraps fuzzed objects (YAML or JSON) in well-formed
// AdmissionReviews and checks both webhooks' answers: always a 200 with the
// request's uid; a denial carries a 400 or 403 status with a message; a
// mutation is a JSON Patch that applies to the object the way the API
// server applies it, and the patched object needs no further patch.
func FuzzReview(f *testing.F) {
	f.Add([]byte(insecure), uint8(0), uint8(0), "u-1")
	f.Add([]byte(asKind("RayJob")), uint8(1), uint8(0), "u-2")
	f.Add([]byte(asKind("RayService")), uint8(2), uint8(1), "u-3")
	f.Add([]byte(`{"apiVersion":"ray.io/v1","kind":"RayCluster","spec":{"headGroupSpec":{"template":{"spec":{"containers":[{}]}}}}}`), uint8(0), uint8(0), "x")
	f.Add([]byte("apiVersion: ray.io/v1\nkind: RayCluster\nspec: {headGroupSpec: {template: {spec: {containers: [{securityContext: {runAsUser: }}]}}}}\n"), uint8(0), uint8(0), "y")
	f.Add([]byte("[]"), uint8(3), uint8(2), "")
	h, err := NewHandler(nil, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, object []byte, kind, op uint8, uid string) {
		raw, err := sigsyaml.YAMLToJSON(object)
		if err != nil || !json.Valid(raw) || !utf8.ValidString(uid) {
			return // JSON carries neither
		}
		req := &admissionv1.AdmissionRequest{
			UID:       types.UID(uid),
			Kind:      metav1.GroupVersionKind{Group: "ray.io", Version: "v1", Kind: reviewKinds[int(kind)%len(reviewKinds)]},
			Namespace: "team-a",
			Operation: reviewOps[int(op)%len(reviewOps)],
			Object:    runtime.RawExtension{Raw: raw},
		}
		for _, path := range []string{PathValidate, PathMutate} {
			resp, code := postReview(t, h, path, req)
			if uid == "" {
				if code != http.StatusBadRequest {
					t.Fatalf("%s: review without a uid answered %d, want 400", path, code)
				}
				continue
			}
			if code != http.StatusOK {
				t.Fatalf("%s: well-formed review answered %d", path, code)
			}
			if string(resp.UID) != uid {
				t.Fatalf("%s: response uid %q, want %q", path, resp.UID, uid)
			}
			if !resp.Allowed {
				if resp.Result == nil || resp.Result.Message == "" || (resp.Result.Code != 400 && resp.Result.Code != 403) {
					t.Fatalf("%s: denial without a 400/403 status and message: %+v", path, resp.Result)
				}
				continue
			}
			if resp.Patch == nil {
				continue
			}
			if path != PathMutate || resp.PatchType == nil || *resp.PatchType != admissionv1.PatchTypeJSONPatch {
				t.Fatalf("%s: unexpected patch %s (type %v)", path, resp.Patch, resp.PatchType)
			}
			patch, err := jsonpatch.DecodePatch(resp.Patch)
			if err != nil {
				t.Fatalf("patch %s does not decode: %v", resp.Patch, err)
			}
			patched, err := patch.Apply(raw)
			if err != nil {
				t.Fatalf("patch %s does not apply to %s: %v", resp.Patch, raw, err)
			}
			again := *req
			again.Object = runtime.RawExtension{Raw: patched}
			if resp2, _ := postReview(t, h, PathMutate, &again); resp2 == nil || !resp2.Allowed || resp2.Patch != nil {
				t.Fatalf("patched object %s is patched again: %+v", patched, resp2)
			}
		}
	})
}

// postReview sends req to the webhook at path and returns its response
// (nil unless the status is 200) and status code.
func postReview(t *testing.T, h http.Handler, path string, req *admissionv1.AdmissionRequest) (*admissionv1.AdmissionResponse, int) {
	t.Helper()
	body, err := json.Marshal(admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request:  req,
	})
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	if rec.Code != http.StatusOK {
		return nil, rec.Code
	}
	var rev admissionv1.AdmissionReview
	if err := json.Unmarshal(rec.Body.Bytes(), &rev); err != nil || rev.Response == nil {
		t.Fatalf("%s: 200 without an AdmissionReview response: %s", path, rec.Body.Bytes())
	}
	if rev.APIVersion != "admission.k8s.io/v1" || rev.Kind != "AdmissionReview" {
		t.Fatalf("%s: response is %s %s", path, rev.Kind, rev.APIVersion)
	}
	return rev.Response, rec.Code
}
