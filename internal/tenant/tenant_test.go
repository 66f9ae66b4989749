package tenant

import (
	"bytes"
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func load(t *testing.T) *File {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "tenants.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	f, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestRenderGolden(t *testing.T) {
	out, err := Render(load(t))
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "rendered.yaml")
	if *update {
		if err := os.WriteFile(golden, out, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	if !bytes.Equal(want, out) {
		t.Errorf("render differs from %s (run with -update and review the diff)", golden)
	}
}

func TestBuild(t *testing.T) {
	f := load(t)
	objs := BuildTenant(f, f.Tenants[0])
	var pols []string
	var verbs []string
	for _, o := range objs {
		switch x := o.(type) {
		case *networkingv1.NetworkPolicy:
			pols = append(pols, x.Name)
		case *rbacv1.Role:
			if x.Name == "ray-developer" {
				for _, r := range x.Rules {
					verbs = append(verbs, r.Verbs...)
				}
			}
		}
	}
	for _, want := range []string{"default-deny", "allow-same-namespace", "allow-raygate-to-ray-heads", "allow-kuberay-to-ray-heads", "allow-dns", "allow-autoscaler-to-apiserver"} {
		if !contains(pols, want) {
			t.Errorf("team-a lacks policy %s (has %v)", want, pols)
		}
	}
	if !contains(verbs, "ray:write") || contains(verbs, "ray:admin") {
		t.Errorf("developer verbs %v", verbs)
	}
	for _, o := range BuildTenant(f, f.Tenants[1]) {
		if p, ok := o.(*networkingv1.NetworkPolicy); ok && p.Name == "allow-autoscaler-to-apiserver" {
			t.Error("team-b has no autoscaling but may reach the API server")
		}
	}
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func TestVerify(t *testing.T) {
	f := load(t)
	r := Verify(f)
	if len(r.Violations) > 0 {
		t.Fatalf("violations: %v", r.Violations)
	}
	var buf bytes.Buffer
	if err := r.WriteText(&buf); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "isolated:") || !strings.Contains(buf.String(), "to team-a/ray-head") {
		t.Errorf("report:\n%s", buf.String())
	}
	for _, c := range r.Cells {
		if strings.HasPrefix(c.From, "team-a/") && strings.HasPrefix(c.To, "team-b/") && c.Allowed {
			t.Errorf("%s reaches %s:%d", c.From, c.To, c.Port)
		}
	}
}

// TestVerifyCatchesLeaks removes team-b's policies and expects Verify to
// report the namespace open.
func TestVerifyCatchesLeaks(t *testing.T) {
	// A tenant namespace without its policies leaks.
	f := load(t)
	orig := policiesHook
	defer func() { policiesHook = orig }()
	policiesHook = func(ps []*networkingv1.NetworkPolicy) []*networkingv1.NetworkPolicy {
		var out []*networkingv1.NetworkPolicy
		for _, p := range ps {
			if p.Name != "default-deny" && p.Namespace != "team-b" {
				out = append(out, p)
			}
		}
		return out
	}
	r := Verify(f)
	if len(r.Violations) == 0 {
		t.Fatal("no violation reported for a namespace without policies")
	}
	joined := strings.Join(r.Violations, "\n")
	if !strings.Contains(joined, "outsider can reach team-b/ray-head") {
		t.Errorf("violations:\n%s", joined)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ name, yaml, want string }{
		{"empty", "", "empty"},
		{"unknown field", "raygate: {namespace: r}\ntenants: [{name: a}]\nextra: 1\n", "extra"},
		{"no raygate namespace", "tenants: [{name: a}]\n", "raygate.namespace"},
		{"no tenants", "raygate: {namespace: r}\n", "tenants: no tenants"},
		{"bad name", "raygate: {namespace: r}\ntenants: [{name: Team_A}]\n", "tenants[0].name"},
		{"duplicate", "raygate: {namespace: r}\ntenants: [{name: a}, {name: a}]\n", "also tenants[0]"},
		{"bad role", "raygate: {namespace: r}\ntenants: [{name: a, groups: {owner: [x]}}]\n", "tenants[0].groups.owner"},
		{"bad quantity", "raygate: {namespace: r}\ntenants: [{name: a, quota: {cpu: lots}}]\n", "tenants[0].quota.cpu"},
		{"autoscaling without API server", "raygate: {namespace: r}\ntenants: [{name: a, autoscaling: true}]\n", "apiServer.cidrs"},
		{"latest version", "raygate: {namespace: r}\npodSecurityVersion: latest\ntenants: [{name: a}]\n", "podSecurityVersion"},
		{"tenant in raygate's namespace", "raygate: {namespace: r}\ntenants: [{name: r}]\n", `"r" is raygate's namespace`},
		{"tenant in kube-system with DNS elsewhere", "raygate: {namespace: r}\ndns: {namespace: dns}\ntenants: [{name: a, namespace: kube-system}]\n", `"kube-system" is a Kubernetes system namespace`},
		{"tenant in any kube- namespace", "raygate: {namespace: r}\ntenants: [{name: kube-flannel}]\n", "Kubernetes system namespace"},
		{"tenant in default", "raygate: {namespace: r}\ntenants: [{name: a, namespace: default}]\n", `"default" is a Kubernetes system namespace`},
		{"tenant in KubeRay's namespace", "raygate: {namespace: r}\nkuberay: {namespace: kuberay}\ntenants: [{name: kuberay}]\n", "the KubeRay operator's namespace"},
		{"tenant in DNS's namespace", "raygate: {namespace: r}\ndns: {namespace: dns}\ntenants: [{name: dns}]\n", "cluster DNS's namespace"},
		{"API server everywhere", "raygate: {namespace: r}\napiServer: {cidrs: [0.0.0.0/0]}\ntenants: [{name: a, autoscaling: true}]\n", "apiServer.cidrs[0]: \"0.0.0.0/0\" is every address"},
		{"API server everywhere, IPv6", "raygate: {namespace: r}\napiServer: {cidrs: [\"::/0\"]}\ntenants: [{name: a}]\n", "is every address"},
		{"API server with host bits", "raygate: {namespace: r}\napiServer: {cidrs: [10.0.0.10/8]}\ntenants: [{name: a}]\n", "write 10.0.0.10/32 for the address or 10.0.0.0/8"},
		{"API server range with every IPv4 address in mapped form", "raygate: {namespace: r}\napiServer: {cidrs: [\"::ffff:0:0/96\"]}\ntenants: [{name: a, autoscaling: true}]\n", "IPv4-mapped"},
		{"API server at an IPv4-mapped address", "raygate: {namespace: r}\napiServer: {cidrs: [\"::ffff:10.0.0.1\"]}\ntenants: [{name: a, autoscaling: true}]\n", "write it as 10.0.0.1"},
		{"API server at the cloud metadata address", "raygate: {namespace: r}\napiServer: {cidrs: [169.254.169.254/32], ports: [80]}\ntenants: [{name: a, autoscaling: true}]\n", "link-local"},
		{"API server on loopback", "raygate: {namespace: r}\napiServer: {cidrs: [127.0.0.1]}\ntenants: [{name: a, autoscaling: true}]\n", "loopback"},
		{"API server on a multicast address", "raygate: {namespace: r}\napiServer: {cidrs: [\"ff02::1\"]}\ntenants: [{name: a, autoscaling: true}]\n", "multicast"},
		{"API server half the internet", "raygate: {namespace: r}\napiServer: {cidrs: [0.0.0.0/1, 128.0.0.0/1]}\ntenants: [{name: a, autoscaling: true}]\n", "apiServer.cidrs[1]: 128.0.0.0/1 is wider than /16"},
		{"API server IPv6 range wider than a subnet", "raygate: {namespace: r}\napiServer: {cidrs: [\"2001:db8::/32\"]}\ntenants: [{name: a, autoscaling: true}]\n", "wider than /64"},
		{"fractional pods", "raygate: {namespace: r}\ntenants: [{name: a, quota: {pods: \"1.5\"}}]\n", "tenants[0].quota.pods: \"1.5\" must be a whole number"},
		{"fractional load balancers", "raygate: {namespace: r}\ntenants: [{name: a, quota: {loadBalancers: 500m}}]\n", "tenants[0].quota.loadBalancers: \"500m\" must be a whole number"},
		{"fractional Ray clusters", "raygate: {namespace: r}\ntenants: [{name: a, quota: {rayClusters: \"0.5\"}}]\n", "tenants[0].quota.rayClusters"},
		{"default request above the default limit", "raygate: {namespace: r}\ntenants: [{name: a, defaults: {cpu: \"2\", requestCPU: \"4\"}}]\n", "tenants[0].defaults.requestCPU: 4 is more than the default limit cpu 2"},
		{"default limit of zero", "raygate: {namespace: r}\ntenants: [{name: a, defaults: {memory: \"0\"}}]\n", "tenants[0].defaults.requestMemory: 1Gi is more than the default limit memory 0"},
		{"raygate in default", "raygate: {namespace: default}\ntenants: [{name: a}]\n", "raygate.namespace: \"default\""},
		{"KubeRay in default", "raygate: {namespace: r}\nkuberay: {namespace: default}\ntenants: [{name: a}]\n", "kuberay.namespace: \"default\""},
		{"tenant in an OpenShift namespace", "raygate: {namespace: r}\ntenants: [{name: a, namespace: openshift-config}]\n", "an OpenShift system namespace"},
		{"system group", "raygate: {namespace: r}\ntenants: [{name: a, groups: {admin: [system:authenticated]}}]\n", "tenants[0].groups.admin[0]: \"system:authenticated\" is a Kubernetes system group"},
		{"old Pod Security version", "raygate: {namespace: r}\npodSecurityVersion: v1.22\ntenants: [{name: a}]\n", "older than v1.37"},
		{"bad GPU resource", "raygate: {namespace: r}\ngpuResources: [gpu]\ntenants: [{name: a}]\n", "gpuResources[0]"},
		{"bad service account", "raygate: {namespace: r}\ntenants: [{name: a, serviceAccounts: [Ray_SA]}]\n", "tenants[0].serviceAccounts[0]"},
		{"bad glob", "raygate: {namespace: r}\nprotectedSecrets: [\"[\"]\ntenants: [{name: a}]\n", "protectedSecrets[0]"},
		{"negative node ports", "raygate: {namespace: r}\ntenants: [{name: a, quota: {nodePorts: \"-1\"}}]\n", "tenants[0].quota.nodePorts"},
		{"two documents", "raygate: {namespace: r}\ntenants: [{name: a}]\n---\na: 1\n", "single YAML document"},
		{"wrong type", "raygate: {namespace: r}\ntenants: {name: a}\n", "line 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.yaml))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want it to mention %q", err, tt.want)
			}
		})
	}
}

