package manifest

import (
	"strconv"
	"strings"
)

// KubeRay and Ray facts the checks and fixes rely on.
const (
	// MinTokenAuthRayVersion is the first Ray release with token
	// authentication; KubeRay refuses authOptions for older rayVersion.
	MinTokenAuthRayVersion = "2.52.0"
	// AuthModeEnv is the environment variable Ray reads its auth mode from.
	AuthModeEnv = "RAY_AUTH_MODE"
	// AuthModeToken is the value of spec.authOptions.mode (and of
	// RAY_AUTH_MODE) that turns token authentication on.
	AuthModeToken = "token"
	// AutoscalerContainerName is the container KubeRay adds to the head pod
	// when in-tree autoscaling is on.
	AutoscalerContainerName = "autoscaler"
	// SubmitterContainerName is the container of KubeRay's default RayJob
	// submitter pod.
	SubmitterContainerName = "ray-job-submitter"
	// RayUID is the uid of the ray user in the rayproject/ray images.
	RayUID = 1000
	// SubmissionModeK8sJob and the others are RayJob spec.submissionMode
	// values; K8sJobMode is the default.
	SubmissionModeK8sJob  = "K8sJobMode"
	SubmissionModeSidecar = "SidecarMode"
)

// AutoscalingEnabled reports whether a RayClusterSpec turns on in-tree
// autoscaling.
func AutoscalingEnabled(spec *Value) bool {
	return spec.Get("enableInTreeAutoscaling").IsTrue()
}

// K8sTokenAuthEnv is the environment variable that makes Ray delegate token
// authentication to the Kubernetes API with the pod's service-account token.
const K8sTokenAuthEnv = "RAY_ENABLE_K8S_TOKEN_AUTH"

// NeedsServiceAccountToken reports whether the pods of a template need
// their service-account token mounted: the head when in-tree autoscaling
// is on (the autoscaler calls the API), and every Ray pod when Ray
// delegates token authentication to Kubernetes
// (authOptions.enableK8sTokenAuth, or RAY_ENABLE_K8S_TOKEN_AUTH=true on
// a container).
func NeedsServiceAccountToken(o Object, t Template) bool {
	specs := ClusterSpecs(o)
	if t.Cluster >= 0 && t.Cluster < len(specs) {
		cs := specs[t.Cluster].Value
		if t.Role == RoleHead && AutoscalingEnabled(cs) {
			return true
		}
		if cs.Get("authOptions").Get("enableK8sTokenAuth").IsTrue() {
			return true
		}
	}
	for _, list := range []string{"containers", "initContainers"} {
		for _, c := range t.Value.Get("spec").Get(list).Items() {
			for _, e := range c.Get("env").Items() {
				if e.Get("name").Str() == K8sTokenAuthEnv && strings.EqualFold(e.Get("value").Str(), "true") {
					return true
				}
			}
		}
	}
	return false
}

// SubmissionMode returns the submissionMode of a RayJob's spec (a
// RayCronJob's spec.jobTemplate), K8sJobMode when unset.
func SubmissionMode(o Object) string {
	if m := o.Value.At(JobSpecPath(o.Kind).Key("submissionMode")).Str(); m != "" {
		return m
	}
	return SubmissionModeK8sJob
}

// ImageTag splits an image reference into its tag and digest ("" when
// absent).
func ImageTag(image string) (tag, digest string) {
	ref := image
	if i := strings.Index(ref, "@"); i >= 0 {
		digest = ref[i+1:]
		ref = ref[:i]
	}
	last := ref[strings.LastIndex(ref, "/")+1:]
	if i := strings.LastIndex(last, ":"); i >= 0 {
		tag = last[i+1:]
	}
	return tag, digest
}

// RayVersionFromImage returns the Ray version an image tag names
// ("2.52.0" for rayproject/ray:2.52.0-py311-gpu), or "" when the tag does
// not start with one.
func RayVersionFromImage(image string) string {
	tag, _ := ImageTag(image)
	v, _, _ := strings.Cut(tag, "-")
	if parseVersion(v) == nil {
		return ""
	}
	return v
}

// VersionAtLeast reports whether version v (like "2.52.0" or "2.52") is at
// least min; a version that does not parse is not.
func VersionAtLeast(v, min string) bool {
	a, b := parseVersion(strings.TrimPrefix(v, "v")), parseVersion(min)
	if a == nil || b == nil {
		return false
	}
	for i := 0; i < 3; i++ {
		if a[i] != b[i] {
			return a[i] > b[i]
		}
	}
	return true
}

func parseVersion(v string) []int {
	parts := strings.Split(v, ".")
	if len(parts) < 2 || len(parts) > 3 {
		return nil
	}
	out := make([]int, 3)
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return nil
		}
		out[i] = n
	}
	return out
}
