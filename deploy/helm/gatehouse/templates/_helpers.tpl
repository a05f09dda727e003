{{/*
Named templates shared by the chart's manifests. values.yaml documents each value they read.
*/}}

{{/* The chart's name, or nameOverride. */}}
{{- define "gatehouse.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The full resource name: fullnameOverride, else the release name followed by the chart's unless it contains it. */}}
{{- define "gatehouse.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* Labels on every resource. */}}
{{- define "gatehouse.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "gatehouse.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* Labels the Service and the PodDisruptionBudget select the server's pods by. */}}
{{- define "gatehouse.selectorLabels" -}}
app.kubernetes.io/name: {{ include "gatehouse.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* The ServiceAccount the server's pods run as. */}}
{{- define "gatehouse.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "gatehouse.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The image reference: the tag defaults to the chart's appVersion. */}}
{{- define "gatehouse.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/*
The environment of every Gatehouse container (server and migrations Job): the same configuration, so `migrate`
passes the same production checks as `serve`. SECRET_KEY and DATABASE_URL only ever come from Secrets.
*/}}
{{/*
TRUST_PROXY: as set; when unset, 1 behind the chart's own Ingress with a ClusterIP Service (the controller is then
the only way in, and the one proxy) and 0 otherwise, so a client reaching a LoadBalancer or NodePort Service
directly cannot choose its address with X-Forwarded-For.
*/}}
{{- define "gatehouse.trustProxy" -}}
{{- if kindIs "invalid" .Values.trustProxy -}}
{{- if and .Values.ingress.enabled (eq .Values.service.type "ClusterIP") }}1{{ else }}0{{ end -}}
{{- else -}}
{{- .Values.trustProxy -}}
{{- end -}}
{{- end }}

{{/* The server's first administrator (values bootstrapAdmin): in the Deployment only, where its Secret is mounted. */}}
{{- define "gatehouse.bootstrapEnv" -}}
{{- with .Values.bootstrapAdmin }}
{{- if .email }}
- name: BOOTSTRAP_ADMIN_EMAIL
  value: {{ .email | quote }}
- name: BOOTSTRAP_ADMIN_PASSWORD_FILE
  value: /run/secrets/gatehouse-bootstrap/password
{{- end }}
{{- end }}
{{- end }}

{{- define "gatehouse.env" -}}
- name: NODE_ENV
  value: {{ .Values.nodeEnv | quote }}
- name: ISSUER
  value: {{ required "issuer is required: the public https URL of Gatehouse, e.g. --set issuer=https://auth.example.com" .Values.issuer | quote }}
- name: PORT
  value: {{ .Values.containerPort | quote }}
- name: HOST
  value: "0.0.0.0"
- name: TRUST_PROXY
  value: {{ include "gatehouse.trustProxy" . | quote }}
- name: LOG_LEVEL
  value: {{ .Values.logLevel | quote }}
- name: SECRET_KEY
  valueFrom:
    secretKeyRef:
      name: {{ .Values.secretKey.secretName | quote }}
      key: {{ .Values.secretKey.key | quote }}
- name: DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ .Values.databaseUrl.secretName | quote }}
      key: {{ .Values.databaseUrl.key | quote }}
{{- range $name, $value := .Values.env }}
- name: {{ $name }}
  value: {{ $value | quote }}
{{- end }}
{{- with .Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* The pod-level settings the server and the migrations Job share. */}}
{{- define "gatehouse.podCommon" -}}
automountServiceAccountToken: false
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}
