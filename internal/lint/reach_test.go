package lint

import (
	"strings"
	"testing"

	"github.com/raygate/raygate/internal/tenant"
)

// reachCluster is restricted, in team-a, with the template parts the reach
// rules look at set by the test.
func reachCluster(name, podSpec string) string {
	return `apiVersion: ray.io/v1
kind: RayCluster
metadata: {name: ` + name + `, namespace: team-a}
spec:
  rayVersion: "2.52.0"
  authOptions: {mode: token}
  headGroupSpec:
    template:
      spec:
        automountServiceAccountToken: false
        securityContext: {runAsNonRoot: true, runAsUser: 1000, seccompProfile: {type: RuntimeDefault}}
` + podSpec + `        containers:
        - name: ray-head
          image: rayproject/ray:2.52.0
          resources: {limits: {cpu: "1", memory: 2Gi}}
          securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}
          envFrom: [{secretRef: {name: env-secret}}]
          env: [{name: TOKEN, valueFrom: {secretKeyRef: {name: key-secret, key: t}}}]
`
}

func TestReachRules(t *testing.T) {
	tf, err := tenant.Parse([]byte("raygate: {namespace: raygate-system}\nprotectedSecrets: [\"key-*\"]\ntenants:\n- {name: team-a, serviceAccounts: [ray, jobs], protectedSecrets: [vol-secret]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	vols := "        volumes:\n        - {name: v, secret: {secretName: vol-secret}}\n        - name: p\n          projected:\n            sources:\n            - secret: {name: proj-secret}\n            - serviceAccountToken: {path: token}\n"
	type sev struct{ rule, field, severity string }
	head := "spec.headGroupSpec.template.spec."
	tests := []struct {
		name    string
		yaml    string
		opts    Options
		want    []sev
		notWant []string
	}{
		{name: "without tenants every Secret reference is a warning", yaml: reachCluster("a", vols),
			want: []sev{
				{RuleSecretReference, head + "volumes[0].secret.secretName", "warning"},
				{RuleSecretReference, head + "volumes[1].projected.sources[0].secret.name", "warning"},
				{RuleSATokenProjected, head + "volumes[1].projected.sources[1].serviceAccountToken", "warning"},
				{RuleSecretReference, head + "containers[0].envFrom[0].secretRef.name", "warning"},
				{RuleSecretReference, head + "containers[0].env[0].valueFrom.secretKeyRef.name", "warning"},
			},
			notWant: []string{RuleServiceAccount, RuleTenantNamespace}},
		{name: "protected Secrets are errors", yaml: reachCluster("a", vols), opts: Options{Tenants: tf},
			want: []sev{
				{RuleSecretReference, head + "volumes[0].secret.secretName", "error"},
				{RuleSecretReference, head + "volumes[1].projected.sources[0].secret.name", "warning"},
				{RuleSecretReference, head + "containers[0].env[0].valueFrom.secretKeyRef.name", "error"},
			}},
		{name: "a service account the tenant may not use", yaml: reachCluster("a", "        serviceAccountName: admin-autoscaler\n"), opts: Options{Tenants: tf},
			want: []sev{{RuleServiceAccount, head + "serviceAccountName", "error"}}},
		{name: "the deprecated serviceAccount too", yaml: reachCluster("a", "        serviceAccount: default\n"), opts: Options{Tenants: tf},
			want: []sev{{RuleServiceAccount, head + "serviceAccount", "error"}}},
		{name: "an allowed service account", yaml: reachCluster("a", "        serviceAccountName: jobs\n"), opts: Options{Tenants: tf},
			notWant: []string{RuleServiceAccount}},
		{name: "another namespace is no tenant's", yaml: strings.Replace(reachCluster("a", ""), "namespace: team-a", "namespace: kube-system", 1), opts: Options{Tenants: tf},
			want: []sev{{RuleTenantNamespace, "metadata.namespace", "warning"}}, notWant: []string{RuleServiceAccount}},
		{name: "--namespace places objects without one", yaml: strings.Replace(reachCluster("a", "        serviceAccountName: x\n"), ", namespace: team-a", "", 1),
			opts: Options{Tenants: tf, Namespace: "team-a"}, want: []sev{{RuleServiceAccount, head + "serviceAccountName", "error"}}},
		{name: "Secrets KubeRay puts into the pods", yaml: strings.Replace(reachCluster("a", ""), "  authOptions: {mode: token}\n",
			"  authOptions: {mode: token, secretName: key-admin}\n  gcsFaultToleranceOptions: {redisAddress: \"r:6379\", redisPassword: {valueFrom: {secretKeyRef: {name: redis, key: p}}}}\n  enableInTreeAutoscaling: true\n  autoscalerOptions: {envFrom: [{secretRef: {name: as-env}}]}\n", 1),
			opts: Options{Tenants: tf},
			want: []sev{
				{RuleSecretReference, "spec.authOptions.secretName", "error"},
				{RuleSecretReference, "spec.gcsFaultToleranceOptions.redisPassword.valueFrom.secretKeyRef.name", "warning"},
				{RuleSecretReference, "spec.autoscalerOptions.envFrom[0].secretRef.name", "warning"},
			}},
		{name: "another cluster's Ray token in the same files", yaml: reachCluster("b", "") + "---\n" + strings.Replace(reachCluster("key-secret", ""), "env-secret", "b", 1),
			want: []sev{{RuleSecretReference, head + "containers[0].envFrom[0].secretRef.name", "error"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs, err := FileWith("r.yaml", []byte(tt.yaml), tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for _, f := range fs {
				got[f.Rule+"@"+f.Field] = string(f.Severity)
			}
			for _, w := range tt.want {
				if s, ok := got[w.rule+"@"+w.field]; !ok || s != w.severity {
					t.Errorf("%s at %s: severity %q, want %s (all: %v)", w.rule, w.field, s, w.severity, got)
				}
			}
			for _, nw := range tt.notWant {
				for k := range got {
					if strings.HasPrefix(k, nw+"@") {
						t.Errorf("unexpected %s", k)
					}
				}
			}
		})
	}
}
