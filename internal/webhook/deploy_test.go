package webhook

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	"sigs.k8s.io/yaml"
)

// TestDeployManifest checks the shipped webhook registration: both
// webhooks fail closed and point at the handler's paths.
func TestDeployManifest(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "deploy", "webhook", "webhook.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]bool{}
	for _, doc := range bytes.Split(data, []byte("\n---\n")) {
		var head struct{ Kind string }
		if err := yaml.Unmarshal(doc, &head); err != nil {
			t.Fatal(err)
		}
		switch head.Kind {
		case "MutatingWebhookConfiguration":
			var m admissionregistrationv1.MutatingWebhookConfiguration
			if err := yaml.UnmarshalStrict(doc, &m); err != nil {
				t.Fatal(err)
			}
			for _, w := range m.Webhooks {
				check(t, head.Kind, w.FailurePolicy, w.ClientConfig, PathMutate)
			}
		case "ValidatingWebhookConfiguration":
			var v admissionregistrationv1.ValidatingWebhookConfiguration
			if err := yaml.UnmarshalStrict(doc, &v); err != nil {
				t.Fatal(err)
			}
			for _, w := range v.Webhooks {
				check(t, head.Kind, w.FailurePolicy, w.ClientConfig, PathValidate)
			}
		}
		found[head.Kind] = true
	}
	if !found["MutatingWebhookConfiguration"] || !found["ValidatingWebhookConfiguration"] || !found["Service"] {
		t.Errorf("missing objects: %v", found)
	}
}

func check(t *testing.T, kind string, fp *admissionregistrationv1.FailurePolicyType, cc admissionregistrationv1.WebhookClientConfig, path string) {
	t.Helper()
	if fp == nil || *fp != admissionregistrationv1.Fail {
		t.Errorf("%s: failurePolicy must be Fail", kind)
	}
	if cc.Service == nil || cc.Service.Path == nil || *cc.Service.Path != path {
		t.Errorf("%s: must call %s", kind, path)
	}
}
