package manifest

import (
	"strings"
	"testing"
)

func TestWorkloadKind(t *testing.T) {
	for _, tt := range []struct{ apiVersion, kind, want string }{
		{"v1", "Pod", KindPod},
		{"v1", "PodTemplate", KindPodTemplate},
		{"v1", "ReplicationController", KindReplicationController},
		{"apps/v1", "Deployment", KindDeployment},
		{"apps/v1beta2", "StatefulSet", KindStatefulSet},
		{"apps/v1beta1", "deployment", KindDeployment},
		{"apps/v1", "DaemonSet", KindDaemonSet},
		{"apps/v1", "ReplicaSet", KindReplicaSet},
		{"extensions/v1beta1", "Deployment", KindDeployment},
		{"extensions/v1beta1", "StatefulSet", ""},
		{"batch/v1", "Job", KindJob},
		{"batch/v1beta1", "CronJob", KindCronJob},
		{"batch/v1", "Pod", ""},
		{"apps/v1", "Pod", ""},
		{"v1", "Deployment", ""},
		{"ray.io/v1", "RayCluster", ""},
		{"ray.io/v1", "Deployment", ""},
		{"apps/", "Deployment", ""},
		{"", "Pod", ""},
	} {
		if got := WorkloadKind(tt.apiVersion, tt.kind); got != tt.want {
			t.Errorf("WorkloadKind(%q, %q) = %q, want %q", tt.apiVersion, tt.kind, got, tt.want)
		}
	}
}

func TestWorkloadTemplates(t *testing.T) {
	data := `apiVersion: v1
kind: Pod
metadata: {name: p}
spec: {containers: [{name: c}]}
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: c}
spec: {jobTemplate: {spec: {template: {spec: {containers: [{name: c}]}}}}}
---
apiVersion: v1
kind: PodTemplate
metadata: {name: t}
template: {spec: {containers: [{name: c}]}}
---
apiVersion: v1
kind: ReplicationController
metadata: {name: r}
spec: {replicas: 0}
`
	f, err := Read([]byte(data))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"", "spec.jobTemplate.spec.template", "template", "none"}
	for i, o := range f.Resources() {
		ts := Templates(o)
		got := "none"
		if len(ts) == 1 {
			got = ts[0].Path.String()
			if ts[0].Role != RolePod || ts[0].Pods() != "pod" || ts[0].Cluster != -1 {
				t.Errorf("%s: template %+v", o.Kind, ts[0])
			}
		}
		if got != want[i] {
			t.Errorf("%s: template at %q, want %q", o.Kind, got, want[i])
		}
		if len(ClusterSpecs(o)) != 0 {
			t.Errorf("%s has cluster specs", o.Kind)
		}
	}
}

func TestOperatorImage(t *testing.T) {
	for _, tt := range []struct {
		image    string
		operator bool
		version  string
	}{
		{"quay.io/kuberay/operator:v1.5.1", true, "1.5.1"},
		{"kuberay/operator:v1.4.2", true, "1.4.2"},
		{"kuberay/operator", true, ""},
		{"docker.io/kuberay/operator:nightly", true, ""},
		{"registry.example.com:5000/mirror/kuberay/operator:1.6.0@sha256:abc", true, "1.6.0"},
		{"quay.io/kuberay/operator@sha256:abc", true, ""},
		{"quay.io/kuberay/operator:v1.5.1-rc.0", true, "1.5.1"},
		{"Quay.io/KubeRay/Operator:v1.6.0", true, "1.6.0"},
		{"quay.io/kuberay/apiserver:v1.5.1", false, "1.5.1"},
		{"quay.io/notkuberay/operator:v1.5.1", false, "1.5.1"},
		{"kuberay/operator-fork:v1", false, ""},
		{"registry.example.com/platform/kuberay-operator:v1.5.1", true, "1.5.1"},
		{"quay.io/opendatahub/odh-kuberay-operator-controller:v1.4.2", true, "1.4.2"},
		{"registry.example.com/kuberay/apiserver:v1.5.1", false, "1.5.1"},
		{"registry.example.com/operators/ray:v1", false, ""},
	} {
		if got := IsOperatorImage(tt.image); got != tt.operator {
			t.Errorf("IsOperatorImage(%q) = %v", tt.image, got)
		}
		if got := OperatorVersion(tt.image); got != tt.version {
			t.Errorf("OperatorVersion(%q) = %q, want %q", tt.image, got, tt.version)
		}
	}
}

