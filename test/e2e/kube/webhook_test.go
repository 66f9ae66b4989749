//go:build e2e

package kube

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/raygate/raygate/internal/config"
	"github.com/raygate/raygate/internal/harden"
	"github.com/raygate/raygate/internal/webhook"
	"github.com/raygate/raygate/test/e2e/harness"
)

// certs is a CA and a serving certificate for 127.0.0.1 signed by it.
type certs struct {
	caPEM, certFile, keyFile string
	pair                     tls.Certificate
}

func newCerts(t *testing.T, dir string) certs {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "raygate test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "raygate-webhook"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, leaf, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(key)
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
	c := certs{
		caPEM:    string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})),
		certFile: filepath.Join(dir, "webhook.crt"), keyFile: filepath.Join(dir, "webhook.key"),
	}
	if err := os.WriteFile(c.certFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(c.keyFile, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if c.pair, err = tls.X509KeyPair(certPEM, keyPEM); err != nil {
		t.Fatal(err)
	}
	return c
}

func freePort(t *testing.T) int {
	t.Helper()
	p, err := harness.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// waitTLS waits until a TLS server trusted by caPEM answers on addr.
func waitTLS(t *testing.T, addr, caPEM string, exited func() (bool, string)) {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM([]byte(caPEM))
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12})
		if err == nil {
			conn.Close()
			return
		}
		if done, out := exited(); done {
			t.Fatalf("the webhook server exited before listening on %s:\n%s", addr, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("no TLS webhook on %s after 30s", addr)
}

// TestAdmissionWebhook registers raygate's admission webhook with the real
// API server, which calls it over TLS: once served in-process by
// webhook.NewHandler, once by `raygate serve` with a webhook section.
func TestAdmissionWebhook(t *testing.T) {
	c := apiServer(t)
	t.Run("in-process", func(t *testing.T) {
		dir := t.TempDir()
		cs := newCerts(t, dir)
		exempt := "wh-exempt-inproc"
		h, err := webhook.NewHandler(&config.Webhook{ExemptNamespaces: []string{exempt}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		l, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cs.pair}, MinVersion: tls.VersionTLS12})
		if err != nil {
			t.Fatal(err)
		}
		srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = srv.Serve(l) }()
		t.Cleanup(func() { _ = srv.Close() })
		webhookSuite(t, c, "inproc", "https://"+l.Addr().String(), cs.caPEM, exempt)
	})
	t.Run("raygate-serve", func(t *testing.T) {
		bin := harness.RequireEnv(t, "RAYGATE_BIN", "raygate binary", "scripts/test.sh builds it")
		dir := t.TempDir()
		cs := newCerts(t, dir)
		exempt := "wh-exempt-serve"
		addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
		cfg := fmt.Sprintf(`listen: 127.0.0.1:%d
metricsListen: 127.0.0.1:%d
authentication:
  apiKeys:
    - {name: x, sha256: "%s", user: x}
clusters: []
audit:
  file: %s
webhook:
  listen: %s
  tls: {certFile: %s, keyFile: %s}
  exemptNamespaces: [%s]
`, freePort(t), freePort(t), strings.Repeat("ab", 32), filepath.Join(dir, "audit.log"), addr, cs.certFile, cs.keyFile, exempt)
		cfgPath := filepath.Join(dir, "raygate.yaml")
		if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		logPath := filepath.Join(dir, "serve.log")
		logf, err := os.Create(logPath)
		if err != nil {
			t.Fatal(err)
		}
		defer logf.Close()
		cmd := exec.Command(bin, "serve", "--config", cfgPath)
		cmd.Stdout, cmd.Stderr = logf, logf
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		t.Cleanup(func() {
			_ = cmd.Process.Signal(os.Interrupt)
			select {
			case <-done:
			case <-time.After(20 * time.Second):
				_ = cmd.Process.Kill()
			}
		})
		exited := func() (bool, string) {
			select {
			case <-done:
				b, _ := os.ReadFile(logPath)
				return true, string(b)
			default:
				return false, ""
			}
		}
		waitTLS(t, addr, cs.caPEM, exited)
		webhookSuite(t, c, "serve", "https://"+addr, cs.caPEM, exempt)
	})
}

