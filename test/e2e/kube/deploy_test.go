//go:build e2e

package kube

import (
	"encoding/json"
	"os"
	"testing"
)

// TestDeployManifestsApply: deploy/kubernetes/raygate.yaml applies to a real
// API server, and a Pod built from its Deployment is admitted by Pod
// Security restricted in its own namespace.
func TestDeployManifestsApply(t *testing.T) {
	c := apiServer(t)
	data, err := os.ReadFile("../../../deploy/kubernetes/raygate.yaml")
	if err != nil {
		t.Fatal(err)
	}
	objs := objectsFromYAML(t, data)
	if len(objs) < 7 {
		t.Fatalf("%d objects in the manifest", len(objs))
	}
	var template []byte
	for _, o := range objs {
		if err := c.Create(ctx(t), o); err != nil {
			t.Fatalf("create %s %s: %v", o.GetKind(), o.GetName(), err)
		}
		if o.GetKind() == "Deployment" {
			spec := o.Object["spec"].(map[string]any)
			template, _ = json.Marshal(spec["template"])
		}
	}
	if template == nil {
		t.Fatal("no Deployment in the manifest")
	}
	pod := podFromTemplate(t, template, "raygate-system", "raygate-probe")
	if err := dryRunCreate(t, c, pod); err != nil {
		t.Fatalf("raygate's own pod is not admitted under restricted: %v", err)
	}
}
