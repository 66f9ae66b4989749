package lint

import (
	"sort"
	"strings"

	"github.com/raygate/raygate/internal/pss"
)

// Rule describes one rule for reports and documentation.
type Rule struct {
	// ID is the stable rule id.
	ID string
	// Severity is the severity of the rule's findings.
	Severity Severity
	// Summary says in one line what the rule checks.
	Summary string
	// Fix says how to fix a finding; "raygate harden" fixes it when
	// Hardened is true.
	Fix string
	// Hardened reports whether raygate harden fixes the finding.
	Hardened bool
}

// Ray-specific rule ids.
const (
	RuleHeadServiceExposed   = "RG-head-service-exposed"
	RuleServeServiceExposed  = "RG-serve-service-exposed"
	RuleHeadIngress          = "RG-head-ingress"
	RuleAuthDisabled         = "RG-auth-disabled"
	RuleAuthRayVersion       = "RG-auth-ray-version"
	RuleSATokenAutomount     = "RG-sa-token-automount"
	RuleResourceLimits       = "RG-resource-limits"
	RuleImageUnpinned        = "RG-image-unpinned"
	RuleHostNamespace        = "RG-host-namespace"
	RuleHostPort             = "RG-host-port"
	RuleAutoscalerRestricted = "RG-autoscaler-restricted"
	RuleSubmitterRestricted  = "RG-submitter-restricted"
	RuleSidecarSubmitter     = "RG-sidecar-submitter"
	RuleReadOnlyRootFSNoTmp  = "RG-readonly-rootfs-tmp"
	RuleInvalidTemplate      = "RG-invalid-template"
	RuleServiceAccount       = "RG-service-account"
	RuleSecretReference      = "RG-secret-reference"
	RuleSATokenProjected     = "RG-sa-token-projected"
	RuleTenantNamespace      = "RG-tenant-namespace"

	RuleOperatorRestricted     = "RG-operator-restricted"
	RuleOperatorNonRoot        = "RG-operator-non-root"
	RuleOperatorRBACSecrets    = "RG-operator-rbac-secrets"
	RuleOperatorRBACExec       = "RG-operator-rbac-exec"
	RuleOperatorRBACWildcard   = "RG-operator-rbac-wildcard"
	RuleOperatorWatchNamespace = "RG-operator-watch-namespace"
	RuleOperatorVersion        = "RG-operator-version"
	RuleOperatorExposed        = "RG-operator-exposed"

	// RulePSSPrefix prefixes the Pod Security Standard rules: PSS-<check id>.
	RulePSSPrefix = "PSS-"
)

const pssFallbackCheck = "restricted"

