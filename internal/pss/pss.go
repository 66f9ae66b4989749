// Package pss checks pods against the Pod Security Standard "restricted"
// with the Kubernetes API server's own Pod Security Admission checks
// (k8s.io/pod-security-admission/policy), and says which check failed for
// which field.
//
// The verdict is the library's: a pod is allowed exactly when the
// evaluator the API server runs allows it. On top of that, each failing
// check is evaluated again on parts of the pod (the pod-level fields alone,
// then each container alone, each volume alone) to point at the most
// specific field responsible.
package pss

import (
	"fmt"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"
)

// Version is the Pod Security Standards policy version raygate checks
// against and pins in the namespaces it renders. It is the version of the
// Kubernetes release whose checks raygate is built with.
const Version = "v1.37"

// Level is the policy level raygate checks against.
const Level = api.LevelRestricted

// Violation is one failed check, attributed to a field.
type Violation struct {
	// Check is the library's check ID, e.g. "runAsNonRoot".
	Check string
	// Field is the path of the responsible field relative to the pod (or
	// pod template): "spec.containers[0].securityContext.runAsNonRoot",
	// "spec.volumes[2]", "metadata.annotations".
	Field string
	// Reason is the library's short reason, e.g. "runAsNonRoot != true".
	Reason string
	// Detail is the library's detail, naming containers, volumes or values.
	Detail string
}

// Message joins reason and detail the way the API server prints them.
func (v Violation) Message() string {
	if v.Detail == "" {
		return v.Reason
	}
	return fmt.Sprintf("%s (%s)", v.Reason, v.Detail)
}

type checker struct {
	id   string
	eval policy.Evaluator
}

type evaluators struct {
	full   policy.Evaluator
	checks []checker
	lv     api.LevelVersion
}

var (
	once    sync.Once
	evals   *evaluators
	initErr error
)

func load() (*evaluators, error) {
	once.Do(func() {
		v, err := api.ParseVersion(Version)
		if err != nil {
			initErr = fmt.Errorf("pss: parse version %s: %w", Version, err)
			return
		}
		lv := api.LevelVersion{Level: Level, Version: v}
		all := policy.DefaultChecks()
		full, err := policy.NewEvaluator(all, nil)
		if err != nil {
			initErr = fmt.Errorf("pss: build evaluator: %w", err)
			return
		}
		overridden := overriddenAt(all, v)
		e := &evaluators{full: full, lv: lv}
		for _, c := range all {
			if c.Level == api.LevelBaseline && overridden[c.ID] {
				continue
			}
			one, err := policy.NewEvaluator([]policy.Check{c}, nil)
			if err != nil {
				initErr = fmt.Errorf("pss: build evaluator for %s: %w", c.ID, err)
				return
			}
			e.checks = append(e.checks, checker{id: string(c.ID), eval: one})
		}
		evals = e
	})
	return evals, initErr
}

// overriddenAt returns the baseline checks that restricted checks replace
// at policy version v, as the library's registry computes them.
func overriddenAt(checks []policy.Check, v api.Version) map[policy.CheckID]bool {
	out := map[policy.CheckID]bool{}
	for _, c := range checks {
		if c.Level != api.LevelRestricted {
			continue
		}
		var cur *policy.VersionedCheck
		for i := range c.Versions {
			if !v.Older(c.Versions[i].MinimumVersion) {
				cur = &c.Versions[i]
			}
		}
		if cur == nil && len(c.Versions) > 0 && v.Latest() {
			cur = &c.Versions[len(c.Versions)-1]
		}
		if cur != nil {
			for _, id := range cur.OverrideCheckIDs {
				out[id] = true
			}
		}
	}
	return out
}

// CheckIDs returns the IDs of the checks applied at restricted, Version.
func CheckIDs() []string {
	e, err := load()
	if err != nil {
		return nil
	}
	out := make([]string, len(e.checks))
	for i, c := range e.checks {
		out[i] = c.id
	}
	return out
}

// Allowed is the API server's verdict for the pod: whether Pod Security
// Admission at restricted, Version admits it, and if not the aggregated
// reasons exactly as the API server words them.
func Allowed(meta *metav1.ObjectMeta, spec *corev1.PodSpec) (bool, string, error) {
	e, err := load()
	if err != nil {
		return false, "", err
	}
	if meta == nil {
		meta = &metav1.ObjectMeta{}
	}
	agg := policy.AggregateCheckResults(e.full.EvaluatePod(e.lv, meta, spec))
	if agg.Allowed {
		return true, "", nil
	}
	return false, agg.ForbiddenReason() + ": " + agg.ForbiddenDetail(), nil
}

