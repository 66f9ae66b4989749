// Package lint checks Kubernetes manifests for what keeps Ray clusters and
// the workloads around them restricted: every pod template of KubeRay's
// kinds (RayCluster, RayJob, RayCronJob, RayService) and of every other
// pod-bearing kind (Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet,
// ReplicationController, Job, CronJob, PodTemplate) against the Pod
// Security Standard "restricted" with the API server's own checks (rules
// PSS-<check id>); Ray-specific exposures (rules RG-*): a head Service or
// Ingress reachable from outside the cluster, Ray token authentication
// off, service-account tokens mounted, missing limits, unpinned images,
// host namespaces and ports, and containers KubeRay adds to pods that
// would be rejected in a restricted namespace; and the KubeRay operator's
// own install (RG-operator-*: its pod, its RBAC, its version, its ports).
//
// Checks are pure functions of the parsed documents; Report writes the
// findings as text, JSON or SARIF 2.1.0.
package lint

import (
	"cmp"
	"slices"
)

// Severity of a finding.
type Severity string

// Severities, most serious first.
const (
	SeverityError   Severity = "error"
	SeverityWarning Severity = "warning"
	SeverityInfo    Severity = "info"
)

// Finding is one problem in one object.
type Finding struct {
	// File is the path of the file, as given or found while walking a
	// folder.
	File string `json:"file"`
	// Document is the 0-based index of the YAML document in the file.
	Document int `json:"document"`
	// Kind is the object's kind (RayCluster, RayJob, RayService).
	Kind string `json:"kind"`
	// Name is the object's metadata.name.
	Name string `json:"name"`
	// Rule is the rule id: PSS-<check id> or RG-<name>.
	Rule string `json:"rule"`
	// Severity is error, warning or info.
	Severity Severity `json:"severity"`
	// Field is the path of the offending field in the object, e.g.
	// spec.headGroupSpec.template.spec.containers[0].securityContext.
	Field string `json:"field"`
	// Message says what is wrong and how to fix it.
	Message string `json:"message"`
	// Line and Column locate Field (or its deepest existing parent) in the
	// file; 0 when unknown (objects not read from a file).
	Line   int `json:"-"`
	Column int `json:"-"`
	// Key identifies the finding across two versions of an object: rule,
	// field (list items named where they have a name, so that the same
	// container is found wherever it moved) and message. The admission
	// webhook's ratchet compares keys.
	Key string `json:"-"`
}

// HasErrors reports whether any finding has severity error.
func HasErrors(fs []Finding) bool {
	for _, f := range fs {
		if f.Severity == SeverityError {
			return true
		}
	}
	return false
}

// Count returns the number of findings of each severity.
func Count(fs []Finding) map[Severity]int {
	out := map[Severity]int{}
	for _, f := range fs {
		out[f.Severity]++
	}
	return out
}

// sortFindings orders findings by file, document, line, then rule and
// field, keeping the order of equal ones.
func sortFindings(fs []Finding) {
	slices.SortStableFunc(fs, func(a, b Finding) int {
		return cmp.Or(
			cmp.Compare(a.File, b.File),
			cmp.Compare(a.Document, b.Document),
		)
	})
}
