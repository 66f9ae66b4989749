package tenant

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

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
		{"tenant in raygate's namespace", "raygate: {namespace: r}\ntenants: [{name: r}]\n", "raygate namespace"},
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
		if r := Verify(file); len(r.Violations) > 0 {
			t.Fatalf("valid file renders leaking policies: %v", r.Violations)
		}
	})
}
