package pss

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"
)

func ptr[T any](v T) *T { return &v }

func restrictedContainer(name string) corev1.Container {
	return corev1.Container{Name: name, SecurityContext: &corev1.SecurityContext{
		AllowPrivilegeEscalation: ptr(false),
		Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
	}}
}

func restrictedPod() *corev1.PodSpec {
	return &corev1.PodSpec{
		SecurityContext: &corev1.PodSecurityContext{
			RunAsNonRoot:   ptr(true),
			SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
		},
		Containers: []corev1.Container{restrictedContainer("ray")},
	}
}

func TestEvaluate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*corev1.PodSpec, *metav1.ObjectMeta)
		want   map[string]string // check -> field
	}{
		{name: "restricted", mutate: func(*corev1.PodSpec, *metav1.ObjectMeta) {}},
		{name: "empty pod", mutate: func(s *corev1.PodSpec, _ *metav1.ObjectMeta) {
			*s = corev1.PodSpec{Containers: []corev1.Container{{Name: "c"}}}
		},
			want: map[string]string{
				"allowPrivilegeEscalation":  "spec.containers[0].securityContext.allowPrivilegeEscalation",
				"capabilities_restricted":   "spec.containers[0].securityContext.capabilities",
				"runAsNonRoot":              "spec.containers[0].securityContext.runAsNonRoot",
				"seccompProfile_restricted": "spec.containers[0].securityContext.seccompProfile",
			}},
		{name: "pod runAsNonRoot false", mutate: func(s *corev1.PodSpec, _ *metav1.ObjectMeta) { s.SecurityContext.RunAsNonRoot = ptr(false) },
			want: map[string]string{"runAsNonRoot": "spec.securityContext.runAsNonRoot"}},
		{name: "pod runAsUser 0", mutate: func(s *corev1.PodSpec, _ *metav1.ObjectMeta) { s.SecurityContext.RunAsUser = ptr(int64(0)) },
			want: map[string]string{"runAsUser": "spec.securityContext.runAsUser"}},
		{name: "init container privileged", mutate: func(s *corev1.PodSpec, _ *metav1.ObjectMeta) {
			c := restrictedContainer("init")
			c.SecurityContext.Privileged = ptr(true)
			s.InitContainers = []corev1.Container{c}
		}, want: map[string]string{"privileged": "spec.initContainers[0].securityContext.privileged"}},
		{name: "second container adds capability", mutate: func(s *corev1.PodSpec, _ *metav1.ObjectMeta) {
			c := restrictedContainer("side")
			c.SecurityContext.Capabilities.Add = []corev1.Capability{"SYS_ADMIN"}
			s.Containers = append(s.Containers, c)
		}, want: map[string]string{"capabilities_restricted": "spec.containers[1].securityContext.capabilities"}},
		{name: "host IPC", mutate: func(s *corev1.PodSpec, _ *metav1.ObjectMeta) { s.HostIPC = true },
			want: map[string]string{"hostNamespaces": "spec.hostIPC"}},
		{name: "second volume hostPath", mutate: func(s *corev1.PodSpec, _ *metav1.ObjectMeta) {
			s.Volumes = []corev1.Volume{
				{Name: "a", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
				{Name: "b", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/"}}},
			}
		}, want: map[string]string{"restrictedVolumes": "spec.volumes[1]"}},
		{name: "probe host", mutate: func(s *corev1.PodSpec, _ *metav1.ObjectMeta) {
			s.Containers[0].LivenessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Host: "10.0.0.1"}}}
		}, want: map[string]string{"hostProbesAndHostLifecycle": "spec.containers[0].livenessProbe.tcpSocket.host"}},
		{name: "apparmor annotation", mutate: func(_ *corev1.PodSpec, m *metav1.ObjectMeta) {
			m.Annotations = map[string]string{"container.apparmor.security.beta.kubernetes.io/ray": "unconfined"}
		}, want: map[string]string{"appArmorProfile": "metadata.annotations"}},
		{name: "sysctl", mutate: func(s *corev1.PodSpec, _ *metav1.ObjectMeta) {
			s.SecurityContext.Sysctls = []corev1.Sysctl{{Name: "kernel.msgmax", Value: "1"}}
		}, want: map[string]string{"sysctls": "spec.securityContext.sysctls"}},
		{name: "container seccomp unconfined", mutate: func(s *corev1.PodSpec, _ *metav1.ObjectMeta) {
			s.Containers[0].SecurityContext.SeccompProfile = &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeUnconfined}
		}, want: map[string]string{"seccompProfile_restricted": "spec.containers[0].securityContext.seccompProfile"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec, meta := restrictedPod(), &metav1.ObjectMeta{}
			defer func() {
				if t.Failed() {
					t.Logf("spec %+v", spec)
				}
			}()
			tt.mutate(spec, meta)
			vs, err := Evaluate(meta, spec)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for _, v := range vs {
				got[v.Check] = v.Field
				if v.Reason == "" {
					t.Errorf("%s has no reason", v.Check)
				}
			}
			if len(got) != len(tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
			for c, f := range tt.want {
				if got[c] != f {
					t.Errorf("check %s: field %q, want %q (all: %v)", c, got[c], f, got)
				}
			}
			ok, reasons, err := Allowed(meta, spec)
			if err != nil {
				t.Fatal(err)
			}
			if ok != (len(vs) == 0) {
				t.Errorf("Allowed=%v (%s) but %d violations", ok, reasons, len(vs))
			}
		})
	}
}

