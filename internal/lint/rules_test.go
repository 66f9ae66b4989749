package lint

import (
	"fmt"
	"strings"
	"testing"
)

// insecureCluster is a RayCluster (document 1, after a ConfigMap) with most
// of what the rules look for.
const insecureCluster = `apiVersion: v1
kind: ConfigMap
metadata: {name: c}
---
apiVersion: ray.io/v1
kind: RayCluster
metadata:
  name: insecure
spec:
  enableInTreeAutoscaling: true
  autoscalerOptions:
    image: rayproject/ray:nightly
  authOptions:
    mode: disabled
  headGroupSpec:
    serviceType: LoadBalancer
    enableIngress: true
    rayStartParams: {}
    template:
      spec:
        hostNetwork: true
        containers:
        - name: ray-head
          image: rayproject/ray
          securityContext:
            privileged: true
          ports:
          - containerPort: 8265
            hostPort: 8265
  workerGroupSpecs:
  - groupName: gpu
    template:
      spec:
        volumes:
        - name: host
          hostPath: {path: /var}
        containers:
        - name: ray-worker
          image: rayproject/ray:latest
          resources: {limits: {cpu: "1"}}
          securityContext:
            readOnlyRootFilesystem: true
`

// restrictedCluster passes every error rule.
const restrictedCluster = `apiVersion: ray.io/v1
kind: RayCluster
metadata:
  name: ok
spec:
  rayVersion: "2.52.0"
  authOptions: {mode: token}
  headGroupSpec:
    template:
      spec:
        automountServiceAccountToken: false
        securityContext:
          runAsNonRoot: true
          seccompProfile: {type: RuntimeDefault}
        containers:
        - name: ray-head
          image: rayproject/ray:2.52.0
          resources: {limits: {cpu: "1", memory: 2Gi}}
          securityContext:
            allowPrivilegeEscalation: false
            capabilities: {drop: [ALL]}
`

type want struct {
	rule, field string
}

