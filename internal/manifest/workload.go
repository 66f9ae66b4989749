package manifest

import "strings"

// RolePod is the role of the pod template of a workload (a Deployment's
// spec.template, a Pod itself): the pods it makes have no Ray role.
const RolePod = "pod"

// Kinds of the pod-bearing workloads Pod Security Admission evaluates.
const (
	KindPod                   = "Pod"
	KindPodTemplate           = "PodTemplate"
	KindReplicationController = "ReplicationController"
	KindDeployment            = "Deployment"
	KindStatefulSet           = "StatefulSet"
	KindDaemonSet             = "DaemonSet"
	KindReplicaSet            = "ReplicaSet"
	KindJob                   = "Job"
	KindCronJob               = "CronJob"
)

// workloadGroups lists, per API group, the pod-bearing kinds of
// k8s.io/pod-security-admission's DefaultPodSpecExtractor: Pod Security
// Admission evaluates by resource (group and resource, whatever the
// version), so apps/v1beta2 Deployments and batch/v1beta1 CronJobs are
// evaluated like apps/v1 and batch/v1 ones. The extensions group's
// Deployments, DaemonSets and ReplicaSets (extensions/v1beta1, served up
// to Kubernetes 1.15) are not resources Pod Security Admission evaluates,
// but the pods they create are, so they are listed too.
var workloadGroups = map[string][]string{
	"":           {KindPod, KindPodTemplate, KindReplicationController},
	"apps":       {KindDeployment, KindStatefulSet, KindDaemonSet, KindReplicaSet},
	"extensions": {KindDeployment, KindDaemonSet, KindReplicaSet},
	"batch":      {KindJob, KindCronJob},
}

// WorkloadKind returns the canonical kind (Deployment, Pod, ...) when
// apiVersion/kind name a pod-bearing workload, "" otherwise. Case is
// ignored, as for KubeRay's kinds, so that a kind spelled differently is
// checked rather than skipped.
func WorkloadKind(apiVersion, kind string) string {
	group, version, ok := strings.Cut(apiVersion, "/")
	if !ok {
		group, version = "", apiVersion
	}
	if version == "" {
		return ""
	}
	for g, kinds := range workloadGroups {
		if !strings.EqualFold(group, g) {
			continue
		}
		for _, k := range kinds {
			if strings.EqualFold(kind, k) {
				return k
			}
		}
	}
	return ""
}

// IsWorkload reports whether the object is a pod-bearing workload Pod
// Security Admission evaluates (or, for extensions/v1beta1, whose pods
// it evaluates).
func (o Object) IsWorkload() bool { return WorkloadKind(o.APIVersion, o.Kind) != "" }

// workloadTemplates says where each workload kind keeps its pod template,
// as DefaultPodSpecExtractor reads it; a Pod is its own template.
var workloadTemplates = map[string]Path{
	KindPod:                   {},
	KindPodTemplate:           ParsePath("template"),
	KindReplicationController: ParsePath("spec.template"),
	KindDeployment:            ParsePath("spec.template"),
	KindStatefulSet:           ParsePath("spec.template"),
	KindDaemonSet:             ParsePath("spec.template"),
	KindReplicaSet:            ParsePath("spec.template"),
	KindJob:                   ParsePath("spec.template"),
	KindCronJob:               ParsePath("spec.jobTemplate.spec.template"),
}

// workloadTemplate returns the pod template of a workload: the object
// itself for a Pod, its template otherwise; none when the field is absent
// (an optional template, as a ReplicationController's, is then not
// evaluated, as Pod Security Admission does not evaluate it).
func workloadTemplate(o Object) []Template {
	k := WorkloadKind(o.APIVersion, o.Kind)
	if k == "" {
		return nil
	}
	p := workloadTemplates[k]
	if t := o.Value.At(p); t.IsMap() {
		return []Template{{Role: RolePod, Path: p, Value: t, Cluster: -1}}
	}
	return nil
}
