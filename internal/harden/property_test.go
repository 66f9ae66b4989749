package harden

import (
	"bytes"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/raygate/raygate/internal/lint"
	"github.com/raygate/raygate/internal/manifest"
)

// The properties every hardened file has: it passes lint for every rule
// harden claims to fix, hardening it again changes nothing, and every
// value harden changed did not comply before (a compliant value, however
// written, is kept).
func checkProperties(t *testing.T, name string, in []byte) {
	t.Helper()
	out, _, err := File(in)
	if err != nil {
		t.Fatalf("%s: harden: %v\n%s", name, err, in)
	}
	again, changes, err := File(out)
	if err != nil {
		t.Fatalf("%s: hardened output does not harden: %v\n%s", name, err, out)
	}
	if !bytes.Equal(again, out) || len(changes) != 0 {
		t.Fatalf("%s: not idempotent: second pass changed %v\n%s", name, changes, out)
	}
	fs, err := lint.File(name, out)
	if err != nil {
		t.Fatalf("%s: hardened output does not lint: %v", name, err)
	}
	for _, f := range fs {
		if r, ok := lint.RuleByID(f.Rule); ok && r.Hardened && f.Severity == lint.SeverityError {
			t.Errorf("%s: hardened output fails %s at %s: %s\n%s", name, f.Rule, f.Field, f.Message, out)
		}
	}
	before, err := manifest.Read(in)
	if err != nil {
		t.Fatal(err)
	}
	after, err := manifest.Read(out)
	if err != nil {
		t.Fatal(err)
	}
	b, a := before.Resources(), after.Resources()
	if len(b) != len(a) {
		t.Fatalf("%s: %d objects became %d", name, len(b), len(a))
	}
	for i := range b {
		if !b[i].IsRay() && !b[i].IsWorkload() {
			if p, differ := b[i].Value.Diff(a[i].Value); differ {
				t.Errorf("%s: %s/%s changed at %s", name, b[i].Kind, b[i].Name, p)
			}
			continue
		}
		leaves(nil, b[i].Value, func(p manifest.Path, v *manifest.Value) {
			now := a[i].Value.At(p)
			if now.Equal(v) || (v.IsNull() || v.IsMap()) && now.IsMap() {
				return // unchanged, or a null or empty mapping filled in
			}
			if !mayChange(b[i], p) {
				t.Errorf("%s: %s/%s: harden changed the compliant %s (%s)", name, b[i].Kind, b[i].Name, p, v.Scalar())
			}
		})
	}
}

// leaves calls fn for every scalar, empty mapping and empty list of v.
func leaves(p manifest.Path, v *manifest.Value, fn func(manifest.Path, *manifest.Value)) {
	switch {
	case v.IsMap() && v.Len() > 0:
		for _, k := range v.Keys() {
			leaves(p.Key(k), v.Get(k), fn)
		}
	case v.IsList() && v.Len() > 0:
		for i, it := range v.Items() {
			leaves(p.Index(i), it, fn)
		}
	default:
		fn(p, v)
	}
}