func TestRules(t *testing.T) {
	tests := []struct {
		name    string
		yaml    string
		want    []want
		notWant []string
	}{
		{
			name: "insecure cluster",
			yaml: insecureCluster,
			want: []want{
				{"RG-head-service-exposed", "spec.headGroupSpec.serviceType"},
				{"RG-head-ingress", "spec.headGroupSpec.enableIngress"},
				{"RG-auth-disabled", "spec.authOptions.mode"},
				{"RG-host-namespace", "spec.headGroupSpec.template.spec.hostNetwork"},
				{"RG-host-port", "spec.headGroupSpec.template.spec.containers[0].ports[0].hostPort"},
				{"RG-image-unpinned", "spec.headGroupSpec.template.spec.containers[0].image"},
				{"RG-image-unpinned", "spec.workerGroupSpecs[0].template.spec.containers[0].image"},
				{"RG-resource-limits", "spec.headGroupSpec.template.spec.containers[0].resources.limits"},
				{"RG-resource-limits", "spec.workerGroupSpecs[0].template.spec.containers[0].resources.limits"},
				{"RG-sa-token-automount", "spec.workerGroupSpecs[0].template.spec.automountServiceAccountToken"},
				{"RG-readonly-rootfs-tmp", "spec.workerGroupSpecs[0].template.spec.containers[0].securityContext.readOnlyRootFilesystem"},
				{"RG-autoscaler-restricted", "spec.autoscalerOptions.securityContext"},
				{"RG-image-unpinned", "spec.autoscalerOptions.image"},
				{"PSS-privileged", "spec.headGroupSpec.template.spec.containers[0].securityContext.privileged"},
				{"PSS-hostNamespaces", "spec.headGroupSpec.template.spec.hostNetwork"},
				{"PSS-hostPorts", "spec.headGroupSpec.template.spec.containers[0].ports[0].hostPort"},
				{"PSS-restrictedVolumes", "spec.workerGroupSpecs[0].template.spec.volumes[0]"},
				{"PSS-runAsNonRoot", "spec.workerGroupSpecs[0].template.spec.containers[0].securityContext.runAsNonRoot"},
				{"PSS-seccompProfile_restricted", "spec.headGroupSpec.template.spec.containers[0].securityContext.seccompProfile"},
				{"PSS-allowPrivilegeEscalation", "spec.headGroupSpec.template.spec.containers[0].securityContext.allowPrivilegeEscalation"},
				{"PSS-capabilities_restricted", "spec.workerGroupSpecs[0].template.spec.containers[0].securityContext.capabilities"},
			},
			// the head runs the autoscaler, which needs its token
			notWant: []string{"RG-sa-token-automount@spec.headGroupSpec.template.spec.automountServiceAccountToken"},
		},
		{
			name:    "restricted cluster",
			yaml:    restrictedCluster,
			notWant: []string{"PSS-", "RG-auth", "RG-sa-token-automount", "RG-resource-limits", "RG-image-unpinned"},
		},
		{
			name:    "Kubernetes token authentication needs the token",
			yaml:    strings.Replace(strings.Replace(restrictedCluster, "authOptions: {mode: token}", "authOptions: {mode: token, enableK8sTokenAuth: true}", 1), "        automountServiceAccountToken: false\n", "", 1),
			notWant: []string{"RG-sa-token-automount", "RG-auth"},
		},
		{
			name: "auth off when authOptions missing",
			yaml: strings.Replace(restrictedCluster, "  authOptions: {mode: token}\n", "", 1),
			want: []want{{"RG-auth-disabled", "spec.authOptions"}},
		},
		{
			name: "token auth by environment on every Ray container",
			yaml: strings.Replace(strings.Replace(restrictedCluster, "  authOptions: {mode: token}\n", "", 1),
				"          image: rayproject/ray:2.52.0\n", "          image: rayproject/ray:2.52.0\n          env: [{name: RAY_AUTH_MODE, value: token}]\n", 1),
			notWant: []string{"RG-auth-disabled"},
		},
		{
			name: "token auth needs rayVersion",
			yaml: strings.Replace(restrictedCluster, `  rayVersion: "2.52.0"`+"\n", "", 1),
			want: []want{{"RG-auth-ray-version", "spec.rayVersion"}},
		},
		{
			name: "token auth with old rayVersion",
			yaml: strings.Replace(restrictedCluster, `"2.52.0"`, `"2.46.0"`, 1),
			want: []want{{"RG-auth-ray-version", "spec.rayVersion"}},
		},
		{
			name: "headService NodePort",
			yaml: strings.Replace(restrictedCluster, "  headGroupSpec:\n", "  headGroupSpec:\n    headService:\n      spec: {type: NodePort}\n", 1),
			want: []want{{"RG-head-service-exposed", "spec.headGroupSpec.headService.spec.type"}},
		},
		{
			name: "RayJob default submitter and cluster spec paths",
			yaml: `apiVersion: ray.io/v1
kind: RayJob
metadata: {name: j}
spec:
  entrypoint: python -c 'print(1)'
  rayClusterSpec:
    headGroupSpec:
      template:
        spec:
          containers: [{name: h, image: "rayproject/ray:2.52.0"}]
`,
			want: []want{
				{"RG-submitter-restricted", "spec.submitterPodTemplate"},
				{"RG-auth-disabled", "spec.rayClusterSpec.authOptions"},
				{"PSS-runAsNonRoot", "spec.rayClusterSpec.headGroupSpec.template.spec.containers[0].securityContext.runAsNonRoot"},
			},
		},
		{
			name: "RayJob submitter template checked",
			yaml: `apiVersion: ray.io/v1
kind: RayJob
metadata: {name: j}
spec:
  submissionMode: K8sJobMode
  clusterSelector: {ray.io/cluster: c}
  submitterPodTemplate:
    spec:
      hostPID: true
      containers: [{name: s, image: "rayproject/ray:2.52.0"}]
`,
			want: []want{
				{"PSS-hostNamespaces", "spec.submitterPodTemplate.spec.hostPID"},
				{"RG-host-namespace", "spec.submitterPodTemplate.spec.hostPID"},
			},
			notWant: []string{"RG-auth-disabled", "RG-submitter-restricted"},
		},
		{
			name: "RayJob sidecar mode",
			yaml: `apiVersion: ray.io/v1
kind: RayJob
metadata: {name: j}
spec:
  submissionMode: SidecarMode
`,
			want: []want{{"RG-sidecar-submitter", "spec.submissionMode"}},
		},
		{
			name: "RayService paths and serve service",
			yaml: `apiVersion: ray.io/v1
kind: RayService
metadata: {name: s}
spec:
  serveService:
    spec: {type: LoadBalancer}
  rayClusterConfig:
    headGroupSpec:
      serviceType: NodePort
      template:
        spec:
          containers: [{name: h, image: "rayproject/ray:2.52.0"}]
`,
			want: []want{
				{"RG-serve-service-exposed", "spec.serveService.spec.type"},
				{"RG-head-service-exposed", "spec.rayClusterConfig.headGroupSpec.serviceType"},
				{"RG-auth-disabled", "spec.rayClusterConfig.authOptions"},
			},
		},
		{
			name: "List items",
			yaml: `apiVersion: v1
kind: List
items:
- apiVersion: ray.io/v1
  kind: RayCluster
  metadata: {name: a}
  spec:
    headGroupSpec:
      template:
        spec:
          containers: [{name: h, image: "rayproject/ray:2.52.0", securityContext: {privileged: true}}]
`,
			want: []want{{"PSS-privileged", "items[0].spec.headGroupSpec.template.spec.containers[0].securityContext.privileged"}},
		},
		{
			name: "invalid template",
			yaml: `apiVersion: ray.io/v1
kind: RayCluster
metadata: {name: a}
spec:
  headGroupSpec:
    template:
      spec:
        containers: "not a list"
`,
			want: []want{{"RG-invalid-template", "spec.headGroupSpec.template"}},
		},
		{
			name: "YAML 1.1 booleans count as kubectl reads them",
			yaml: strings.Replace(restrictedCluster, "        automountServiceAccountToken: false\n", "        automountServiceAccountToken: false\n        hostNetwork: yes\n", 1),
			want: []want{{"PSS-hostNamespaces", "spec.headGroupSpec.template.spec.hostNetwork"}},
		},
		{
			name: "anchors and merge keys",
			yaml: `apiVersion: ray.io/v1
kind: RayCluster
metadata: {name: a}
spec:
  headGroupSpec:
    template:
      spec:
        containers:
        - &ctr
          name: h
          image: rayproject/ray:2.52.0
          securityContext: {privileged: true}
  workerGroupSpecs:
  - groupName: w
    template:
      spec:
        containers:
        - <<: *ctr
          name: w
`,
			want: []want{
				{"PSS-privileged", "spec.headGroupSpec.template.spec.containers[0].securityContext.privileged"},
				{"PSS-privileged", "spec.workerGroupSpecs[0].template.spec.containers[0].securityContext.privileged"},
			},
		},
		{
			name:    "workloads are evaluated with Pod Security, without the Ray rules",
			yaml:    "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec: {template: {spec: {hostNetwork: true}}}\n",
			want:    []want{{"PSS-hostNamespaces", "spec.template.spec.hostNetwork"}},
			notWant: []string{"RG-"},
		},
		{
			name: "a workload template the API server would refuse",
			yaml: "apiVersion: batch/v1\nkind: Job\nmetadata: {name: j}\nspec: {template: {spec: {containers: 5}}}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {hostNetwork: maybe}\n",
			want: []want{{"RG-invalid-template", "spec.template"}, {"RG-invalid-template", "spec"}},
		},
		{
			name: "other kinds ignored",
			yaml: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {spec: x}\n---\napiVersion: ray.io/v1\nkind: Deployment\nmetadata: {name: d}\nspec: {template: {spec: {hostNetwork: true}}}\n",
		},
		{
			name: "Ingress to the dashboard",
			yaml: `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: i}
spec:
  rules:
  - http:
      paths:
      - path: /
        backend: {service: {name: c-head-svc, port: {number: 8265}}}
`,
			want: []want{{"RG-head-route", "spec.rules[0].http.paths[0].backend.service"}},
		},
		{
			name: "LoadBalancer Service selecting the head",
			yaml: `apiVersion: v1
kind: Service
metadata: {name: s}
spec:
  type: LoadBalancer
  selector: {ray.io/node-type: head}
  ports: [{port: 10001}]
`,
			want: []want{{"RG-head-route", "spec.ports[0]"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs, err := File("t.yaml", []byte(tt.yaml))
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]Finding{}
			var all []string
			for _, f := range fs {
				got[f.Rule+"@"+f.Field] = f
				all = append(all, f.Rule+"@"+f.Field)
				if f.Line == 0 {
					t.Errorf("%s@%s has no line", f.Rule, f.Field)
				}
				if f.Message == "" {
					t.Errorf("%s has no message", f.Rule)
				}
			}
			for _, w := range tt.want {
				if _, ok := got[w.rule+"@"+w.field]; !ok {
					t.Errorf("missing %s at %s; got:\n%s", w.rule, w.field, strings.Join(all, "\n"))
				}
			}
			for _, nw := range tt.notWant {
				for k := range got {
					if strings.HasPrefix(k, nw) {
						t.Errorf("unexpected %s", k)
					}
				}
			}
			if len(tt.want) == 0 && len(tt.notWant) == 0 && len(fs) > 0 {
				t.Errorf("unexpected findings: %v", all)
			}
		})
	}
}

