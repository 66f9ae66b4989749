package lint

import (
	"strings"
	"testing"
)

// webhookFiles builds a webhook registration, its Service, the pods
// behind it and a NetworkPolicy for them.
func webhookFiles(failurePolicy, targetPort, ingress string) string {
	return `apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata: {name: hook}
webhooks:
  - name: validate.example.dev
    failurePolicy: ` + failurePolicy + `
    clientConfig:
      service: {namespace: gw, name: hook-svc, path: /validate}
---
apiVersion: v1
kind: Service
metadata: {name: hook-svc, namespace: gw}
spec:
  selector: {app: gw}
  ports: [{port: 443, targetPort: ` + targetPort + `}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: gw, namespace: gw}
spec:
  selector: {matchLabels: {app: gw}}
  template:
    metadata: {labels: {app: gw}}
    spec:
      containers:
        - name: gw
          image: gw:1
          ports: [{name: webhook, containerPort: 9443}, {name: public, containerPort: 8443}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: gw, namespace: gw}
spec:
  podSelector: {matchLabels: {app: gw}}
  policyTypes: [Ingress]
  ingress:
    - ports: [{port: 8443}]
` + ingress
}

func TestWebhookReachability(t *testing.T) {
	for _, tc := range []struct {
		name     string
		file     string
		severity Severity
		contains string
	}{
		{"webhook port closed, Fail", webhookFiles("Fail", "9443", ""), SeverityError, "port 9443"},
		{"failurePolicy unset means Fail", strings.Replace(webhookFiles("Fail", "9443", ""), "    failurePolicy: Fail\n", "", 1), SeverityError, "failurePolicy Fail"},
		{"webhook port closed, Ignore", webhookFiles("Ignore", "9443", ""), SeverityWarning, "admitted unchecked"},
		{"named target port closed", webhookFiles("Fail", "webhook", ""), SeverityError, "port 9443"},
		{"webhook port open", webhookFiles("Fail", "9443", "    - ports: [{port: 9443}]\n"), "", ""},
		{"named webhook port open", webhookFiles("Fail", "webhook", "    - ports: [{port: webhook}]\n"), "", ""},
		{"open to an ipBlock (maybe the API server)", webhookFiles("Fail", "9443", "    - from: [{ipBlock: {cidr: 10.0.0.0/24}}]\n      ports: [{port: 9443}]\n"), "", ""},
		{"open only to pods", webhookFiles("Fail", "9443", "    - from: [{podSelector: {}}]\n      ports: [{port: 9443}]\n"), SeverityError, "port 9443"},
		{"policy in another namespace", strings.Replace(webhookFiles("Fail", "9443", ""), "metadata: {name: gw, namespace: gw}\nspec:\n  podSelector", "metadata: {name: gw, namespace: other}\nspec:\n  podSelector", 1), "", ""},
		{"Service not in the file", webhookFiles("Fail", "9443", "")[:strings.Index(webhookFiles("Fail", "9443", ""), "---")], "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs, err := File("x.yaml", []byte(tc.file))
			if err != nil {
				t.Fatal(err)
			}
			var got []Finding
			for _, f := range fs {
				if f.Rule == RuleWebhookUnreachable {
					got = append(got, f)
				}
			}
			if tc.severity == "" {
				if len(got) != 0 {
					t.Fatalf("unexpected findings: %+v", got)
				}
				return
			}
			if len(got) != 1 || got[0].Severity != tc.severity || !strings.Contains(got[0].Message, tc.contains) ||
				got[0].Field != "webhooks[0].clientConfig.service" || got[0].Kind != "ValidatingWebhookConfiguration" {
				t.Fatalf("findings %+v; want one %s mentioning %q", got, tc.severity, tc.contains)
			}
		})
	}
}
