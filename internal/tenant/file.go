// Package tenant turns a small tenants file into the Kubernetes objects that
// make each tenant an isolated namespace for Ray: a Namespace enforcing the
// Pod Security Standard restricted, a ResourceQuota and LimitRange,
// NetworkPolicies that deny by default and let only raygate reach the Ray
// heads, RBAC for the team's groups (including the ray:read, ray:write and
// ray:admin verbs on rayclusters), and a ServiceAccount for Ray pods without
// a token. Verify evaluates the rendered NetworkPolicies and proves tenants
// cannot reach each other's Ray ports.
//
// Parse and the build functions are pure; the command line does the I/O.
package tenant

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/raygate/raygate/internal/pss"
)

// MaxFileSize bounds a tenants file.
const MaxFileSize = 1 << 20

// File is the tenants file.
type File struct {
	// Raygate says where raygate runs: the only workload allowed to reach
	// the Ray heads' dashboard, client and serve ports. Required.
	Raygate Workload `yaml:"raygate"`
	// KubeRay, when set, is the KubeRay operator, allowed to reach the
	// heads' dashboard port (RayJob and RayService need it). Default unset:
	// no access.
	KubeRay *Workload `yaml:"kuberay"`
	// DNS is the cluster DNS that every tenant pod may query. Default
	// namespace kube-system, pods labelled k8s-app: kube-dns.
	DNS Workload `yaml:"dns"`
	// APIServer lists the API server's addresses, which the heads of
	// tenants with autoscaling: true may reach (the autoscaler calls the
	// API). Required when a tenant enables autoscaling.
	APIServer APIServer `yaml:"apiServer"`
	// PodSecurityVersion is the Pod Security Standards version the
	// namespaces pin. Default the version raygate checks with (v1.37);
	// older versions are refused (their restricted profile checks less).
	PodSecurityVersion string `yaml:"podSecurityVersion"`
	// GPUResources are the extended resource names of the cluster's GPUs,
	// which quota.gpu caps. Default [nvidia.com/gpu].
	GPUResources []string `yaml:"gpuResources"`
	// ProtectedSecrets are Secrets no tenant's pod template may reference
	// (volumes, projected volumes, envFrom, env valueFrom), as names or
	// globs (* and ?): the Ray token Secrets KubeRay creates (named after
	// each RayCluster, or authOptions.secretName), service-account token
	// Secrets of KubeRay's autoscaler, raygate's own. raygate lint
	// --tenants and the admission webhook report a reference as an error.
	// Default none (every Secret reference is then a warning).
	ProtectedSecrets []string `yaml:"protectedSecrets"`
	// Tenants are the teams, one namespace each. Required.
	Tenants []Tenant `yaml:"tenants"`

	// Warnings are what Parse found risky but accepted, each with its
	// field path.
	Warnings []string `yaml:"-"`
}

// Workload names pods in a namespace.
type Workload struct {
	// Namespace is the pods' namespace.
	Namespace string `yaml:"namespace"`
	// PodLabels select the pods. Default for raygate:
	// app.kubernetes.io/name: raygate; for kuberay:
	// app.kubernetes.io/name: kuberay-operator; for dns: k8s-app: kube-dns.
	PodLabels map[string]string `yaml:"podLabels"`
	// Ports are the head ports the workload may reach (raygate and kuberay
	// only). Default raygate 8265, 10001, 8000; kuberay 8265.
	Ports []int32 `yaml:"ports"`
}

// APIServer is where the Kubernetes API server listens.
type APIServer struct {
	// CIDRs are the API server endpoints' addresses (kubectl get endpoints
	// kubernetes), not the kubernetes Service's cluster IP.
	CIDRs []string `yaml:"cidrs"`
	// Ports are the API server's ports. Default 443 and 6443.
	Ports []int32 `yaml:"ports"`
}

// Tenant is one team.
type Tenant struct {
	// Name is the tenant's name, a DNS label. Required, unique.
	Name string `yaml:"name"`
	// Namespace is the tenant's namespace. Default Name.
	Namespace string `yaml:"namespace"`
	// Groups maps a role (viewer, developer, admin) to the groups that hold
	// it in the namespace. Roles nest: a developer can do what a viewer
	// can.
	Groups map[string][]string `yaml:"groups"`
	// Quota caps the namespace's resources. Default: no ResourceQuota.
	Quota Quota `yaml:"quota"`
	// Defaults are the LimitRange's per-container defaults, applied to
	// containers that set none.
	Defaults Defaults `yaml:"defaults"`
	// Autoscaling lets the tenant's Ray heads reach the API server, which
	// KubeRay's in-tree autoscaler needs. Default false.
	Autoscaling bool `yaml:"autoscaling"`
	// ServiceAccounts are the service accounts the tenant's pod templates
	// may name in serviceAccountName (unset is always allowed: the
	// namespace's default, or the one KubeRay creates for a cluster's
	// autoscaler). Default [ray], the token-less account render creates.
	ServiceAccounts []string `yaml:"serviceAccounts"`
	// ProtectedSecrets are more Secrets (names or globs) this tenant's pod
	// templates may not reference, on top of the file's.
	ProtectedSecrets []string `yaml:"protectedSecrets"`
}

