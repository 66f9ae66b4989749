//go:build e2e

package kube

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/raygate/raygate/internal/harden"
	"github.com/raygate/raygate/internal/lint"
	"github.com/raygate/raygate/internal/manifest"
	"github.com/raygate/raygate/internal/pss"
)

type obj = map[string]any

func sub(m obj, key string) obj {
	if v, ok := m[key].(obj); ok {
		return v
	}
	v := obj{}
	m[key] = v
	return v
}

func podSpec(t obj) obj { return sub(t, "spec") }
func podSC(t obj) obj   { return sub(podSpec(t), "securityContext") }
func ctr(t obj) obj     { return podSpec(t)["containers"].([]any)[0].(obj) }
func ctrSC(t obj) obj   { return sub(ctr(t), "securityContext") }
func addVolume(t obj, v obj) {
	s := podSpec(t)
	vols, _ := s["volumes"].([]any)
	s["volumes"] = append(vols, v)
}

// variants change one thing each in a restricted pod template; the API
// server and raygate must agree on every one.
var variants = []struct {
	name string
	edit func(obj)
}{
	{"unchanged", func(obj) {}},
	{"allowPrivilegeEscalation true", func(t obj) { ctrSC(t)["allowPrivilegeEscalation"] = true }},
	{"capability SYS_ADMIN added", func(t obj) { sub(ctrSC(t), "capabilities")["add"] = []any{"SYS_ADMIN"} }},
	{"capability NET_BIND_SERVICE added", func(t obj) { sub(ctrSC(t), "capabilities")["add"] = []any{"NET_BIND_SERVICE"} }},
	{"capabilities not dropped", func(t obj) { sub(ctrSC(t), "capabilities")["drop"] = []any{} }},
	{"pod runAsNonRoot false", func(t obj) { podSC(t)["runAsNonRoot"] = false }},
	{"container runAsNonRoot false", func(t obj) { ctrSC(t)["runAsNonRoot"] = false }},
	{"pod runAsNonRoot unset", func(t obj) { delete(podSC(t), "runAsNonRoot") }},
	{"pod runAsUser 0", func(t obj) { podSC(t)["runAsUser"] = 0 }},
	{"container runAsUser 0", func(t obj) { ctrSC(t)["runAsUser"] = 0 }},
	{"pod seccomp Unconfined", func(t obj) { podSC(t)["seccompProfile"] = obj{"type": "Unconfined"} }},
	{"container seccomp Unconfined", func(t obj) { ctrSC(t)["seccompProfile"] = obj{"type": "Unconfined"} }},
	{"pod seccomp unset", func(t obj) { delete(podSC(t), "seccompProfile") }},
	{"container seccomp Localhost", func(t obj) {
		ctrSC(t)["seccompProfile"] = obj{"type": "Localhost", "localhostProfile": "ray.json"}
	}},
	{"hostNetwork", func(t obj) { podSpec(t)["hostNetwork"] = true }},
	{"hostPID", func(t obj) { podSpec(t)["hostPID"] = true }},
	{"hostIPC", func(t obj) { podSpec(t)["hostIPC"] = true }},
	{"hostPort", func(t obj) {
		ctr(t)["ports"] = []any{obj{"containerPort": 8265, "hostPort": 8265, "name": "dashboard"}}
	}},
	{"privileged", func(t obj) { ctrSC(t)["privileged"] = true; ctrSC(t)["allowPrivilegeEscalation"] = true }},
	{"procMount Unmasked in a user namespace", func(t obj) { ctrSC(t)["procMount"] = "Unmasked"; podSpec(t)["hostUsers"] = false }},
	{"unsafe sysctl", func(t obj) { podSC(t)["sysctls"] = []any{obj{"name": "kernel.msgmax", "value": "1"}} }},
	{"safe sysctl", func(t obj) {
		podSC(t)["sysctls"] = []any{obj{"name": "net.ipv4.ip_local_port_range", "value": "1024 65535"}}
	}},
	{"AppArmor annotation unconfined", func(t obj) {
		sub(sub(t, "metadata"), "annotations")["container.apparmor.security.beta.kubernetes.io/ray-head"] = "unconfined"
	}},
	{"AppArmor annotation runtime/default, pod Unconfined", func(t obj) {
		sub(sub(t, "metadata"), "annotations")["container.apparmor.security.beta.kubernetes.io/ray-head"] = "runtime/default"
		podSC(t)["appArmorProfile"] = obj{"type": "Unconfined"}
	}},
	{"AppArmor field Unconfined", func(t obj) { ctrSC(t)["appArmorProfile"] = obj{"type": "Unconfined"} }},
	{"AppArmor field RuntimeDefault", func(t obj) { ctrSC(t)["appArmorProfile"] = obj{"type": "RuntimeDefault"} }},
	{"SELinux type spc_t", func(t obj) { ctrSC(t)["seLinuxOptions"] = obj{"type": "spc_t"} }},
	{"SELinux user", func(t obj) { podSC(t)["seLinuxOptions"] = obj{"user": "system_u"} }},
	{"SELinux level", func(t obj) { podSC(t)["seLinuxOptions"] = obj{"level": "s0:c1,c2"} }},
	{"probe with host", func(t obj) {
		ctr(t)["livenessProbe"] = obj{"httpGet": obj{"host": "10.0.0.1", "port": 8265, "path": "/"}}
	}},
	{"hostPath volume", func(t obj) { addVolume(t, obj{"name": "h", "hostPath": obj{"path": "/var/log"}}) }},
	{"nfs volume", func(t obj) { addVolume(t, obj{"name": "n", "nfs": obj{"server": "nfs", "path": "/"}}) }},
	{"allowed volumes", func(t obj) {
		addVolume(t, obj{"name": "e", "emptyDir": obj{}})
		addVolume(t, obj{"name": "c", "configMap": obj{"name": "c"}})
		addVolume(t, obj{"name": "s", "secret": obj{"secretName": "s"}})
		addVolume(t, obj{"name": "p", "persistentVolumeClaim": obj{"claimName": "p"}})
		addVolume(t, obj{"name": "d", "downwardAPI": obj{"items": []any{obj{"path": "l", "fieldRef": obj{"fieldPath": "metadata.labels"}}}}})
	}},
	{"init container privileged", func(t obj) {
		podSpec(t)["initContainers"] = []any{obj{"name": "init", "image": "busybox:1.36", "securityContext": obj{
			"privileged": true, "allowPrivilegeEscalation": true}}}
	}},
	{"restricted init container", func(t obj) {
		podSpec(t)["initContainers"] = []any{obj{"name": "init", "image": "busybox:1.36", "securityContext": obj{
			"allowPrivilegeEscalation": false, "capabilities": obj{"drop": []any{"ALL"}}}}}
	}},
	{"second container without securityContext", func(t obj) {
		s := podSpec(t)
		s["containers"] = append(s["containers"].([]any), obj{"name": "sidecar", "image": "busybox:1.36"})
	}},
	{"user namespace relaxes runAsNonRoot", func(t obj) {
		podSpec(t)["hostUsers"] = false
		podSC(t)["runAsNonRoot"] = false
		podSC(t)["runAsUser"] = 0
	}},
	{"Windows pod", func(t obj) {
		podSpec(t)["os"] = obj{"name": "windows"}
		delete(podSC(t), "seccompProfile")
		delete(podSC(t), "runAsUser")
		delete(ctrSC(t), "capabilities")
		delete(ctrSC(t), "allowPrivilegeEscalation")
	}},
}