var rgRules = []Rule{
	{ID: RuleHeadServiceExposed, Severity: SeverityError, Hardened: true,
		Summary: "the head Service is published outside the cluster: of type LoadBalancer or NodePort (spec.headGroupSpec.serviceType or headService.spec.type), or with headService.spec.externalIPs or loadBalancerSourceRanges; the dashboard and Jobs API (8265), Ray Client (10001) and GCS (6379) are then reachable from outside, where anyone who reaches them can run code",
		Fix:     "use ClusterIP without externalIPs and reach the dashboard through raygate"},
	{ID: RuleHeadRoute, Severity: SeverityWarning,
		Summary: "an Ingress, a Gateway API route, or a Service of type LoadBalancer or NodePort or with externalIPs that selects Ray pods by KubeRay's labels (any ray.io/ label), in the same files, publishes a Ray head port (8265, 10001, 6379, 52365, or a *-head-svc Service) outside the cluster, where whoever reaches it can run code; an error for such a Service (it publishes the head as a head Service of that type would), a warning for an Ingress or route (its controller may authenticate)",
		Fix:     "remove it and publish the dashboard through raygate, which authenticates and authorizes every request"},
	{ID: RuleServeServiceExposed, Severity: SeverityWarning,
		Summary: "a RayService's serve Service (spec.serveService.spec) is of type LoadBalancer or NodePort, or sets externalIPs or loadBalancerSourceRanges, or its incremental upgrade strategy makes KubeRay create a Gateway of a class (upgradeStrategy.clusterUpgradeOptions.gatewayClassName) routing to Serve: Ray Serve answers unauthenticated requests from outside the cluster",
		Fix:     "use ClusterIP behind an authenticating ingress or gateway"},
	{ID: RuleHeadIngress, Severity: SeverityError, Hardened: true,
		Summary: "spec.headGroupSpec.enableIngress is true: KubeRay creates an Ingress to the dashboard and Jobs API, which run any shell command a request asks for",
		Fix:     "set enableIngress: false and publish the dashboard through raygate"},
	{ID: RuleAuthDisabled, Severity: SeverityError, Hardened: true,
		Summary: "Ray token authentication is off (spec.authOptions.mode is not token, and RAY_AUTH_MODE=token is not set on every Ray container): any pod that reaches the head can submit jobs",
		Fix:     "set spec.authOptions.mode: token (KubeRay 1.5.1 or newer, Ray 2.52 or newer)"},
	{ID: RuleAuthRayVersion, Severity: SeverityWarning,
		Summary: "token authentication is on but spec.rayVersion is missing or older than 2.52.0: KubeRay refuses authOptions for older Ray, and older Ray ignores the token",
		Fix:     "set spec.rayVersion to the Ray version of the images (2.52.0 or newer); raygate harden fills it in from the image tag when it can"},
	{ID: RuleSATokenAutomount, Severity: SeverityWarning, Hardened: true,
		Summary: "the pod template does not set automountServiceAccountToken: false: code running in Ray (any submitted job) can use the pod's Kubernetes credentials",
		Fix:     "set spec.automountServiceAccountToken: false (not reported, nor changed by harden, where the token is needed: the head of a cluster with in-tree autoscaling, and every Ray pod when authOptions.enableK8sTokenAuth or RAY_ENABLE_K8S_TOKEN_AUTH delegates Ray's authentication to Kubernetes)"},
	{ID: RuleResourceLimits, Severity: SeverityWarning,
		Summary: "a container sets no cpu or memory limit: one Ray workload can starve the node and the namespace's other tenants",
		Fix:     "set resources.limits.cpu and resources.limits.memory (Ray sizes its workers from them)"},
	{ID: RuleImageUnpinned, Severity: SeverityWarning,
		Summary: "an image has no tag, or the tag latest or nightly: what runs changes without a change to the manifest, and Ray versions of head and workers can drift apart",
		Fix:     "pin a version tag (rayproject/ray:2.52.0) or a digest"},
	{ID: RuleHostNamespace, Severity: SeverityError,
		Summary: "the pod shares a host namespace (hostNetwork, hostPID or hostIPC): with hostNetwork, Ray's ports (6379, 8265, 10001, 8000, ...) listen on the node's address and NetworkPolicies no longer apply to them",
		Fix:     "remove hostNetwork, hostPID and hostIPC"},
	{ID: RuleHostPort, Severity: SeverityError,
		Summary: "a container port sets hostPort: the Ray port is published on the node's address, outside NetworkPolicies and the head Service",
		Fix:     "remove hostPort and reach the port through a ClusterIP Service"},
	{ID: RuleAutoscalerRestricted, Severity: SeverityError, Hardened: true,
		Summary: "in-tree autoscaling is on and spec.autoscalerOptions.securityContext does not meet restricted: the autoscaler container KubeRay adds to the head pod takes its securityContext from there, so the head pod would be rejected in a restricted namespace",
		Fix:     "set autoscalerOptions.securityContext to the restricted container securityContext"},
	{ID: RuleSubmitterRestricted, Severity: SeverityError, Hardened: true,
		Summary: "a RayJob in K8sJobMode has no spec.submitterPodTemplate: KubeRay's default submitter pod has no securityContext and would be rejected in a restricted namespace",
		Fix:     "add a submitterPodTemplate with a restricted securityContext (raygate harden adds KubeRay's default one, hardened)"},
	{ID: RuleSidecarSubmitter, Severity: SeverityWarning,
		Summary: "a RayJob in SidecarMode: KubeRay adds a submitter container without a securityContext to the head pod, which a restricted namespace rejects",
		Fix:     "use K8sJobMode with a hardened submitterPodTemplate, or HTTPMode"},
	{ID: RuleReadOnlyRootFSNoTmp, Severity: SeverityWarning, Hardened: true,
		Summary: "a container has a read-only root filesystem but no writable volume at /tmp: Ray writes its session directory under /tmp/ray and fails to start",
		Fix:     "mount an emptyDir at /tmp"},
	{ID: RuleServiceAccount, Severity: SeverityError,
		Summary: "(with --tenants) a pod template's serviceAccountName (or deprecated serviceAccount) is not one of the tenant's serviceAccounts: every Ray job in the pod gets that account's Kubernetes permissions, such as another cluster's autoscaler account, which deletes pods and changes RayClusters; also, with or without --tenants, a RayCluster with in-tree autoscaling and no head serviceAccountName named default or like a ServiceAccount in the same files, whose account KubeRay then gives the head",
		Fix:     "leave serviceAccountName unset or use one of the tenant's service accounts (default ray, which render creates without a token); name an autoscaling RayCluster after no existing account"},
	{ID: RuleSecretReference, Severity: SeverityWarning,
		Summary: "a pod template mounts a Secret (secret or projected volume, a CSI volume's nodePublishSecretRef) or reads one (envFrom, env valueFrom), or the cluster spec makes KubeRay put one into its pods (authOptions.secretName, gcsFaultToleranceOptions Redis credentials, autoscalerOptions env and envFrom): any Ray job in the pod can read it; an error when the tenants file protects the Secret (protectedSecrets) or when it is the Ray token Secret of another RayCluster in the same files",
		Fix:     "mount only the Secrets the workload needs; never another cluster's Ray token"},
	{ID: RuleSATokenProjected, Severity: SeverityWarning,
		Summary: "a projected volume holds a service-account token: code in the pod (any Ray job) can act as the pod's service account, even with automountServiceAccountToken: false",
		Fix:     "remove the serviceAccountToken source unless the workload needs it, with an audience other than the API server's"},
	{ID: RuleTenantNamespace, Severity: SeverityWarning,
		Summary: "(with --tenants) the object's namespace (metadata.namespace, or --namespace) is not a tenant's, so the tenant rules were not applied",
		Fix:     "set metadata.namespace to the tenant's namespace, or pass --namespace"},
	{ID: RuleWebhookUnreachable, Severity: SeverityError,
		Summary: "an admission webhook registration (Validating or MutatingWebhookConfiguration) points at a Service whose pods, in the same files, are selected by NetworkPolicies that admit nothing from outside the cluster on the webhook's port: the API server cannot call it (error with failurePolicy Fail, which then refuses every object the webhook matches; warning with Ignore, which admits them unchecked)",
		Fix:     "add an ingress rule for the webhook's port with no from (or an ipBlock holding the API server's addresses)"},
	{ID: RuleOperatorRestricted, Severity: SeverityError,
		Summary: "the KubeRay operator's pod (recognised by its image kuberay/operator, the labels app.kubernetes.io/name or component: kuberay-operator, or flags only the operator has) fails Pod Security restricted; a warning when a Namespace in the same files runs the operator without enforcing restricted",
		Fix:     "fix the PSS findings of the operator's Deployment (raygate harden fixes most) and label its namespace pod-security.kubernetes.io/enforce: restricted"},
	{ID: RuleOperatorNonRoot, Severity: SeverityError, Hardened: true,
		Summary: "a container of the KubeRay operator's pod may run as root: runAsNonRoot is not true where it takes effect, or runAsUser is 0 (also with hostUsers: false, where restricted allows root)",
		Fix:     "set securityContext.runAsNonRoot: true and no runAsUser 0 (KubeRay's image runs as 65532)"},
	{ID: RuleOperatorRBACSecrets, Severity: SeverityError,
		Summary: "a ClusterRole bound to the KubeRay operator's service account by a ClusterRoleBinding lets it get, list or watch Secrets (or *) in every namespace, or create pods or workloads that make pods (Deployments, StatefulSets, DaemonSets, ReplicaSets, ReplicationControllers, Jobs, CronJobs) in every namespace, which can mount any Secret; also through a ClusterRole aggregated into it, a built-in ClusterRole or resourceNames that include the empty name (which matches list and watch): every tenant's Ray token and every other Secret of the cluster",
		Fix:     "install the operator for the namespaces it serves: --watch-namespace with a Role and RoleBinding in each watched namespace (Helm: singleNamespaceInstall: true, watchNamespace)"},
	{ID: RuleOperatorRBACExec, Severity: SeverityError,
		Summary: "a role bound to the KubeRay operator's service account allows pods/exec or pods/attach (create or *; also through */exec, */attach or *), or nodes/proxy (the kubelet's API, which execs in any pod of the node): an error cluster-wide, a warning in one namespace",
		Fix:     "remove the rule: KubeRay never execs into pods"},
	{ID: RuleOperatorRBACWildcard, Severity: SeverityError,
		Summary: "a role bound to the KubeRay operator's service account has the verb * or the resource *, the escalate, bind or impersonate verbs, or creates service-account tokens (serviceaccounts/token, */token): an error cluster-wide, a warning in one namespace",
		Fix:     "list the resources and verbs KubeRay needs (its own ClusterRole)"},
	{ID: RuleOperatorWatchNamespace, Severity: SeverityWarning,
		Summary: "the KubeRay operator watches every namespace (no --watch-namespace, or an empty one, or no watchNamespace in its --config file): a warning when teams share the cluster (a tenants file with several tenants, or Ray objects in several namespaces), information otherwise; also a warning when it watches chosen namespaces but a ClusterRoleBinding gives it rights in every namespace",
		Fix:     "run the operator for the teams' namespaces: --watch-namespace=NS1,NS2 with a Role and RoleBinding in each (Helm: singleNamespaceInstall: true, watchNamespace); KubeRay does not read WATCH_NAMESPACE, pass it as --watch-namespace=$(WATCH_NAMESPACE)"},
	{ID: RuleOperatorVersion, Severity: SeverityError,
		Summary: "the KubeRay operator's image tag is older than the token authentication the Ray objects in the same files ask for (spec.authOptions needs KubeRay 1.5.1, authOptions.secretName and enableK8sTokenAuth 1.6.0): the operator and its CRDs drop it and the cluster runs without authentication; a warning for an operator older than 1.5.1 when nothing asks for it yet, information when the tag names no version",
		Fix:     "upgrade the operator and its CRDs to 1.5.1 or newer (1.6.0 for secretName and enableK8sTokenAuth), and pin the image to a version tag"},
	{ID: RuleOperatorExposed, Severity: SeverityError,
		Summary: "a Service selecting the KubeRay operator's pods is of type LoadBalancer or NodePort or has externalIPs, or an Ingress or Gateway API route leads to such a Service: the operator's metrics, health and webhook ports answer without authentication",
		Fix:     "keep the operator's Services ClusterIP without externalIPs, and route nothing to them"},
	{ID: RuleInvalidTemplate, Severity: SeverityError,
		Summary: "a pod template (or autoscalerOptions) cannot be read as a Kubernetes pod template: the API server would reject the object",
		Fix:     "correct the field named in the message"},
}