// Quota is a namespace's ResourceQuota. Empty fields are not limited,
// except load balancers, node ports and Ingresses, which are 0 unless
// set. Counts (pods, rayClusters, persistentVolumeClaims, loadBalancers,
// nodePorts, ingresses) must be whole numbers, as the API server requires.
type Quota struct {
	// CPU caps requests.cpu and limits.cpu (e.g. "64").
	CPU string `yaml:"cpu"`
	// Memory caps requests.memory and limits.memory (e.g. "256Gi").
	Memory string `yaml:"memory"`
	// GPU caps requests.<name> for each of the file's gpuResources
	// (e.g. "8").
	GPU string `yaml:"gpu"`
	// Pods caps the number of pods.
	Pods string `yaml:"pods"`
	// RayClusters caps the number of RayCluster objects.
	RayClusters string `yaml:"rayClusters"`
	// EphemeralStorage caps requests.ephemeral-storage and
	// limits.ephemeral-storage (e.g. "200Gi"); the LimitRange then gives
	// containers the ephemeral-storage defaults.
	EphemeralStorage string `yaml:"ephemeralStorage"`
	// PersistentVolumeClaims caps the number of PersistentVolumeClaims.
	PersistentVolumeClaims string `yaml:"persistentVolumeClaims"`
	// Storage caps requests.storage, the storage all claims request.
	Storage string `yaml:"storage"`
	// LoadBalancers caps services.loadbalancers. Default "0": a tenant
	// cannot publish a Service, a Ray head's included, outside the
	// cluster.
	LoadBalancers string `yaml:"loadBalancers"`
	// NodePorts caps services.nodeports. Default "0", for the same reason.
	NodePorts string `yaml:"nodePorts"`
	// Ingresses caps count/ingresses.networking.k8s.io. Default "0": an
	// Ingress (KubeRay creates one for enableIngress: true) publishes a
	// Ray head through the ingress controller, whose traffic many network
	// plugins let past NetworkPolicies when it runs on the node's network.
	Ingresses string `yaml:"ingresses"`
}

// Defaults are container resource defaults. Default cpu 1 / memory 2Gi
// limits, 500m / 1Gi requests; ephemeral storage 8Gi / 1Gi (used only
// when the quota caps ephemeral storage).
type Defaults struct {
	CPU                     string `yaml:"cpu"`
	Memory                  string `yaml:"memory"`
	RequestCPU              string `yaml:"requestCPU"`
	RequestMemory           string `yaml:"requestMemory"`
	EphemeralStorage        string `yaml:"ephemeralStorage"`
	RequestEphemeralStorage string `yaml:"requestEphemeralStorage"`
}

// Roles of a tenant, lowest first (the same names as raygate's cluster
// access roles).
var Roles = []string{"viewer", "developer", "admin"}

var dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// Parse reads and validates a tenants file, filling defaults. Every problem
// found is reported, joined, each with its field path (and line for syntax
// errors).
func Parse(data []byte) (*File, error) {
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("tenants file is larger than %d bytes", MaxFileSize)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var f File
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("tenants file is empty")
		}
		return nil, fmt.Errorf("%s", cleanYAMLError(err))
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, errors.New("tenants file must be a single YAML document")
	}
	f.applyDefaults()
	if err := f.validate(); err != nil {
		return nil, err
	}
	return &f, nil
}

func cleanYAMLError(err error) string {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		return strings.Join(te.Errors, "; ")
	}
	return strings.TrimPrefix(err.Error(), "yaml: ")
}

func (f *File) applyDefaults() {
	if len(f.Raygate.PodLabels) == 0 {
		f.Raygate.PodLabels = map[string]string{"app.kubernetes.io/name": "raygate"}
	}
	if len(f.Raygate.Ports) == 0 {
		f.Raygate.Ports = []int32{8265, 10001, 8000}
	}
	if f.KubeRay != nil {
		if len(f.KubeRay.PodLabels) == 0 {
			f.KubeRay.PodLabels = map[string]string{"app.kubernetes.io/name": "kuberay-operator"}
		}
		if len(f.KubeRay.Ports) == 0 {
			f.KubeRay.Ports = []int32{8265}
		}
	}
	if f.DNS.Namespace == "" {
		f.DNS.Namespace = "kube-system"
	}
	if len(f.DNS.PodLabels) == 0 {
		f.DNS.PodLabels = map[string]string{"k8s-app": "kube-dns"}
	}
	if len(f.APIServer.Ports) == 0 {
		f.APIServer.Ports = []int32{443, 6443}
	}
	if f.PodSecurityVersion == "" {
		f.PodSecurityVersion = pss.Version
	}
	if len(f.GPUResources) == 0 {
		f.GPUResources = []string{"nvidia.com/gpu"}
	}
	for i := range f.Tenants {
		t := &f.Tenants[i]
		if t.Namespace == "" {
			t.Namespace = t.Name
		}
		if len(t.ServiceAccounts) == 0 {
			t.ServiceAccounts = []string{RayServiceAccount}
		}
		q := &t.Quota
		q.LoadBalancers = or(q.LoadBalancers, "0")
		q.NodePorts = or(q.NodePorts, "0")
		q.Ingresses = or(q.Ingresses, "0")
		d := &t.Defaults
		d.CPU = or(d.CPU, "1")
		d.Memory = or(d.Memory, "2Gi")
		d.RequestCPU = or(d.RequestCPU, "500m")
		d.RequestMemory = or(d.RequestMemory, "1Gi")
		d.EphemeralStorage = or(d.EphemeralStorage, "8Gi")
		d.RequestEphemeralStorage = or(d.RequestEphemeralStorage, "1Gi")
	}
}

func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

func validRole(r string) bool {
	for _, x := range Roles {
		if r == x {
			return true
		}
	}
	return false
}
