package config

// Webhook configures the KubeRay admission webhook that `raygate serve`
// serves on its own TLS listener: /validate rejects RayCluster, RayJob and
// RayService objects with error-severity findings (naming rule and field)
// and returns warnings as admission warnings; /mutate applies the
// hardening fixes on CREATE. Objects the webhook cannot read are denied by
// both (fail closed); on UPDATE only findings the old object did not have
// deny. docs/hardening.md shows how to register it with failurePolicy: Fail.
type Webhook struct {
	// Listen is the webhook listener's host:port. Default 127.0.0.1:9443.
	Listen string `yaml:"listen"`
	// TLS is the webhook's serving certificate. Required: the Kubernetes API
	// server only calls webhooks over HTTPS.
	TLS TLS `yaml:"tls"`
	// ExemptNamespaces are namespaces whose objects are admitted unchanged.
	// Default none.
	ExemptNamespaces []string `yaml:"exemptNamespaces"`
}