func TestDocumentIndexAndSeverity(t *testing.T) {
	fs, err := File("t.yaml", []byte(insecureCluster))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fs {
		if f.Document != 1 || f.Kind != "RayCluster" || f.Name != "insecure" || f.File != "t.yaml" {
			t.Fatalf("finding %+v", f)
		}
		if strings.HasPrefix(f.Rule, "PSS-") && f.Severity != SeverityError {
			t.Errorf("%s severity %s", f.Rule, f.Severity)
		}
	}
	if !HasErrors(fs) {
		t.Error("HasErrors false")
	}
	if got := fmt.Sprint(Count(nil)); got != "map[]" {
		t.Errorf("Count(nil) = %s", got)
	}
}

func FuzzFile(f *testing.F) {
	f.Add([]byte(insecureCluster))
	f.Add([]byte(restrictedCluster))
	f.Add([]byte("a: &a [*a]\n"))
	f.Add([]byte("---\n---\n"))
	f.Add([]byte(webhookFiles("Fail", "webhook", "    - from: [{ipBlock: {cidr: 10.0.0.0/24}}]\n")))
	f.Add([]byte("apiVersion: batch/v1beta1\nkind: CronJob\nspec: {jobTemplate: {spec: {template: {spec: {hostPID: true, containers: [{name: c, ports: [{containerPort: 1}]}]}}}}}\n"))
	f.Add([]byte("apiVersion: v1\nkind: Pod\nmetadata: {annotations: {container.apparmor.security.beta.kubernetes.io/c: unconfined}}\nspec: {hostNetwork: true, containers: [{name: c, ports: [{containerPort: 80}]}]}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		fs, err := File("f.yaml", data)
		if err != nil {
			return
		}
		docs := strings.Count("\n"+string(data), "\n---")
		for _, x := range fs {
			if x.Rule == "" || x.Message == "" || x.Field == "" || x.File != "f.yaml" {
				t.Fatalf("incomplete finding %+v", x)
			}
			if x.Severity != SeverityError && x.Severity != SeverityWarning && x.Severity != SeverityInfo {
				t.Fatalf("finding %+v has severity %q", x, x.Severity)
			}
			if !strings.HasPrefix(x.Rule, "PSS-") && !strings.HasPrefix(x.Rule, "RG-") {
				t.Fatalf("finding %+v has rule id %q", x, x.Rule)
			}
			if x.Document < 0 || x.Document > docs {
				t.Fatalf("finding %+v in document %d of a file with at most %d separators", x, x.Document, docs)
			}
		}
	})
}
