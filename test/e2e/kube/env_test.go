//go:build e2e

// Package kube holds raygate's end-to-end tests against a real
// kube-apiserver and etcd (started with envtest from KUBEBUILDER_ASSETS),
// with KubeRay's CRDs and the API server's own Pod Security Admission: lint
// verdicts agree with the API server, hardened manifests are admitted in
// restricted namespaces, rendered tenant objects apply, and the API server
// calls raygate's admission webhook.
package kube

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	"github.com/raygate/raygate/internal/pss"
	"github.com/raygate/raygate/test/e2e/harness"
)

var (
	envOnce sync.Once
	env     *envtest.Environment
	kc      client.Client
	restCfg *rest.Config
	envErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	for i := len(cleanups) - 1; i >= 0; i-- {
		cleanups[i]()
	}
	if env != nil {
		_ = env.Stop()
	}
	os.Exit(code)
}

// apiServer starts (once) a kube-apiserver with KubeRay's CRDs and returns a
// client for it. Without KUBEBUILDER_ASSETS the test fails under CI and is
// skipped otherwise.
func apiServer(t *testing.T) client.Client {
	t.Helper()
	assets := harness.RequireEnv(t, "KUBEBUILDER_ASSETS", "kube-apiserver and etcd", "run scripts/build-k8s.sh")
	envOnce.Do(func() {
		crds, err := kubeRayCRDs()
		if err != nil {
			envErr = err
			return
		}
		// envtest starts the API server with RBAC authorization and with
		// --service-account-issuer, -key-file and -signing-key-file, which
		// the TokenRequest and TokenReview APIs of the Kubernetes-mode tests
		// need.
		env = &envtest.Environment{
			BinaryAssetsDirectory: assets,
			CRDs:                  crds,
			ErrorIfCRDPathMissing: true,
			// A loaded machine takes longer than the default 10s to serve
			// the CRDs.
			CRDInstallOptions: envtest.CRDInstallOptions{MaxTime: time.Minute},
		}
		cfg, err := env.Start()
		if err != nil {
			envErr = fmt.Errorf("start kube-apiserver: %w", err)
			env = nil
			return
		}
		restCfg = cfg
		scheme := runtime.NewScheme()
		_ = clientgoscheme.AddToScheme(scheme)
		_ = apiextensionsv1.AddToScheme(scheme)
		kc, envErr = client.New(cfg, client.Options{Scheme: scheme})
	})
	if envErr != nil {
		t.Fatal(envErr)
	}
	return kc
}

// kubeRayCRDs reads KubeRay's CRDs from the kuberay module raygate builds
// with (ray-operator v1.5.0, config/crd/bases) and adds spec.authOptions,
// the token authentication API of KubeRay 1.5.1 and later, so that the
// API server keeps it instead of pruning it, and RayCronJob (KubeRay
// 1.6.0), derived from RayJob.
func kubeRayCRDs() ([]*apiextensionsv1.CustomResourceDefinition, error) {
	dir, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/ray-project/kuberay/ray-operator").Output()
	if err != nil {
		return nil, fmt.Errorf("locate the kuberay module (go list -m): %w", err)
	}
	files, err := filepath.Glob(filepath.Join(strings.TrimSpace(string(dir)), "config", "crd", "bases", "ray.io_*.yaml"))
	if err != nil || len(files) != 3 {
		return nil, fmt.Errorf("KubeRay CRDs missing in the kuberay module (%d files, %v)", len(files), err)
	}
	var out []*apiextensionsv1.CustomResourceDefinition
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var crd apiextensionsv1.CustomResourceDefinition
		if err := yaml.Unmarshal(b, &crd); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		for i := range crd.Spec.Versions {
			v := &crd.Spec.Versions[i]
			if v.Schema == nil || v.Schema.OpenAPIV3Schema == nil {
				continue
			}
			spec := v.Schema.OpenAPIV3Schema.Properties["spec"]
			switch crd.Spec.Names.Kind {
			case "RayCluster":
				addAuthOptions(&spec)
			case "RayJob":
				cs := spec.Properties["rayClusterSpec"]
				addAuthOptions(&cs)
				spec.Properties["rayClusterSpec"] = cs
			case "RayService":
				cs := spec.Properties["rayClusterConfig"]
				addAuthOptions(&cs)
				spec.Properties["rayClusterConfig"] = cs
			}
			v.Schema.OpenAPIV3Schema.Properties["spec"] = spec
		}
		out = append(out, &crd)
		if crd.Spec.Names.Kind == "RayJob" {
			out = append(out, rayCronJobCRD(&crd))
		}
	}
	return out, nil
}