func operatorObject(t testing.TB, podSpec string) Object {
	t.Helper()
	f, err := Read([]byte("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d, namespace: ray-system}\nspec:\n  template:\n" + podSpec))
	if err != nil {
		t.Fatal(err)
	}
	return f.Resources()[0]
}

func TestFindOperator(t *testing.T) {
	tests := []struct {
		name      string
		spec      string
		found     bool
		why       string
		container int
		watch     []string
		decided   bool
	}{
		{"by image", "    spec: {containers: [{name: sidecar, image: envoy:1}, {name: m, image: 'quay.io/kuberay/operator:v1.6.0'}]}\n",
			true, "image quay.io/kuberay/operator:v1.6.0", 1, nil, true},
		{"by flag", "    spec: {containers: [{name: m, image: mirror/manager:1, command: [/manager, --use-kubernetes-proxy]}]}\n",
			true, "flag --use-kubernetes-proxy", 0, nil, true},
		{"by feature gate", "    spec: {containers: [{name: m, image: x:1, args: ['--feature-gates=RayJobDeletionPolicy=true']}]}\n",
			true, "flag --feature-gates=RayJobDeletionPolicy=true", 0, nil, true},
		{"other feature gates", "    spec: {containers: [{name: m, image: x:1, args: ['--feature-gates=Foo=true']}]}\n",
			false, "", 0, nil, true},
		{"by label", "    metadata: {labels: {app.kubernetes.io/component: kuberay-operator}}\n    spec: {containers: [{name: a, image: x:1}, {name: kuberay-operator, image: y:1, args: [--watch-namespace, 'a,b']}]}\n",
			true, "label app.kubernetes.io/component: kuberay-operator", 1, []string{"a", "b"}, true},
		{"by the container name KubeRay's charts give it", "    metadata: {labels: {app.kubernetes.io/name: ray-op}}\n    spec: {containers: [{name: proxy, image: envoy:1}, {name: kuberay-operator, image: 'mirror.example.com/ray/op:1.5.1', args: ['--watch-namespace=team-a,']}]}\n",
			true, "container name kuberay-operator", 1, nil, true},
		{"by --reconcile-concurrency", "    spec: {containers: [{name: manager, image: 'mirror.example.com/ray/op:1.5.1', args: [--reconcile-concurrency=1, '--watch-namespace=,team-a']}]}\n",
			true, "flag --reconcile-concurrency", 0, nil, true},
		{"a web server", "    metadata: {labels: {app: web}}\n    spec: {containers: [{name: web, image: nginx:1}]}\n",
			false, "", 0, nil, true},
		{"last flag wins, single dash", "    spec: {containers: [{image: kuberay/operator, args: [-watch-namespace=a, --watch-namespace=b]}]}\n",
			true, "image kuberay/operator", 0, []string{"b"}, true},
		{"flags stop at the first argument", "    spec: {containers: [{image: kuberay/operator, args: [--enable-metrics, stray, --watch-namespace=a]}]}\n",
			true, "image kuberay/operator", 0, nil, true},
		{"a value taken by a flag is not a flag", "    spec: {containers: [{image: kuberay/operator, args: [--log-file-path, --watch-namespace=a]}]}\n",
			true, "image kuberay/operator", 0, nil, true},
		{"-- ends the flags", "    spec: {containers: [{image: kuberay/operator, args: [--, --watch-namespace=a]}]}\n",
			true, "image kuberay/operator", 0, nil, true},
		{"$(VAR) from a literal", "    spec: {containers: [{image: kuberay/operator, env: [{name: NS, value: team-a}], args: ['--watch-namespace=$(NS),team-b']}]}\n",
			true, "image kuberay/operator", 0, []string{"team-a", "team-b"}, true},
		{"$(VAR) from the pod's namespace", "    spec: {containers: [{image: kuberay/operator, env: [{name: WATCH_NAMESPACE, valueFrom: {fieldRef: {fieldPath: metadata.namespace}}}], args: ['--watch-namespace=$(WATCH_NAMESPACE)']}]}\n",
			true, "image kuberay/operator", 0, []string{"ray-system"}, true},
		{"$$ escapes", "    spec: {containers: [{image: kuberay/operator, env: [{name: NS, value: x}], args: ['--watch-namespace=$$(NS)']}]}\n",
			true, "image kuberay/operator", 0, []string{"$(NS)"}, true},
		{"config file", "    spec: {containers: [{image: kuberay/operator, args: [--config=/etc/kuberay/config.yaml, --watch-namespace=a]}]}\n",
			true, "image kuberay/operator", 0, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			op, ok := FindOperator(operatorObject(t, tt.spec))
			if ok != tt.found {
				t.Fatalf("found = %v", ok)
			}
			if !ok {
				return
			}
			if op.Why != tt.why || op.Container != tt.container {
				t.Errorf("why %q container %d", op.Why, op.Container)
			}
			ns, decided := op.WatchNamespaces()
			if strings.Join(ns, ",") != strings.Join(tt.watch, ",") || (ns == nil) != (tt.watch == nil) || decided != tt.decided {
				t.Errorf("watch %q (decided %v), want %q (%v)", ns, decided, tt.watch, tt.decided)
			}
		})
	}
}

