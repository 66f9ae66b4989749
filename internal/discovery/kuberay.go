package discovery

import (
	"unicode"

	rayv1 "github.com/ray-project/kuberay/ray-operator/apis/ray/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// KubeRay's conventions, as its operator applies them (ray-operator
// controllers/ray/common/service.go, raycluster_controller.go).
const (
	// LabelCluster names the RayCluster on its head Service, its pods and
	// its token Secret.
	LabelCluster = "ray.io/cluster"
	// LabelNodeType is "head" on the head Service and head pod.
	LabelNodeType = "ray.io/node-type"
	// DashboardPortName names the dashboard/Jobs API port (8265) of the
	// head Service.
	DashboardPortName = "dashboard"
	// TokenKey is the key of the Ray token in the auth Secret.
	TokenKey = "auth_token"
	// AuthModeToken is spec.authOptions.mode when Ray checks a token.
	AuthModeToken = "token"
	// LabelServiceName names an EndpointSlice's Service (Kubernetes).
	LabelServiceName = "kubernetes.io/service-name"
)

// RayClusters is the resource watched.
var RayClusters = rayv1.GroupVersion.WithResource("rayclusters")

// rayClusterKind is the owner reference kind of KubeRay's objects.
var rayClusterKind = schema.GroupVersionKind{Group: rayv1.GroupVersion.Group, Version: rayv1.GroupVersion.Version, Kind: "RayCluster"}

// headNode is the value of LabelNodeType on head objects.
var headNode = string(rayv1.HeadNode)

// AuthOptions is spec.authOptions of a RayCluster (KubeRay 1.5.1 and
// later). KubeRay's v1.5.0 Go types do not have it, so it is read from the
// object's JSON into this overlay.
type AuthOptions struct {
	// Mode is "token" or "disabled".
	Mode string `json:"mode,omitempty"`
	// SecretName names a Secret of the user's own holding the token under
	// auth_token; empty means KubeRay's generated Secret.
	SecretName *string `json:"secretName,omitempty"`
	// EnableK8sTokenAuth makes Ray check Kubernetes ServiceAccount tokens
	// instead of a shared token.
	EnableK8sTokenAuth *bool `json:"enableK8sTokenAuth,omitempty"`
}

// specOverlay is the part of a RayCluster's spec the Go types lack.
type specOverlay struct {
	Spec struct {
		AuthOptions *AuthOptions `json:"authOptions,omitempty"`
	} `json:"spec"`
}

// tokenSecretName is the Secret KubeRay creates for a cluster in token
// mode: the cluster's name, shortened to its last 50 characters, with a
// leading digit or punctuation replaced by "r" (KubeRay's CheckName).
func tokenSecretName(cluster string) string {
	const maxLength = 50
	s := cluster
	if len(s) > maxLength {
		s = s[len(s)-maxLength:]
	}
	if s == "" {
		return s
	}
	if r := rune(s[0]); unicode.IsDigit(r) || unicode.IsPunct(r) {
		s = "r" + s[1:]
	}
	return s
}
