{{/*
Chart name, truncated to the 63 characters Kubernetes allows in a name.
*/}}
{{- define "stagepass.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name of the release's objects: the release name, plus the chart name
unless the release name already contains it.
*/}}
{{- define "stagepass.fullname" -}}
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

{{- define "stagepass.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Labels on every object.
*/}}
{{- define "stagepass.labels" -}}
helm.sh/chart: {{ include "stagepass.chart" . }}
{{ include "stagepass.selectorLabels" . }}
app.kubernetes.io/version: {{ (.Values.image.tag | default .Chart.AppVersion) | trunc 63 | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/*
Selector labels: stable for the life of a release (a Deployment's selector is immutable).
*/}}
{{- define "stagepass.selectorLabels" -}}
app.kubernetes.io/name: {{ include "stagepass.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "stagepass.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "stagepass.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
The image reference: repository@digest, or repository:tag (tag defaults to appVersion).
*/}}
{{- define "stagepass.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion | toString) }}
{{- end }}
{{- end }}

{{/*
Name of the Secret stagepass reads environment variables from ("" for none).
*/}}
{{- define "stagepass.secretName" -}}
{{- if .Values.secret.create }}
{{- include "stagepass.fullname" . }}
{{- else }}
{{- .Values.secret.existingSecret }}
{{- end }}
{{- end }}

{{/*
The effective stagepass config: .Values.config with the listen addresses (and
the upstream, when set) filled in by the chart, so that the probes, the
Service and the config agree.
*/}}
{{- define "stagepass.config" -}}
{{- $config := deepCopy (.Values.config | default dict) }}
{{- $stagepass := get $config "stagepass" | default dict }}
{{- $_ := set $stagepass "listen" (printf "%s:%v" .Values.listenAddress .Values.ports.http) }}
{{- $admin := get $stagepass "admin" | default dict }}
{{- $_ := set $admin "listen" (printf "%s:%v" .Values.listenAddress .Values.ports.admin) }}
{{- $_ := set $stagepass "admin" $admin }}
{{- if .Values.upstream }}
{{- $_ := set $stagepass "upstream" .Values.upstream }}
{{- end }}
{{- $redisUrl := include "stagepass.redisUrl" . }}
{{- if $redisUrl }}
{{- $sessions := get $stagepass "sessions" | default dict }}
{{- $store := get $sessions "store" | default dict }}
{{- $redis := get $store "redis" | default dict }}
{{- $_ := set $redis "url" $redisUrl }}
{{- $_ := set $store "redis" $redis }}
{{- $_ := set $sessions "store" $store }}
{{- $_ := set $stagepass "sessions" $sessions }}
{{- end }}
{{- $_ := set $config "stagepass" $stagepass }}
{{- toYaml $config }}
{{- end }}

{{/*
The session store's URL: sessionStore.url, or the chart's own Redis.
*/}}
{{- define "stagepass.redisUrl" -}}
{{- if .Values.sessionStore.url }}
{{- .Values.sessionStore.url }}
{{- else if .Values.sessionStore.deployRedis }}
{{- printf "redis://%s-redis:6379" (include "stagepass.fullname" .) }}
{{- end }}
{{- end }}

{{/*
The chart's own Redis pods: labels of their own, so neither the stagepass
Service nor its PodDisruptionBudget selects them.
*/}}
{{- define "stagepass.redisSelectorLabels" -}}
app.kubernetes.io/name: {{ include "stagepass.name" . }}-redis
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: session-store
{{- end }}