// pssSummaries explains each Pod Security Admission check id.
var pssSummaries = map[string]string{
	"allowPrivilegeEscalation":   "containers must set securityContext.allowPrivilegeEscalation: false",
	"appArmorProfile":            "AppArmor profiles may only be RuntimeDefault or Localhost",
	"capabilities_restricted":    "containers must drop ALL capabilities and add at most NET_BIND_SERVICE",
	"hostNamespaces":             "hostNetwork, hostPID and hostIPC must not be set",
	"hostPathVolumes":            "hostPath volumes are not allowed",
	"hostPorts":                  "containers must not set hostPort",
	"hostProbesAndHostLifecycle": "probes and lifecycle handlers must not set host",
	"privileged":                 "containers must not be privileged",
	"procMount_restricted":       "procMount must be Default (from policy v1.35, also in a user namespace with hostUsers: false)",
	"procMount":                  "procMount must be Default",
	"restrictedVolumes":          "only configMap, csi, downwardAPI, emptyDir, ephemeral, image, persistentVolumeClaim, projected and secret volumes are allowed",
	"runAsNonRoot":               "the pod or every container must set securityContext.runAsNonRoot: true",
	"runAsUser":                  "runAsUser must not be 0",
	"seLinuxOptions":             "SELinux type may only be container_t, container_init_t or container_kvm_t, and user and role must not be set",
	"seccompProfile_restricted":  "the pod or every container must set seccompProfile.type to RuntimeDefault or Localhost",
	"sysctls":                    "only the safe sysctls may be set",
	"windowsHostProcess":         "Windows HostProcess containers are not allowed",
	pssFallbackCheck:             "the pod fails the restricted profile",
}