// webhookSuite registers the webhooks at base (scoped to namespaces
// labelled for this variant) and checks what the API server then does.
func webhookSuite(t *testing.T, c client.Client, variant, base, caPEM, exempt string) {
	sel := map[string]string{"raygate-webhook-test": variant}
	ns := "wh-" + variant
	restrictedNamespace(t, c, ns, sel)
	restrictedNamespace(t, c, exempt, sel)

	fail := admissionregistrationv1.Fail
	none := admissionregistrationv1.SideEffectClassNone
	timeout := int32(10)
	rules := []admissionregistrationv1.RuleWithOperations{{
		Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update},
		Rule: admissionregistrationv1.Rule{APIGroups: []string{"ray.io"}, APIVersions: []string{"v1"},
			Resources: []string{"rayclusters", "rayjobs", "rayservices"}},
	}}
	clientCfg := func(path string) admissionregistrationv1.WebhookClientConfig {
		u := base + path
		return admissionregistrationv1.WebhookClientConfig{URL: &u, CABundle: []byte(caPEM)}
	}
	vwc := &admissionregistrationv1.ValidatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: "raygate-validate-" + variant},
		Webhooks: []admissionregistrationv1.ValidatingWebhook{{
			Name: "validate.raygate.dev", ClientConfig: clientCfg(webhook.PathValidate), Rules: rules,
			FailurePolicy: &fail, SideEffects: &none, AdmissionReviewVersions: []string{"v1"}, TimeoutSeconds: &timeout,
			NamespaceSelector: &metav1.LabelSelector{MatchLabels: sel},
		}},
	}
	sample := readSample(t, filepath.Join(samplesDir, "ray-cluster.sample.yaml"))
	// A cluster created before the webhook, with a host-path volume
	// (restricted forbids it): updates that keep the violation as it is
	// pass the ratchet, pointing it elsewhere does not.
	legacy := legacyHostPathCluster(t, sample, ns)
	if err := c.Create(ctx(t), legacy); err != nil {
		t.Fatal(err)
	}
	if err := c.Create(ctx(t), vwc); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Delete(ctx(t), vwc) })

	insecure := func(name, namespace string) *unstructured.Unstructured {
		for _, o := range objectsFromYAML(t, sample) {
			if o.GetKind() == "RayCluster" {
				o.SetName(name)
				o.SetNamespace(namespace)
				return o
			}
		}
		t.Fatal("no RayCluster in the sample")
		return nil
	}

	// The API server calls the webhook (registration takes a moment to be
	// seen): an insecure RayCluster is rejected, naming rule and field.
	var err error
	deadline := time.Now().Add(20 * time.Second)
	for {
		err = c.Create(ctx(t), insecure("insecure", ns))
		if err != nil || time.Now().After(deadline) {
			break
		}
		_ = c.Delete(ctx(t), insecure("insecure", ns))
		time.Sleep(200 * time.Millisecond)
	}
	if err == nil {
		t.Fatal("the API server admitted an insecure RayCluster with the validating webhook registered")
	}
	for _, want := range []string{"raygate denied RayCluster", "PSS-runAsNonRoot at spec.headGroupSpec.template.spec.containers[0].securityContext.runAsNonRoot", "RG-auth-disabled at spec.authOptions"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("denial does not mention %q: %v", want, err)
		}
	}

	// The ratchet, called by the API server on UPDATE.
	updateLegacy := func(change func(o *unstructured.Unstructured)) error {
		o := &unstructured.Unstructured{}
		o.SetGroupVersionKind(legacy.GroupVersionKind())
		if err := c.Get(ctx(t), client.ObjectKeyFromObject(legacy), o); err != nil {
			t.Fatal(err)
		}
		change(o)
		return c.Update(ctx(t), o)
	}
	if err := updateLegacy(func(o *unstructured.Unstructured) { o.SetLabels(map[string]string{"team": "a"}) }); err != nil {
		t.Errorf("an update that keeps the old violation as it is was refused: %v", err)
	}
	err = updateLegacy(func(o *unstructured.Unstructured) {
		vols, _, _ := unstructured.NestedSlice(o.Object, "spec", "headGroupSpec", "template", "spec", "volumes")
		_ = unstructured.SetNestedField(vols[0].(map[string]any), "/", "hostPath", "path")
		_ = unstructured.SetNestedSlice(o.Object, vols, "spec", "headGroupSpec", "template", "spec", "volumes")
	})
	if err == nil || !strings.Contains(err.Error(), "PSS-restrictedVolumes at spec.headGroupSpec.template.spec.volumes[0]") {
		t.Errorf("the host path pointed at / passed the ratchet: %v", err)
	}

	// A hardened one is admitted.
	hardened, _, herr := harden.File(sample)
	if herr != nil {
		t.Fatal(herr)
	}
	for _, o := range objectsFromYAML(t, hardened) {
		if o.GetKind() == "RayCluster" {
			o.SetName("hardened")
			o.SetNamespace(ns)
			if err := c.Create(ctx(t), o); err != nil {
				t.Errorf("hardened RayCluster refused: %v", err)
			}
		}
	}

	// Exempt namespaces are admitted unchanged.
	if err := c.Create(ctx(t), insecure("insecure", exempt)); err != nil {
		t.Errorf("insecure RayCluster refused in exempt namespace %s: %v", exempt, err)
	}

	// With the mutating webhook as well, the insecure sample is hardened on
	// the way in, passes validation, and its head pod passes Pod Security.
	mwc := &admissionregistrationv1.MutatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: "raygate-mutate-" + variant},
		Webhooks: []admissionregistrationv1.MutatingWebhook{{
			Name: "mutate.raygate.dev", ClientConfig: clientCfg(webhook.PathMutate), Rules: rules,
			FailurePolicy: &fail, SideEffects: &none, AdmissionReviewVersions: []string{"v1"}, TimeoutSeconds: &timeout,
			NamespaceSelector: &metav1.LabelSelector{MatchLabels: sel},
		}},
	}
	if err := c.Create(ctx(t), mwc); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Delete(ctx(t), mwc) })
	mutated := insecure("mutated", ns)
	deadline = time.Now().Add(20 * time.Second)
	for {
		err = c.Create(ctx(t), mutated)
		if err == nil || time.Now().After(deadline) {
			break
		}
		mutated = insecure("mutated", ns)
		time.Sleep(200 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("the mutated RayCluster was not admitted: %v", err)
	}
	stored := &unstructured.Unstructured{}
	stored.SetGroupVersionKind(mutated.GroupVersionKind())
	if err := c.Get(ctx(t), client.ObjectKey{Namespace: ns, Name: "mutated"}, stored); err != nil {
		t.Fatal(err)
	}
	if mode, _, _ := unstructured.NestedString(stored.Object, "spec", "authOptions", "mode"); mode != "token" {
		t.Errorf("stored RayCluster has authOptions.mode %q", mode)
	}
	tmpl, _, _ := unstructured.NestedMap(stored.Object, "spec", "headGroupSpec", "template")
	tj, _ := jsonMarshal(tmpl)
	if err := dryRunCreate(t, c, podFromTemplate(t, tj, ns, "mutated-head")); err != nil {
		t.Errorf("the mutated RayCluster's head pod is refused: %v", err)
	}
}

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }

// legacyHostPathCluster is the hardened sample RayCluster with a
// host-path volume on its head, in namespace ns.
func legacyHostPathCluster(t *testing.T, sample []byte, ns string) *unstructured.Unstructured {
	t.Helper()
	hardened, _, err := harden.File(sample)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objectsFromYAML(t, hardened) {
		if o.GetKind() != "RayCluster" {
			continue
		}
		o.SetName("legacy")
		o.SetNamespace(ns)
		vols, _, _ := unstructured.NestedSlice(o.Object, "spec", "headGroupSpec", "template", "spec", "volumes")
		vols = append([]any{map[string]any{"name": "logs", "hostPath": map[string]any{"path": "/var/log/ray"}}}, vols...)
		if err := unstructured.SetNestedSlice(o.Object, vols, "spec", "headGroupSpec", "template", "spec", "volumes"); err != nil {
			t.Fatal(err)
		}
		return o
	}
	t.Fatal("no RayCluster in the sample")
	return nil
}

// TestWebhookRayServiceOwner registers the validating webhook (served
// in-process, asking the real API server with SubjectAccessReviews) and
// checks that a developer who may change RayClusters but not RayServices
// cannot change or delete the RayCluster a RayService owns, while one who
// may update the RayService can.
func TestWebhookRayServiceOwner(t *testing.T) {
	c := apiServer(t)
	access, err := webhook.NewAccessReviewerFor(restCfg)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cs := newCerts(t, dir)
	l, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cs.pair}, MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: webhook.NewHandlerWith(webhook.Options{Access: access}), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })

	ns := "wh-owner"
	sel := map[string]string{"raygate-webhook-test": "owner"}
	restrictedNamespace(t, c, ns, sel)
	fail := admissionregistrationv1.Fail
	none := admissionregistrationv1.SideEffectClassNone
	url := "https://" + l.Addr().String() + webhook.PathValidate
	vwc := &admissionregistrationv1.ValidatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: "raygate-validate-owner"},
		Webhooks: []admissionregistrationv1.ValidatingWebhook{{
			Name: "validate.raygate.dev", ClientConfig: admissionregistrationv1.WebhookClientConfig{URL: &url, CABundle: []byte(cs.caPEM)},
			Rules: []admissionregistrationv1.RuleWithOperations{{
				Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update, admissionregistrationv1.Delete},
				Rule:       admissionregistrationv1.Rule{APIGroups: []string{"ray.io"}, APIVersions: []string{"v1"}, Resources: []string{"rayclusters"}},
			}},
			FailurePolicy: &fail, SideEffects: &none, AdmissionReviewVersions: []string{"v1"},
			NamespaceSelector: &metav1.LabelSelector{MatchLabels: sel},
		}},
	}
	if err := c.Create(ctx(t), vwc); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Delete(ctx(t), vwc) })

	// dev may read, change and delete RayClusters in ns, not RayServices;
	// lead may also update RayServices.
	role := func(name string, resources []string, verbs []string) {
		r := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			Rules: []rbacv1.PolicyRule{{APIGroups: []string{"ray.io"}, Resources: resources, Verbs: verbs}}}
		if err := c.Create(ctx(t), r); err != nil {
			t.Fatal(err)
		}
	}
	bind := func(name, user string) {
		b := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name + "-" + user, Namespace: ns},
			RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: name},
			Subjects: []rbacv1.Subject{{Kind: "User", APIGroup: "rbac.authorization.k8s.io", Name: user}}}
		if err := c.Create(ctx(t), b); err != nil {
			t.Fatal(err)
		}
	}
	role("clusters", []string{"rayclusters"}, []string{"get", "list", "create", "update", "patch", "delete"})
	role("services", []string{"rayservices"}, []string{"get", "update"})
	bind("clusters", "dev")
	bind("clusters", "lead")
	bind("services", "lead")

	hardened, _, err := harden.File(readSample(t, filepath.Join(samplesDir, "ray-cluster.sample.yaml")))
	if err != nil {
		t.Fatal(err)
	}
	var cluster *unstructured.Unstructured
	for _, o := range objectsFromYAML(t, hardened) {
		if o.GetKind() == "RayCluster" {
			cluster = o
		}
	}
	cluster.SetNamespace(ns)
	cluster.SetName("serve-cluster")
	cluster.SetOwnerReferences([]metav1.OwnerReference{{APIVersion: "ray.io/v1", Kind: "RayService", Name: "serve", UID: "00000000-0000-0000-0000-000000000001"}})
	// The administrator creates it (registration takes a moment to be
	// seen by the API server).
	deadline := time.Now().Add(20 * time.Second)
	for {
		err = c.Create(ctx(t), cluster.DeepCopy())
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("the administrator cannot create the RayCluster: %v", err)
	}
	change := func(cl client.Client, label string) error {
		got := &unstructured.Unstructured{}
		got.SetGroupVersionKind(cluster.GroupVersionKind())
		if err := cl.Get(ctx(t), client.ObjectKey{Namespace: ns, Name: "serve-cluster"}, got); err != nil {
			return err
		}
		got.SetLabels(map[string]string{"changed-by": label})
		return cl.Update(ctx(t), got)
	}
	dev, lead := asUser(t, "dev"), asUser(t, "lead")
	err = change(dev, "dev")
	if err == nil || !strings.Contains(err.Error(), "belongs to RayService serve, which dev may not update") {
		t.Errorf("dev changed the RayService's cluster: %v", err)
	}
	if err := dev.Delete(ctx(t), cluster.DeepCopy()); err == nil || !strings.Contains(err.Error(), "RayService serve") {
		t.Errorf("dev deleted the RayService's cluster: %v", err)
	}
	// Scaling workers, as the autoscaler does, is anyone's who may update
	// the cluster.
	scaled := &unstructured.Unstructured{}
	scaled.SetGroupVersionKind(cluster.GroupVersionKind())
	if err := dev.Get(ctx(t), client.ObjectKey{Namespace: ns, Name: "serve-cluster"}, scaled); err != nil {
		t.Fatal(err)
	}
	groups, _, _ := unstructured.NestedSlice(scaled.Object, "spec", "workerGroupSpecs")
	groups[0].(map[string]any)["replicas"] = int64(2)
	_ = unstructured.SetNestedSlice(scaled.Object, groups, "spec", "workerGroupSpecs")
	if err := dev.Update(ctx(t), scaled); err != nil {
		t.Errorf("scaling the RayService's workers is refused: %v", err)
	}
	if err := change(lead, "lead"); err != nil {
		t.Errorf("lead, who may update the RayService, cannot change its cluster: %v", err)
	}
	// A cluster without owner is dev's to change.
	free := cluster.DeepCopy()
	free.SetName("free-cluster")
	free.SetOwnerReferences(nil)
	if err := dev.Create(ctx(t), free); err != nil {
		t.Errorf("dev cannot create a cluster of their own: %v", err)
	}
	claimed := free.DeepCopy()
	claimed.SetName("claims-owner")
	claimed.SetOwnerReferences(cluster.GetOwnerReferences())
	if err := dev.Create(ctx(t), claimed); err == nil || !strings.Contains(err.Error(), "RayService serve") {
		t.Errorf("dev created a cluster claiming the RayService as owner: %v", err)
	}
}