// mayChange reports whether the value at p of an object does not comply,
// by the rules harden fixes, written independently of harden.
func mayChange(o manifest.Object, p manifest.Path) bool {
	obj := o.Value
	s := p.String()
	// The pod spec the value belongs to: in a user namespace restricted
	// allows root (not for the KubeRay operator, RG-operator-non-root).
	podSpec := obj
	for _, cut := range []string{".containers[", ".initContainers[", ".ephemeralContainers[", ".securityContext"} {
		if i := strings.Index(s, cut); i >= 0 {
			podSpec = obj.Lookup(s[:i])
			break
		}
	}
	_, operator := manifest.FindOperator(o)
	rootAllowed := podSpec.Get("hostUsers").IsFalse() && !operator
	upTo := func(part string) *manifest.Value {
		i := strings.LastIndex(s, part)
		return obj.Lookup(s[:i+len(part)])
	}
	allowedType := func(typ *manifest.Value) bool { return typ.Str() == "RuntimeDefault" || typ.Str() == "Localhost" }
	switch {
	case strings.HasSuffix(s, "securityContext.allowPrivilegeEscalation"):
		return !obj.At(p).IsFalse()
	case strings.HasSuffix(s, "securityContext.privileged"):
		return !obj.At(p).IsFalse()
	case strings.HasSuffix(s, "securityContext.runAsNonRoot"):
		return !obj.At(p).IsTrue() && !rootAllowed
	case strings.HasSuffix(s, "securityContext.runAsUser"):
		n, ok := obj.At(p).Number()
		return ok && n == 0 && !rootAllowed
	case strings.HasSuffix(s, "securityContext.procMount"):
		return obj.At(p).Str() != "Default"
	case strings.Contains(s, "securityContext.seccompProfile"):
		return !allowedType(upTo("securityContext.seccompProfile").Get("type"))
	case strings.Contains(s, "securityContext.appArmorProfile"):
		return !allowedType(upTo("securityContext.appArmorProfile").Get("type"))
	case strings.Contains(s, "capabilities.drop"):
		for _, d := range upTo("capabilities.drop").Items() {
			if d.Str() == "ALL" {
				return false
			}
		}
		return true
	case strings.Contains(s, "capabilities.add"):
		for _, a := range upTo("capabilities.add").Items() {
			if a.Str() != "NET_BIND_SERVICE" {
				return true
			}
		}
		return false
	case strings.HasSuffix(s, "automountServiceAccountToken"):
		return !obj.At(p).IsFalse()
	case strings.HasSuffix(s, "headGroupSpec.serviceType"):
		return manifest.ExposedServiceType(obj.At(p).Str())
	case strings.Contains(s, "headService.spec"):
		svc := upTo("headService.spec")
		return manifest.ExposedServiceType(svc.Get("type").Str()) || strings.Contains(s, "externalIPs") || strings.Contains(s, "loadBalancerSourceRanges")
	case strings.HasSuffix(s, "enableIngress"):
		return obj.At(p).IsTrue()
	case strings.Contains(s, "authOptions"):
		return upTo("authOptions").Get("mode").Str() != manifest.AuthModeToken
	case strings.Contains(s, appArmorAnnotationPrefix):
		v := obj.At(p).Str()
		return v != "" && v != "runtime/default" && !strings.HasPrefix(v, "localhost/")
	}
	return false
}

// TestPropertiesOnSamples checks the properties on KubeRay's samples and on
// the adversarial manifests lint accepts.
func TestPropertiesOnSamples(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(samplesDir, "*.yaml"))
	adv, _ := filepath.Glob(filepath.Join("..", "lint", "testdata", "adversarial", "*.yaml"))
	for _, f := range append(files, adv...) {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := manifest.Read(data); err != nil {
			continue // refused by the reader: harden refuses it too (TestAdversarial)
		}
		checkProperties(t, filepath.Base(f), data)
	}
}

