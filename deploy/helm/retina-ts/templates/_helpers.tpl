{{/* Namespace of every namespaced object: Retina's `namespace` value, else the release namespace. */}}
{{- define "retina.namespace" -}}
{{- default .Release.Namespace .Values.namespace -}}
{{- end -}}

{{- define "retina.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "retina.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name (include "retina.name" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Labels every object carries. */}}
{{- define "retina.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/part-of: retina-ts
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* Selector labels of the agent pods (k8s-app: retina as Retina's, so its PodMonitors and queries match). */}}
{{- define "retina.agentSelector" -}}
k8s-app: {{ include "retina.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Labels of agent objects: the common ones plus the selector's own. */}}
{{- define "retina.agentLabels" -}}
{{ include "retina.labels" . }}
k8s-app: {{ include "retina.name" . }}
{{- end -}}

{{- define "retina.operatorSelector" -}}
control-plane: {{ .Values.operator.name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "retina.operatorLabels" -}}
{{ include "retina.labels" . }}
control-plane: {{ .Values.operator.name }}
{{- end -}}

{{- define "retina.agentImage" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "retina.agentImageWindows" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag -}}
{{- printf "%s:%s" .Values.image.repository (default (printf "%s-windows" $tag) .Values.image.windowsTag) -}}
{{- end -}}

{{- define "retina.operatorImage" -}}
{{- printf "%s:%s" .Values.operator.repository (default .Chart.AppVersion .Values.operator.tag) -}}
{{- end -}}

{{/*
A plugin list as a JSON array. Accepts what Retina's values hold (a JSON list in a string) as well as a YAML list or
a comma-separated string.
*/}}
{{- define "retina.pluginList" -}}
{{- $v := . -}}
{{- if kindIs "string" $v -}}
{{- $s := trim $v -}}
{{- if hasPrefix "[" $s -}}
{{- $s | fromJsonArray | toJson -}}
{{- else if eq $s "" -}}
[]
{{- else -}}
{{- $items := list -}}
{{- range (splitList "," $s) }}{{ $items = append $items (trim .) }}{{ end -}}
{{- $items | toJson -}}
{{- end -}}
{{- else if kindIs "slice" $v -}}
{{- $v | toJson -}}
{{- else -}}
[]
{{- end -}}
{{- end -}}

{{/* Whether the Hubble control plane is on (controlPlane: hubble). */}}
{{- define "retina.hubble" -}}
{{- if eq (toString .Values.controlPlane) "hubble" -}}true{{- end -}}
{{- end -}}

{{/* The Hubble listener's port, from hubble.listenAddress (":4244"). */}}
{{- define "retina.hubblePort" -}}
{{- $parts := splitList ":" (toString .Values.hubble.listenAddress) -}}
{{- default "4244" (last $parts) -}}
{{- end -}}

{{- define "retina.hubblePeerServicePort" -}}
{{- if .Values.hubble.peerService.servicePort -}}
{{- .Values.hubble.peerService.servicePort -}}
{{- else if .Values.hubble.tls.enabled -}}
443
{{- else -}}
80
{{- end -}}
{{- end -}}

{{/* Probe timing fields, from a dict of overrides merged over defaults. */}}
{{- define "retina.probeOverrides" -}}
{{- $lines := list -}}
{{- range $k := list "initialDelaySeconds" "periodSeconds" "timeoutSeconds" "failureThreshold" "successThreshold" -}}
{{- if hasKey $ $k -}}{{- $lines = append $lines (printf "%s: %v" $k (index $ $k)) -}}{{- end -}}
{{- end -}}
{{- join "\n" $lines -}}
{{- end -}}

{{/* Security context of the agent and its init container: root with the listed capabilities, or privileged. */}}
{{- define "retina.agentSecurityContext" -}}
runAsUser: 0
{{- if .Values.securityContext.privileged }}
privileged: true
{{- else }}
privileged: false
capabilities:
  add:
    {{- toYaml .Values.securityContext.capabilities.add | nindent 4 }}
{{- end }}
{{- end -}}