// Evaluate returns every restricted violation of the pod, each pointed at
// the most specific field found. It returns no violations exactly when
// Allowed allows the pod.
func Evaluate(meta *metav1.ObjectMeta, spec *corev1.PodSpec) ([]Violation, error) {
	e, err := load()
	if err != nil {
		return nil, err
	}
	if meta == nil {
		meta = &metav1.ObjectMeta{}
	}
	var out []Violation
	for _, c := range e.checks {
		r, failed := e.run(c, meta, spec)
		if !failed {
			continue
		}
		vs := e.attribute(c, meta, spec)
		if len(vs) == 0 {
			vs = []Violation{{Check: c.id, Field: "spec", Reason: r.ForbiddenReason, Detail: r.ForbiddenDetail}}
		}
		out = append(out, vs...)
	}
	if len(out) == 0 {
		// The per-check evaluation must agree with the full evaluator; if
		// it ever did not, report the full verdict rather than allow.
		if ok, reasons, err := Allowed(meta, spec); err != nil {
			return nil, err
		} else if !ok {
			out = append(out, Violation{Check: "restricted", Field: "spec", Reason: reasons})
		}
	}
	return out, nil
}

func (e *evaluators) run(c checker, meta *metav1.ObjectMeta, spec *corev1.PodSpec) (policy.CheckResult, bool) {
	for _, r := range c.eval.EvaluatePod(e.lv, meta, spec) {
		if !r.Allowed {
			return r, true
		}
	}
	return policy.CheckResult{Allowed: true}, false
}

// appArmorAnnotationPrefix is the deprecated per-container AppArmor
// annotation the API server still syncs into the containers' fields.
const appArmorAnnotationPrefix = "container.apparmor.security.beta.kubernetes.io/"

// AsPod applies to a pod template the changes the API server makes to a
// Pod, but not to a template, before Pod Security Admission sees it: with
// hostNetwork, every container port without a hostPort gets its
// containerPort as hostPort; and a container's deprecated AppArmor
// annotation is copied into its securityContext.appArmorProfile when that
// is unset and differs from the pod's. A pod KubeRay creates from the
// template is evaluated after these. meta and spec are changed in place.
func AsPod(meta *metav1.ObjectMeta, spec *corev1.PodSpec) {
	if spec.HostNetwork {
		for _, list := range [][]corev1.Container{spec.Containers, spec.InitContainers} {
			for i := range list {
				for j := range list[i].Ports {
					if list[i].Ports[j].HostPort == 0 {
						list[i].Ports[j].HostPort = list[i].Ports[j].ContainerPort
					}
				}
			}
		}
	}
	if meta == nil || len(meta.Annotations) == 0 || (spec.OS != nil && spec.OS.Name == corev1.Windows) {
		return
	}
	var podProfile *corev1.AppArmorProfile
	if spec.SecurityContext != nil {
		podProfile = spec.SecurityContext.AppArmorProfile
	}
	sync := func(c *corev1.Container) {
		ann, ok := meta.Annotations[appArmorAnnotationPrefix+c.Name]
		if !ok || (c.SecurityContext != nil && c.SecurityContext.AppArmorProfile != nil) {
			return
		}
		f := appArmorField(ann)
		if f == nil || equalProfile(f, podProfile) {
			return
		}
		if c.SecurityContext == nil {
			c.SecurityContext = &corev1.SecurityContext{}
		}
		c.SecurityContext.AppArmorProfile = f
	}
	for i := range spec.InitContainers {
		sync(&spec.InitContainers[i])
	}
	for i := range spec.Containers {
		sync(&spec.Containers[i])
	}
	for i := range spec.EphemeralContainers {
		sync((*corev1.Container)(&spec.EphemeralContainers[i].EphemeralContainerCommon))
	}
}

// appArmorField is the field a deprecated AppArmor annotation value stands
// for, nil for values the API server would not copy.
func appArmorField(v string) *corev1.AppArmorProfile {
	switch {
	case v == "unconfined":
		return &corev1.AppArmorProfile{Type: corev1.AppArmorProfileTypeUnconfined}
	case v == "runtime/default":
		return &corev1.AppArmorProfile{Type: corev1.AppArmorProfileTypeRuntimeDefault}
	case strings.HasPrefix(v, "localhost/"):
		p := strings.TrimPrefix(v, "localhost/")
		if p == "" || strings.TrimSpace(p) != p || len(p) > 4095 {
			return nil
		}
		return &corev1.AppArmorProfile{Type: corev1.AppArmorProfileTypeLocalhost, LocalhostProfile: &p}
	}
	return nil
}

func equalProfile(a, b *corev1.AppArmorProfile) bool {
	if a == nil || b == nil {
		return a == b
	}
	if a.Type != b.Type {
		return false
	}
	if a.LocalhostProfile == nil || b.LocalhostProfile == nil {
		return a.LocalhostProfile == b.LocalhostProfile
	}
	return *a.LocalhostProfile == *b.LocalhostProfile
}