// pssFixes says how to fix each Pod Security Admission check.
var pssFixes = map[string]string{
	"allowPrivilegeEscalation":   "set securityContext.allowPrivilegeEscalation: false on every container",
	"appArmorProfile":            "remove the Unconfined AppArmor profile (annotation or appArmorProfile)",
	"capabilities_restricted":    "set securityContext.capabilities.drop: [ALL] and add nothing but NET_BIND_SERVICE",
	"hostNamespaces":             "remove hostNetwork, hostPID and hostIPC",
	"hostPorts":                  "remove hostPort; reach the port through a Service",
	"hostProbesAndHostLifecycle": "remove host from the probe or lifecycle handler",
	"privileged":                 "remove privileged: true",
	"procMount_restricted":       "remove procMount (or set it to Default)",
	"restrictedVolumes":          "replace the volume with an allowed type (PVC, emptyDir, configMap, secret, ...)",
	"runAsNonRoot":               "set securityContext.runAsNonRoot: true on the pod",
	"runAsUser":                  "run as a non-zero user (rayproject/ray images: 1000)",
	"seLinuxOptions":             "remove seLinuxOptions user and role, and use an allowed type",
	"seccompProfile_restricted":  "set securityContext.seccompProfile.type: RuntimeDefault on the pod",
	"sysctls":                    "remove the unsafe sysctls",
	"windowsHostProcess":         "remove windowsOptions.hostProcess",
}

