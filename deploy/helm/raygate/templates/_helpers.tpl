{{/* Name of the chart, or nameOverride. */}}
{{- define "raygate.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Full name: prefix of every object. */}}
{{- define "raygate.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Selector labels. */}}
{{- define "raygate.selectorLabels" -}}
app.kubernetes.io/name: {{ include "raygate.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Common labels. */}}
{{- define "raygate.labels" -}}
{{ include "raygate.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{/* ServiceAccount name. */}}
{{- define "raygate.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "raygate.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The image reference: digest when set, else the tag. */}}
{{- define "raygate.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/* Name of the webhook's Service and serving certificate Secret. */}}
{{- define "raygate.webhookName" -}}
{{- printf "%s-webhook" (include "raygate.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "raygate.webhookSecret" -}}
{{- if .Values.webhook.certManager.enabled -}}
{{- printf "%s-tls" (include "raygate.webhookName" .) -}}
{{- else -}}
{{- required "webhook.tlsSecretName is required when webhook.certManager.enabled is false" .Values.webhook.tlsSecretName -}}
{{- end -}}
{{- end -}}

{{/* The discovery section of the config, or an empty dict. */}}
{{- define "raygate.discovery" -}}
{{- $d := dict -}}
{{- with .Values.config.discovery -}}{{- with .kubernetes -}}{{- $d = . -}}{{- end -}}{{- end -}}
{{- toYaml $d -}}
{{- end -}}

{{/*
The config file: the values' config with the listeners, TLS and webhook
the chart manages.
*/}}
{{- define "raygate.config" -}}
{{- $cfg := deepCopy .Values.config -}}
{{- $_ := set $cfg "listen" (printf "0.0.0.0:%d" (int .Values.service.targetPort)) -}}
{{- $_ := set $cfg "metricsListen" (printf "0.0.0.0:%d" (int .Values.metrics.port)) -}}
{{- if .Values.tls.secretName -}}
{{- $_ := set $cfg "tls" (dict "certFile" "/etc/raygate/tls/tls.crt" "keyFile" "/etc/raygate/tls/tls.key") -}}
{{- end -}}
{{- if .Values.webhook.enabled -}}
{{- $exempt := concat (list .Release.Namespace "kube-system") .Values.webhook.exemptNamespaces | uniq -}}
{{- $_ := set $cfg "webhook" (dict "listen" (printf "0.0.0.0:%d" (int .Values.webhook.port)) "tls" (dict "certFile" "/etc/raygate/webhook-tls/tls.crt" "keyFile" "/etc/raygate/webhook-tls/tls.key") "exemptNamespaces" $exempt) -}}
{{- end -}}
{{- range $k, $v := $cfg -}}
{{- if kindIs "invalid" $v -}}{{- $_ := unset $cfg $k -}}{{- end -}}
{{- end -}}
{{- toYaml $cfg -}}
{{- end -}}

{{/* raygate's read access for discovery (.slices: EndpointSlices too). */}}
{{- define "raygate.discoveryRules" -}}
# Informers: list and watch only. RayClusters and their head Services
# (and EndpointSlices) are what discovery reads.
- apiGroups: [ray.io]
  resources: [rayclusters]
  verbs: [list, watch]
- apiGroups: [""]
  resources: [services]
  verbs: [list, watch]
{{- if .slices }}
- apiGroups: [discovery.k8s.io]
  resources: [endpointslices]
  verbs: [list, watch]
{{- end }}
# KubeRay's Ray token Secrets. raygate lists and watches only Secrets
# labelled ray.io/cluster, but RBAC cannot restrict a watch by label: this
# rule allows reading every Secret in scope. Narrow the scope with
# config.discovery.kubernetes.namespaces (a Role per namespace).
- apiGroups: [""]
  resources: [secrets]
  verbs: [list, watch]
{{- end }}
