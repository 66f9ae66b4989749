package config

// Webhook configures the KubeRay admission webhook that `raygate serve`
// serves on its own TLS listener: /validate rejects RayCluster, RayJob and
// RayService objects with error-severity findings (naming rule and field)
// and returns warnings as admission warnings; /mutate applies the
// hardening fixes on CREATE. Objects the webhook cannot read are denied by
// both (fail closed); on UPDATE only error findings the old object already
// had are let through. Changes to a RayCluster owned by a RayService are
// denied unless the requester may update that RayService (asked of the
// API server with a SubjectAccessReview). docs/hardening.md shows how to
// register it with failurePolicy: Fail.
type Webhook struct {
	// Listen is the webhook listener's host:port. Default 127.0.0.1:9443.
	Listen string `yaml:"listen"`
	// TLS is the webhook's serving certificate. Required: the Kubernetes API
	// server only calls webhooks over HTTPS.
	TLS TLS `yaml:"tls"`
	// ExemptNamespaces are namespaces whose objects are admitted unchanged.
	// Default none.
	ExemptNamespaces []string `yaml:"exemptNamespaces"`
	// TenantsFile is a tenants file (raygate tenant render's input): the
	// webhook then applies the tenant rules to objects in each tenant's
	// namespace (allowed service accounts, protected Secrets). Default
	// none: tenant rules off. Reloaded with the config.
	TenantsFile string `yaml:"tenantsFile"`
	// Kubeconfig is the kubeconfig the webhook uses to ask the API server
	// (SubjectAccessReview) whether a requester may change the RayService
	// that owns a RayCluster. Default: the pod's service account when
	// raygate runs in Kubernetes; otherwise none, and such changes are
	// denied.
	Kubeconfig string `yaml:"kubeconfig"`
}