// variant writes a RayCluster or RayJob with the spellings and structures
// that made harden leave non-compliant output or change compliant values:
// capability names in other cases and with CAP_, uid 0 written in YAML
// 1.1's other ways, securityContexts from merges (before and after
// explicit keys), worker templates that alias the head's, head Services
// with external addresses, user namespaces (where root complies) and
// ephemeral containers.
func variant(r *rand.Rand) []byte {
	pick := func(xs ...string) string { return xs[r.Intn(len(xs))] }
	var b strings.Builder
	kind := pick("RayCluster", "RayJob")
	ind := "  "
	bools := func() string { return pick("true", "false", "yes", "no", "on", "off", "True", "FALSE") }
	uid := func() string { return pick("0", "00", "0x0", "0o0", "+0", "-0", "0.0", "1000", "2000", "0b0") }
	// Anchors live in a field the API server prunes.
	fmt.Fprintf(&b, "apiVersion: ray.io/v1\nkind: %s\nmetadata:\n  name: v\nanchors:\n", kind)
	fmt.Fprintf(&b, "  podsc: &podsc {runAsNonRoot: %s, runAsUser: %s, fsGroup: 4000}\n", bools(), uid())
	fmt.Fprintf(&b, "  ctrsc: &ctrsc {allowPrivilegeEscalation: %s, capabilities: {drop: [%s]}}\n", bools(), pick("ALL", "all", "NET_RAW"))
	b.WriteString("spec:\n")
	if kind == "RayJob" {
		b.WriteString("  entrypoint: python -c 'print(1)'\n  rayClusterSpec:\n")
		ind = "    "
	}
	w := func(format string, args ...any) { fmt.Fprintf(&b, ind+format+"\n", args...) }
	w("rayVersion: \"2.52.0\"")
	if r.Intn(2) == 0 {
		w("enableInTreeAutoscaling: %s", pick("true", "yes", "on", "false"))
	}
	if r.Intn(3) > 0 {
		w("authOptions: {mode: %s}", pick("token", "disabled", `"token"`))
	}
	w("headGroupSpec:")
	w("  rayStartParams: {}")
	w("  serviceType: %s", pick("ClusterIP", "NodePort", "LoadBalancer"))
	w("  enableIngress: %s", pick("false", "true", "yes", "no", "on", "off"))
	if r.Intn(3) == 0 {
		w("  headService:")
		w("    spec: {type: %s%s}", pick("ClusterIP", "LoadBalancer", "NodePort"), pick("", ", externalIPs: [203.0.113.5]", ", loadBalancerSourceRanges: [10.0.0.0/8]", ", externalTrafficPolicy: Local"))
	}
	podSC := func() string {
		switch r.Intn(6) {
		case 0:
			return ""
		case 1:
			return "securityContext: {runAsNonRoot: " + bools() + ", runAsUser: " + uid() + ", fsGroup: 3000}"
		case 2:
			return "securityContext: {<<: *podsc}"
		case 3:
			return "securityContext: {runAsUser: " + uid() + ", <<: *podsc}"
		case 4:
			return "securityContext: {<<: *podsc, runAsUser: " + uid() + ", seccompProfile: {type: " + pick("Unconfined", "RuntimeDefault", "runtimedefault") + "}}"
		}
		return "securityContext:"
	}
	ctrSC := func() string {
		caps := pick("", "capabilities: {drop: ["+pick("all", "ALL", "All", "CAP_ALL", "NET_RAW")+"]}",
			"capabilities: {drop: [ALL], add: ["+pick("CAP_NET_BIND_SERVICE", "net_bind_service", "NET_BIND_SERVICE", "SYS_ADMIN, NET_BIND_SERVICE", "cap_sys_admin")+"]}",
			"capabilities: {add: [NET_BIND_SERVICE, NET_BIND_SERVICE]}")
		parts := []string{}
		if caps != "" {
			parts = append(parts, caps)
		}
		if r.Intn(2) == 0 {
			parts = append(parts, "allowPrivilegeEscalation: "+bools())
		}
		if r.Intn(3) == 0 {
			parts = append(parts, "privileged: "+bools())
		}
		if r.Intn(3) == 0 {
			parts = append(parts, "runAsUser: "+uid())
		}
		if r.Intn(4) == 0 {
			parts = append(parts, "<<: *ctrsc")
		}
		if r.Intn(4) == 0 {
			parts = append(parts, "readOnlyRootFilesystem: true")
		}
		return "securityContext: {" + strings.Join(parts, ", ") + "}"
	}
	w("  template: &tmpl")
	w("    spec:")
	if r.Intn(4) == 0 {
		w("      hostUsers: false") // restricted allows root here
	}
	if r.Intn(5) == 0 {
		w("      ephemeralContainers: [{name: debug, image: busybox, %s}]", ctrSC())
	}
	if sc := podSC(); sc != "" {
		w("      %s", sc)
	}
	w("      containers:")
	w("      - name: ray-head")
	w("        image: rayproject/ray:2.52.0")
	w("        resources: {limits: {cpu: \"1\", memory: 2Gi}}")
	w("        %s", ctrSC())
	w("workerGroupSpecs:")
	w("- groupName: w")
	w("  rayStartParams: {}")
	switch r.Intn(3) {
	case 0:
		w("  template: *tmpl")
	case 1:
		w("  template: {<<: *tmpl}")
	default:
		w("  template:")
		w("    spec:")
		if sc := podSC(); sc != "" {
			w("      %s", sc)
		}
		w("      containers:")
		w("      - name: ray-worker")
		w("        image: rayproject/ray:2.52.0")
		w("        resources: {limits: {cpu: \"1\", memory: 2Gi}}")
		w("        %s", strings.Replace(ctrSC(), "<<: *ctrsc", "<<: [{privileged: "+bools()+"}, *ctrsc]", 1))
	}
	return []byte(b.String())
}

// TestPropertiesOnVariants checks the properties on generated variants.
func TestPropertiesOnVariants(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	insecure := 0
	for i := 0; i < 200; i++ {
		data := variant(r)
		fs, err := lint.File("v.yaml", data)
		if err != nil {
			t.Fatalf("variant %d does not read: %v\n%s", i, err, data)
		}
		for _, f := range fs {
			if r, ok := lint.RuleByID(f.Rule); ok && r.Hardened && f.Severity == lint.SeverityError {
				insecure++
				break
			}
		}
		checkProperties(t, fmt.Sprintf("variant-%d.yaml", i), data)
		if t.Failed() {
			t.Logf("variant %d:\n%s", i, data)
			return
		}
	}
	if insecure < 160 {
		t.Errorf("only %d of 200 variants had something to fix", insecure)
	}
}
