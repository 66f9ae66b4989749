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
	"net/netip"
	"regexp"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/pod-security-admission/api"

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
	// namespaces pin. Default the version raygate checks with (v1.37).
	PodSecurityVersion string `yaml:"podSecurityVersion"`
	// Tenants are the teams, one namespace each. Required.
	Tenants []Tenant `yaml:"tenants"`
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
}

// Quota is a namespace's ResourceQuota. Empty fields are not limited.
type Quota struct {
	// CPU caps requests.cpu and limits.cpu (e.g. "64").
	CPU string `yaml:"cpu"`
	// Memory caps requests.memory and limits.memory (e.g. "256Gi").
	Memory string `yaml:"memory"`
	// GPU caps requests.nvidia.com/gpu (e.g. "8").
	GPU string `yaml:"gpu"`
	// Pods caps the number of pods.
	Pods string `yaml:"pods"`
	// RayClusters caps the number of RayCluster objects.
	RayClusters string `yaml:"rayClusters"`
}

// Defaults are container resource defaults. Default cpu 1 / memory 2Gi
// limits, 500m / 1Gi requests.
type Defaults struct {
	CPU           string `yaml:"cpu"`
	Memory        string `yaml:"memory"`
	RequestCPU    string `yaml:"requestCPU"`
	RequestMemory string `yaml:"requestMemory"`
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
	for i := range f.Tenants {
		t := &f.Tenants[i]
		if t.Namespace == "" {
			t.Namespace = t.Name
		}
		d := &t.Defaults
		d.CPU = or(d.CPU, "1")
		d.Memory = or(d.Memory, "2Gi")
		d.RequestCPU = or(d.RequestCPU, "500m")
		d.RequestMemory = or(d.RequestMemory, "1Gi")
	}
}

func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

type problems []string

func (p *problems) add(field, format string, args ...any) {
	*p = append(*p, field+": "+fmt.Sprintf(format, args...))
}

func (f *File) validate() error {
	var p problems
	checkNS := func(field, ns string) {
		if !dnsLabel.MatchString(ns) || len(ns) > 63 {
			p.add(field, "%q is not a valid namespace name", ns)
		}
	}
	checkNS("raygate.namespace", f.Raygate.Namespace)
	checkWorkload(&p, "raygate", f.Raygate)
	if f.KubeRay != nil {
		checkNS("kuberay.namespace", f.KubeRay.Namespace)
		checkWorkload(&p, "kuberay", *f.KubeRay)
	}
	checkNS("dns.namespace", f.DNS.Namespace)
	checkWorkload(&p, "dns", f.DNS)
	if _, err := api.ParseVersion(f.PodSecurityVersion); err != nil || f.PodSecurityVersion == "latest" {
		p.add("podSecurityVersion", "%q must be a pinned version like %s", f.PodSecurityVersion, pss.Version)
	}
	for i, c := range f.APIServer.CIDRs {
		if _, err := netip.ParsePrefix(c); err != nil {
			if _, err := netip.ParseAddr(c); err != nil {
				p.add(fmt.Sprintf("apiServer.cidrs[%d]", i), "%q is not a CIDR or an address", c)
			}
		}
	}
	checkPorts(&p, "apiServer.ports", f.APIServer.Ports)
	if len(f.Tenants) == 0 {
		p.add("tenants", "no tenants")
	}
	names, namespaces := map[string]int{}, map[string]int{}
	for i, t := range f.Tenants {
		tp := fmt.Sprintf("tenants[%d]", i)
		if !dnsLabel.MatchString(t.Name) || len(t.Name) > 63 {
			p.add(tp+".name", "%q is not a DNS label (lowercase letters, digits and '-', at most 63)", t.Name)
		}
		if j, dup := names[t.Name]; dup {
			p.add(tp+".name", "%q is also tenants[%d]", t.Name, j)
		}
		names[t.Name] = i
		checkNS(tp+".namespace", t.Namespace)
		if j, dup := namespaces[t.Namespace]; dup {
			p.add(tp+".namespace", "namespace %q is also used by tenants[%d]", t.Namespace, j)
		}
		namespaces[t.Namespace] = i
		for _, sys := range []string{f.Raygate.Namespace, f.DNS.Namespace, "default", "kube-public", "kube-node-lease"} {
			if t.Namespace == sys {
				p.add(tp+".namespace", "%q is a system or raygate namespace, not a tenant's", t.Namespace)
			}
		}
		if f.KubeRay != nil && t.Namespace == f.KubeRay.Namespace {
			p.add(tp+".namespace", "%q is the KubeRay operator's namespace", t.Namespace)
		}
		roles := make([]string, 0, len(t.Groups))
		for r := range t.Groups {
			roles = append(roles, r)
		}
		sort.Strings(roles)
		for _, r := range roles {
			if !validRole(r) {
				p.add(tp+".groups."+r, "unknown role (one of %s)", strings.Join(Roles, ", "))
			}
			for j, g := range t.Groups[r] {
				if strings.TrimSpace(g) == "" || g != strings.TrimSpace(g) {
					p.add(fmt.Sprintf("%s.groups.%s[%d]", tp, r, j), "%q is not a group name", g)
				}
			}
		}
		q := t.Quota
		for _, x := range []struct{ name, v string }{{"cpu", q.CPU}, {"memory", q.Memory}, {"gpu", q.GPU}, {"pods", q.Pods}, {"rayClusters", q.RayClusters}} {
			checkQuantity(&p, tp+".quota."+x.name, x.v)
		}
		d := t.Defaults
		for _, x := range []struct{ name, v string }{{"cpu", d.CPU}, {"memory", d.Memory}, {"requestCPU", d.RequestCPU}, {"requestMemory", d.RequestMemory}} {
			checkQuantity(&p, tp+".defaults."+x.name, x.v)
		}
		if t.Autoscaling && len(f.APIServer.CIDRs) == 0 {
			p.add(tp+".autoscaling", "needs apiServer.cidrs: the autoscaler's egress to the API server is allowed only to listed addresses")
		}
	}
	if len(p) > 0 {
		return errors.New(strings.Join(p, "; "))
	}
	return nil
}

func checkWorkload(p *problems, field string, w Workload) {
	for k, v := range w.PodLabels {
		if k == "" || strings.ContainsAny(k, " \t") || strings.ContainsAny(v, " \t") {
			p.add(field+".podLabels", "%q: %q is not a label", k, v)
		}
	}
	checkPorts(p, field+".ports", w.Ports)
}

func checkPorts(p *problems, field string, ports []int32) {
	for i, port := range ports {
		if port < 1 || port > 65535 {
			p.add(fmt.Sprintf("%s[%d]", field, i), "%d is not a port", port)
		}
	}
}

func checkQuantity(p *problems, field, v string) {
	if v == "" {
		return
	}
	q, err := resource.ParseQuantity(v)
	if err != nil {
		p.add(field, "%q is not a quantity (e.g. 8, 500m, 16Gi)", v)
		return
	}
	if q.Sign() < 0 {
		p.add(field, "%q must not be negative", v)
	}
}

func validRole(r string) bool {
	for _, x := range Roles {
		if r == x {
			return true
		}
	}
	return false
}
