{{/*
The app.kubernetes.io/name of every object. It is fixed: the Prometheus
scrape job (deploy/prometheus/prometheus.yml) keeps pods by this label.
*/}}
{{- define "transformer.name" -}}
spotify-pixel-transformer
{{- end }}

{{/*
The name of every object: fullnameOverride, else the release name when it
already holds "spotify-pixel-transformer", else
"<release>-spotify-pixel-transformer"; at most 63 characters.
*/}}
{{- define "transformer.fullname" -}}
{{- $name := include "transformer.name" . }}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{/* The labels that select the pods of this release. */}}
{{- define "transformer.selectorLabels" -}}
app.kubernetes.io/name: {{ include "transformer.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* The labels of every object. */}}
{{- define "transformer.labels" -}}
{{ include "transformer.selectorLabels" . }}
app.kubernetes.io/component: transformer
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The ConfigMap that holds destinations.yaml. */}}
{{- define "transformer.configMapName" -}}
{{- .Values.existingConfigMap | default (printf "%s-destinations" (include "transformer.fullname" .)) }}
{{- end }}

{{/* The Secret whose key holds the bearer token for POST /transform. */}}
{{- define "transformer.authSecretName" -}}
{{- .Values.auth.secretName | default (printf "%s-auth" (include "transformer.fullname" .)) }}
{{- end }}

{{/* repository:tag, or repository@digest when a digest is set. */}}
{{- define "transformer.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else if .Values.image.tag }}
{{- printf "%s:%s" .Values.image.repository (toString .Values.image.tag) }}
{{- else }}
{{- .Values.image.repository }}
{{- end }}
{{- end }}

{{/* A number or a percentage ("25%") as an IntOrString field wants it. */}}
{{- define "transformer.intOrPercent" -}}
{{- if hasSuffix "%" . }}{{ . | quote }}{{ else }}{{ int . }}{{ end }}
{{- end }}