func TestParseWarnings(t *testing.T) {
	f, err := Parse([]byte("raygate: {namespace: r}\napiServer: {cidrs: [10.0.0.0/16, 10.1.0.0/24, 10.2.0.1]}\ntenants: [{name: a, autoscaling: true, quota: {loadBalancers: \"1\"}}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	w := strings.Join(f.Warnings, "\n")
	if len(f.Warnings) != 2 || !strings.Contains(w, "apiServer.cidrs[0]: 10.0.0.0/16 is wider than /24") || !strings.Contains(w, "tenants[0].quota.loadBalancers: 1 lets the tenant publish") {
		t.Errorf("warnings:\n%s", w)
	}
}

// TestQuotaDefaults: every tenant gets a quota that forbids load
// balancers, node ports and Ingresses, and the configured GPU resource
// names.
func TestQuotaDefaults(t *testing.T) {
	f, err := Parse([]byte("raygate: {namespace: r}\ngpuResources: [nvidia.com/gpu, amd.com/gpu]\ntenants:\n- {name: a, quota: {gpu: \"2\", ephemeralStorage: 100Gi, persistentVolumeClaims: \"5\", storage: 1Ti}}\n- {name: b}\n"))
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []map[string]string{
		{"services.loadbalancers": "0", "services.nodeports": "0", "requests.nvidia.com/gpu": "2", "requests.amd.com/gpu": "2",
			"requests.ephemeral-storage": "100Gi", "limits.ephemeral-storage": "100Gi", "persistentvolumeclaims": "5", "requests.storage": "1Ti",
			"count/ingresses.networking.k8s.io": "0"},
		{"services.loadbalancers": "0", "services.nodeports": "0", "count/ingresses.networking.k8s.io": "0"},
	} {
		var q *corev1.ResourceQuota
		var lr *corev1.LimitRange
		for _, o := range BuildTenant(f, f.Tenants[i]) {
			switch x := o.(type) {
			case *corev1.ResourceQuota:
				q = x
			case *corev1.LimitRange:
				lr = x
			}
		}
		if q == nil || len(q.Spec.Hard) != len(want) {
			t.Fatalf("tenant %d quota %v, want %v", i, q, want)
		}
		for k, v := range want {
			if got := q.Spec.Hard[corev1.ResourceName(k)]; got.String() != v {
				t.Errorf("tenant %d %s = %s, want %s", i, k, got.String(), v)
			}
		}
		_, eph := lr.Spec.Limits[0].Default[corev1.ResourceEphemeralStorage]
		if eph != (i == 0) {
			t.Errorf("tenant %d: ephemeral-storage default %v", i, eph)
		}
	}
}

func TestPolicyLookups(t *testing.T) {
	f, err := Parse([]byte("raygate: {namespace: r}\nprotectedSecrets: [\"*-token\"]\ntenants: [{name: a, serviceAccounts: [ray, jobs], protectedSecrets: [admin-ray]}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	ten, ok := f.TenantFor("a")
	if !ok {
		t.Fatal("no tenant for namespace a")
	}
	if _, ok := f.TenantFor("b"); ok {
		t.Error("namespace b has a tenant")
	}
	if !ten.ServiceAccountAllowed("jobs") || !ten.ServiceAccountAllowed("") || ten.ServiceAccountAllowed("default") {
		t.Error("service accounts")
	}
	for name, want := range map[string]bool{"admin-ray": true, "x-token": true, "data": false} {
		if _, got := f.SecretProtected(ten, name); got != want {
			t.Errorf("%s protected=%v", name, got)
		}
	}
}

func FuzzParse(f *testing.F) {
	if b, err := os.ReadFile(filepath.Join("testdata", "tenants.yaml")); err == nil {
		f.Add(b)
	}
	f.Add([]byte("raygate: {namespace: r}\ntenants: [{name: a, quota: {cpu: 1}}]\n"))
	f.Add([]byte("tenants: {name: a}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse(data)
		if err != nil {
			return
		}
		if _, err := Render(file); err != nil {
			t.Fatalf("valid file does not render: %v", err)
		}
		for _, ten := range file.Tenants {
			if why := file.SystemNamespace(ten.Namespace); why != "" {
				t.Fatalf("tenant namespace %s is %s", ten.Namespace, why)
			}
			for _, gs := range ten.Groups {
				for _, g := range gs {
					if strings.HasPrefix(g, "system:") {
						t.Fatalf("system group %s bound", g)
					}
				}
			}
		}
		for _, c := range file.APIServer.CIDRs {
			if p, err := netip.ParsePrefix(asCIDR(c)); err != nil || p.Bits() == 0 {
				t.Fatalf("API server range %s accepted", c)
			}
		}
		if r := Verify(file); len(r.Violations) > 0 {
			t.Fatalf("valid file renders leaking policies: %v", r.Violations)
		}
	})
}
