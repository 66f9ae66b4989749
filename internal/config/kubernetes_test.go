package config

import (
	"strings"
	"testing"
)

func TestKubernetesRestart(t *testing.T) {
	base := func() *Config {
		return &Config{Discovery: Discovery{Kubernetes: &KubernetesDiscovery{Namespaces: []string{"a"}, UpstreamFrom: UpstreamFromService}}}
	}
	for _, tc := range []struct {
		name string
		edit func(c *Config)
		want string
	}{
		{"unchanged", func(*Config) {}, ""},
		{"access reloads", func(c *Config) { c.Discovery.Kubernetes.Access = []Binding{{Role: "admin", Groups: []string{"x"}}} }, ""},
		{"authz added", func(c *Config) { c.Authorization.Kubernetes = &KubernetesAuthz{} }, ""},
		{"namespaces", func(c *Config) { c.Discovery.Kubernetes.Namespaces = []string{"b"} }, "namespaces"},
		{"selector", func(c *Config) { c.Discovery.Kubernetes.NamespaceSelector = "x" }, "namespaces"},
		{"upstreamFrom", func(c *Config) { c.Discovery.Kubernetes.UpstreamFrom = UpstreamFromEndpointSlices }, "upstreamFrom"},
		{"discovery off", func(c *Config) { c.Discovery.Kubernetes = nil; c.Authorization.Kubernetes = &KubernetesAuthz{} }, "turned on or off"},
		{"kubeconfig", func(c *Config) { c.Kubernetes = &KubernetesAPI{Kubeconfig: "/k"} }, "kubeconfig"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			next := base()
			tc.edit(next)
			got := KubernetesRestart(base(), next)
			if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
				t.Fatalf("KubernetesRestart = %q, want one mentioning %q", got, tc.want)
			}
		})
	}
	if why := KubernetesRestart(&Config{}, base()); !strings.Contains(why, "turned on") {
		t.Fatalf("turning Kubernetes on by reload: %q", why)
	}
}