func TestOperatorConfigMapFile(t *testing.T) {
	o := operatorObject(t, `    spec:
      volumes:
      - {name: cfg, configMap: {name: op-config}}
      - {name: items, configMap: {name: op-items, items: [{key: settings, path: conf/c.yaml}]}}
      - {name: secret, secret: {secretName: s}}
      containers:
      - image: kuberay/operator
        volumeMounts:
        - {name: cfg, mountPath: /etc/kuberay/}
        - {name: items, mountPath: /etc/items}
        - {name: cfg, mountPath: /one.yaml, subPath: config.yaml}
        - {name: secret, mountPath: /etc/secret}
`)
	op, ok := FindOperator(o)
	if !ok {
		t.Fatal("not found")
	}
	for _, tt := range []struct{ file, cm, key string }{
		{"/etc/kuberay/config.yaml", "op-config", "config.yaml"},
		{"/etc/items/conf/c.yaml", "op-items", "settings"},
		{"/etc/items/other.yaml", "", ""},
		{"/one.yaml", "op-config", "config.yaml"},
		{"/etc/secret/config.yaml", "", ""},
		{"/elsewhere/config.yaml", "", ""},
	} {
		cm, key, ok := op.ConfigMapFile(tt.file)
		if cm != tt.cm || key != tt.key || ok != (tt.cm != "") {
			t.Errorf("ConfigMapFile(%q) = %q %q %v, want %q %q", tt.file, cm, key, ok, tt.cm, tt.key)
		}
	}
}

// FuzzOperator reads arbitrary manifests and checks that recognising the
// operator and reading its flags never fails and stays consistent.
func FuzzOperator(f *testing.F) {
	f.Add("    spec: {containers: [{image: 'quay.io/kuberay/operator:v1.5.1', args: [--watch-namespace, 'a,b', --config=/x]}]}\n")
	f.Add("    metadata: {labels: {app.kubernetes.io/name: kuberay-operator}}\n    spec: {containers: [{image: x, env: [{name: A, value: $(A)}], args: ['--watch-namespace=$(A)$$($(A)']}]}\n")
	f.Add("    spec: {containers: [{image: x, command: [/manager, -, --, '-=x', ---a], args: [--use-kubernetes-proxy]}]}\n")
	f.Add("    spec: {containers: [{image: '@:/', args: [--config, /a/../b]}], volumes: [{name: v, configMap: {items: [{path: '..'}]}}]}\n")
	f.Fuzz(func(t *testing.T, spec string) {
		fl, err := Read([]byte("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n  template:\n" + spec))
		if err != nil {
			return
		}
		for _, o := range fl.Resources() {
			op, ok := FindOperator(o)
			if !ok {
				continue
			}
			if op.Why == "" || op.Container < 0 || op.Template.Value.Lookup("spec.containers").Index(op.Container) == nil {
				t.Fatalf("inconsistent operator %+v", op)
			}
			for name, fg := range op.Flags {
				if name == "" || o.Value.At(fg.Field) == nil {
					t.Fatalf("flag %q at %v not in the object", name, fg.Field)
				}
			}
			op.WatchNamespaces()
			op.ConfigMapFile(op.Flags[ConfigFlag].Value)
			OperatorVersion(op.Image)
		}
	})
}