// rayCronJobCRD derives the RayCronJob CRD of KubeRay 1.6.0 from the
// RayJob CRD: its spec is a RayJobSpec under jobTemplate, a schedule and
// suspend (ray-operator/apis/ray/v1/raycronjob_types.go at v1.6.0).
func rayCronJobCRD(rayJob *apiextensionsv1.CustomResourceDefinition) *apiextensionsv1.CustomResourceDefinition {
	crd := rayJob.DeepCopy()
	crd.Name = "raycronjobs.ray.io"
	crd.Spec.Names = apiextensionsv1.CustomResourceDefinitionNames{
		Plural: "raycronjobs", Singular: "raycronjob", Kind: "RayCronJob", ListKind: "RayCronJobList", Categories: []string{"all"},
	}
	for i := range crd.Spec.Versions {
		v := &crd.Spec.Versions[i]
		v.AdditionalPrinterColumns = nil
		if v.Schema == nil || v.Schema.OpenAPIV3Schema == nil {
			continue
		}
		jobSpec := v.Schema.OpenAPIV3Schema.Properties["spec"]
		v.Schema.OpenAPIV3Schema.Properties["spec"] = apiextensionsv1.JSONSchemaProps{
			Type:     "object",
			Required: []string{"jobTemplate", "schedule"},
			Properties: map[string]apiextensionsv1.JSONSchemaProps{
				"jobTemplate": jobSpec,
				"schedule":    {Type: "string"},
				"suspend":     {Type: "boolean"},
			},
		}
		v.Schema.OpenAPIV3Schema.Properties["status"] = apiextensionsv1.JSONSchemaProps{
			Type:       "object",
			Properties: map[string]apiextensionsv1.JSONSchemaProps{"lastScheduleTime": {Type: "string", Format: "date-time"}},
		}
	}
	return crd
}

func addAuthOptions(s *apiextensionsv1.JSONSchemaProps) {
	if s.Properties == nil {
		return
	}
	s.Properties["authOptions"] = apiextensionsv1.JSONSchemaProps{
		Type: "object",
		Properties: map[string]apiextensionsv1.JSONSchemaProps{
			"mode":               {Type: "string", Enum: []apiextensionsv1.JSON{{Raw: []byte(`"disabled"`)}, {Raw: []byte(`"token"`)}}},
			"enableK8sTokenAuth": {Type: "boolean"},
			"secretName":         {Type: "string"},
		},
	}
}

// asUser returns a client that acts as user (in groups), impersonated by
// the test's administrator.
func asUser(t *testing.T, user string, groups ...string) client.Client {
	t.Helper()
	cfg := rest.CopyConfig(restCfg)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: user, Groups: groups}
	c, err := client.New(cfg, client.Options{Scheme: kc.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// restrictedNamespace creates a namespace enforcing Pod Security restricted
// at raygate's pinned version, with extra labels.
func restrictedNamespace(t *testing.T, c client.Client, name string, extra map[string]string) {
	t.Helper()
	labels := map[string]string{
		"pod-security.kubernetes.io/enforce":         "restricted",
		"pod-security.kubernetes.io/enforce-version": pss.Version,
	}
	for k, v := range extra {
		labels[k] = v
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
	if err := c.Create(ctx(t), ns); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatalf("create namespace %s: %v", name, err)
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return c
}

// podFromTemplate builds a Pod object (as JSON, untouched by raygate's
// decoder) from a pod template given as JSON.
func podFromTemplate(t *testing.T, template []byte, ns, name string) *unstructured.Unstructured {
	t.Helper()
	var tmpl map[string]any
	if err := yaml.Unmarshal(template, &tmpl); err != nil {
		t.Fatal(err)
	}
	meta, _ := tmpl["metadata"].(map[string]any)
	if meta == nil {
		meta = map[string]any{}
	}
	delete(meta, "generateName")
	meta["name"], meta["namespace"] = name, ns
	spec, _ := tmpl["spec"].(map[string]any)
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec,
	}}
}

// dryRunCreate creates obj with dryRun=All, which runs admission (Pod
// Security included) without storing anything.
func dryRunCreate(t *testing.T, c client.Client, obj client.Object) error {
	t.Helper()
	return c.Create(ctx(t), obj, client.DryRunAll)
}

// isPodSecurityDenial reports whether err is Pod Security Admission's
// refusal.
func isPodSecurityDenial(err error) bool {
	return apierrors.IsForbidden(err) && strings.Contains(err.Error(), "violates PodSecurity")
}

// objectsFromYAML reads multi-document YAML into unstructured objects, as
// kubectl does (apimachinery's YAMLOrJSONDecoder, then the unstructured
// decoder; list items flattened).
func objectsFromYAML(t *testing.T, data []byte) []*unstructured.Unstructured {
	t.Helper()
	out, err := kubectlObjects(data)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// kubectlObjects decodes a manifest stream the way kubectl apply does.
func kubectlObjects(data []byte) ([]*unstructured.Unstructured, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var out []*unstructured.Unstructured
	for {
		var ext runtime.RawExtension
		if err := dec.Decode(&ext); errors.Is(err, io.EOF) {
			return out, nil
		} else if err != nil {
			return nil, err
		}
		raw := bytes.TrimSpace(ext.Raw)
		if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
			continue
		}
		obj, _, err := unstructured.UnstructuredJSONScheme.Decode(raw, nil, nil)
		if err != nil {
			return nil, err
		}
		switch x := obj.(type) {
		case *unstructured.UnstructuredList:
			for i := range x.Items {
				out = append(out, &x.Items[i])
			}
		case *unstructured.Unstructured:
			out = append(out, x)
		}
	}
}