func after(s, sep string) string {
	_, a, _ := strings.Cut(s, sep)
	return a
}

// TestPodSecurityVariants changes a restricted pod template one field at a
// time and checks, for each, that raygate lint and the API server's Pod
// Security Admission reach the same verdict for the same reasons.
func TestPodSecurityVariants(t *testing.T) {
	c := apiServer(t)
	ns := "pss-variants"
	restrictedNamespace(t, c, ns, nil)
	hardened, _, err := harden.File(readSample(t, filepath.Join(samplesDir, "ray-cluster.sample.yaml")))
	if err != nil {
		t.Fatal(err)
	}
	file, err := manifest.Read(hardened)
	if err != nil {
		t.Fatal(err)
	}
	head := manifest.Templates(file.Objects()[0])[0]
	base, err := head.Value.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	admitted, rejected := 0, 0
	for i, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			var tmpl obj
			if err := json.Unmarshal(base, &tmpl); err != nil {
				t.Fatal(err)
			}
			v.edit(tmpl)
			tj, _ := json.Marshal(tmpl)
			cluster := fmt.Sprintf(`{"apiVersion":"ray.io/v1","kind":"RayCluster","metadata":{"name":"v"},"spec":{"headGroupSpec":{"template":%s}}}`, tj)
			fs, err := lint.File("variant.json", []byte(cluster))
			if err != nil {
				t.Fatal(err)
			}
			var pssFindings []lint.Finding
			for _, f := range fs {
				if strings.HasPrefix(f.Rule, lint.RulePSSPrefix) {
					pssFindings = append(pssFindings, f)
				}
			}
			apiErr := dryRunCreate(t, c, podFromTemplate(t, tj, ns, fmt.Sprintf("v%d", i)))
			if apiErr != nil && !isPodSecurityDenial(apiErr) {
				t.Fatalf("the API server refused the pod for another reason: %v", apiErr)
			}
			if (apiErr == nil) != (len(pssFindings) == 0) {
				t.Fatalf("API server admits=%v (%v); raygate PSS findings: %v", apiErr == nil, apiErr, pssFindings)
			}
			if apiErr == nil {
				admitted++
				return
			}
			rejected++
			var pt corev1.PodTemplateSpec
			if err := json.Unmarshal(tj, &pt); err != nil {
				t.Fatal(err)
			}
			pss.AsPod(&pt.ObjectMeta, &pt.Spec)
			if _, agg, _ := pss.Allowed(&pt.ObjectMeta, &pt.Spec); !strings.HasSuffix(apiErr.Error(), ": "+after(agg, ": ")) {
				t.Errorf("violations differ:\n api: %v\n raygate: %s", apiErr, agg)
			}
			for _, f := range pssFindings {
				reason := strings.TrimPrefix(f.Message, "head pod: ")
				if i := strings.Index(reason, " ("); i >= 0 {
					reason = reason[:i]
				}
				if !strings.Contains(apiErr.Error(), reason) {
					t.Errorf("raygate %s at %s says %q; the API server: %v", f.Rule, f.Field, reason, apiErr)
				}
			}
			t.Logf("%s: API server and raygate reject (%d findings, e.g. %s at %s)", v.name, len(pssFindings), pssFindings[0].Rule, pssFindings[0].Field)
		})
	}
	t.Logf("%d variants admitted, %d rejected, in agreement", admitted, rejected)
}