// Rules returns every rule: the PSS rules for the checks the restricted
// profile runs, then the RG rules, each group sorted by id.
func Rules() []Rule {
	var out []Rule
	ids := pss.CheckIDs()
	sort.Strings(ids)
	for _, id := range ids {
		s := pssSummaries[id]
		if s == "" {
			s = "Pod Security Standard restricted: " + id
		}
		fix := pssFixes[id]
		if fix == "" {
			fix = "meet the Pod Security Standard restricted"
		}
		out = append(out, Rule{ID: RulePSSPrefix + id, Severity: SeverityError, Summary: s, Fix: fix,
			Hardened: strings.Contains(hardenedPSS, "|"+id+"|")})
	}
	rg := append([]Rule(nil), rgRules...)
	sort.Slice(rg, func(i, j int) bool { return rg[i].ID < rg[j].ID })
	return append(out, rg...)
}

// hardenedPSS lists the PSS checks raygate harden fixes.
const hardenedPSS = "|allowPrivilegeEscalation|capabilities_restricted|privileged|runAsNonRoot|runAsUser|seccompProfile_restricted|procMount_restricted|appArmorProfile|"

// RuleByID returns the rule with id, if any.
func RuleByID(id string) (Rule, bool) {
	for _, r := range Rules() {
		if r.ID == id {
			return r, true
		}
	}
	return Rule{}, false
}

func severityOf(id string) Severity {
	for _, r := range rgRules {
		if r.ID == id {
			return r.Severity
		}
	}
	return SeverityError
}