// TestContainerBehindPod: a container's own violation is reported even
// when the pod-level fields already fail the same check, so that the
// webhook's ratchet cannot let a new container violation through behind
// an old pod-level one.
func TestContainerBehindPod(t *testing.T) {
	spec := restrictedPod()
	spec.SecurityContext.RunAsUser = ptr(int64(0))
	side := restrictedContainer("side")
	side.SecurityContext.RunAsUser = ptr(int64(0))
	spec.Containers = append(spec.Containers, side)
	vs, err := Evaluate(&metav1.ObjectMeta{}, spec)
	if err != nil {
		t.Fatal(err)
	}
	var fields []string
	for _, v := range vs {
		fields = append(fields, v.Check+"@"+v.Field)
	}
	want := "runAsUser@spec.securityContext.runAsUser,runAsUser@spec.containers[1].securityContext.runAsUser"
	if strings.Join(fields, ",") != want {
		t.Errorf("violations %v, want %s", fields, want)
	}
}

func TestAsPod(t *testing.T) {
	spec := restrictedPod()
	spec.HostNetwork = true
	spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 8265}, {ContainerPort: 6379, HostPort: 16379}}
	AsPod(nil, spec)
	if spec.Containers[0].Ports[0].HostPort != 8265 || spec.Containers[0].Ports[1].HostPort != 16379 {
		t.Errorf("ports %+v", spec.Containers[0].Ports)
	}
	vs, _ := Evaluate(nil, spec)
	got := map[string]bool{}
	for _, v := range vs {
		got[v.Check] = true
	}
	if !got["hostNamespaces"] || !got["hostPorts"] {
		t.Errorf("violations %v", vs)
	}
}

// TestVersionIsLatest makes sure the pinned version evaluates exactly like
// "latest" in the library raygate is built with.
func TestVersionIsLatest(t *testing.T) {
	v, err := api.ParseVersion(Version)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range policy.DefaultChecks() {
		last := c.Versions[len(c.Versions)-1].MinimumVersion
		if v.Older(last) {
			t.Errorf("check %s changed at %s, newer than the pinned %s: raise pss.Version", c.ID, last, Version)
		}
	}
	ids := CheckIDs()
	if len(ids) == 0 {
		t.Fatal("no checks")
	}
	for _, id := range ids {
		if id == "capabilities_baseline" || id == "seccompProfile_baseline" {
			t.Errorf("baseline check %s is overridden at restricted and must not be reported", id)
		}
	}
}

// FuzzAgreement checks, on pods built from fuzzed fields, that Evaluate
// reports no violation exactly when the full evaluator allows the pod.
func FuzzAgreement(f *testing.F) {
	f.Add(true, false, true, false, int64(1000), "RuntimeDefault", "ALL", "", uint8(0))
	f.Add(false, true, false, true, int64(0), "Unconfined", "", "SYS_ADMIN", uint8(3))
	f.Fuzz(func(t *testing.T, podNonRoot, priv, ape, hostNet bool, uid int64, seccomp, drop, add string, which uint8) {
		spec := &corev1.PodSpec{
			HostNetwork: hostNet,
			SecurityContext: &corev1.PodSecurityContext{
				RunAsNonRoot: ptr(podNonRoot), RunAsUser: ptr(uid),
				SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileType(seccomp)},
			},
		}
		c := corev1.Container{Name: "c", SecurityContext: &corev1.SecurityContext{
			Privileged: ptr(priv), AllowPrivilegeEscalation: ptr(ape),
			Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{corev1.Capability(drop)}, Add: []corev1.Capability{corev1.Capability(add)}},
		}}
		switch which % 3 {
		case 0:
			spec.Containers = []corev1.Container{c}
		case 1:
			spec.Containers = []corev1.Container{restrictedContainer("ok"), c}
		default:
			spec.InitContainers = []corev1.Container{c}
			spec.Containers = []corev1.Container{restrictedContainer("ok")}
		}
		vs, err := Evaluate(nil, spec)
		if err != nil {
			t.Fatal(err)
		}
		ok, _, err := Allowed(nil, spec)
		if err != nil {
			t.Fatal(err)
		}
		if ok != (len(vs) == 0) {
			t.Fatalf("Allowed=%v with violations %v", ok, vs)
		}
		for _, v := range vs {
			if v.Check == "restricted" {
				t.Fatalf("per-check evaluation missed what the full evaluator denied: %v", v)
			}
		}
	})
}
