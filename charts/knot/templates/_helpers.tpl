{{/* Names: the release name when it contains "knot", else <release>-knot. */}}
{{- define "knot.fullname" -}}
{{- if contains "knot" .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-knot" .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "knot.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: knot
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end -}}

{{/* Selector labels of one component: (dict "root" $ "component" "edge"). */}}
{{- define "knot.selector" -}}
app.kubernetes.io/name: knot-{{ .component }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- end -}}

{{- define "knot.componentLabels" -}}
{{ include "knot.labels" .root }}
{{ include "knot.selector" . }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "knot.image" -}}
{{- printf "%s%s:%s" .root.Values.image.prefix .component (default .root.Chart.AppVersion .root.Values.image.tag) -}}
{{- end -}}

{{- define "knot.internalSecretName" -}}
{{- default (printf "%s-internal" (include "knot.fullname" .)) .Values.secrets.existingSecret -}}
{{- end -}}

{{- define "knot.databaseSecretName" -}}
{{- if and .Values.database.existingSecret (not .Values.database.bundled.enabled) -}}
{{- .Values.database.existingSecret -}}
{{- else -}}
{{- printf "%s-database" (include "knot.fullname" .) -}}
{{- end -}}
{{- end -}}

{{- define "knot.databaseKeys" -}}
{{- if and .Values.database.existingSecret (not .Values.database.bundled.enabled) -}}
{{- toYaml .Values.database.keys -}}
{{- else -}}
{host: host, port: port, username: username, password: password, dbname: dbname}
{{- end -}}
{{- end -}}

{{/* A secret value made once: the value already in the cluster, else a new random one. (dict "root" $ "name" secretName "key" key) */}}
{{- define "knot.keptRandom" -}}
{{- $existing := lookup "v1" "Secret" .root.Release.Namespace .name -}}
{{- if and $existing $existing.data (hasKey $existing.data .key) -}}
{{- index $existing.data .key | b64dec -}}
{{- else -}}
{{- randAlphaNum 48 -}}
{{- end -}}
{{- end -}}

{{/* Whether cert-manager makes the webhook's certificate. */}}
{{- define "knot.webhookCertManager" -}}
{{- $mode := toString .Values.userSpaces.webhook.certManager -}}
{{- if eq $mode "true" -}}true
{{- else if eq $mode "false" -}}
{{- else if .Capabilities.APIVersions.Has "cert-manager.io/v1" -}}true
{{- end -}}
{{- end -}}

{{/* The service names other services and the webhook use. */}}
{{- define "knot.serviceURL" -}}
{{- printf "http://%s-%s:%d" (include "knot.fullname" .root) .component (int .port) -}}
{{- end -}}

{{/* Base URL of an integration: (dict "root" $ "tool" .Values.integrations.x) */}}
{{- define "knot.toolURL" -}}
{{- if .tool.url -}}{{- trimSuffix "/" .tool.url -}}{{- else -}}{{- printf "https://%s.%s" .tool.host .root.Values.domain -}}{{- end -}}
{{- end -}}

{{/* The pod settings of the restricted Pod Security level. */}}
{{- define "knot.containerSecurity" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* The OpenID Connect clients of the enabled integrations, as a YAML list. */}}
{{- define "knot.integrationClients" -}}
{{- $i := .Values.integrations -}}
{{- $list := list -}}
{{- if $i.jupyterhub.enabled -}}
{{- $u := include "knot.toolURL" (dict "root" . "tool" $i.jupyterhub) -}}
{{- $list = append $list (dict "id" "jupyterhub" "name" "JupyterHub" "redirect" (printf "%s/hub/oauth_callback" $u) "logout" (printf "%s/hub/login" $u) "scopes" (list "openid" "profile" "email" "groups" "knot" "offline_access") "claims" true "clientSecret" $i.jupyterhub.clientSecret "existingSecret" $i.jupyterhub.existingSecret) -}}
{{- end -}}
{{- if $i.argoWorkflows.enabled -}}
{{- $u := include "knot.toolURL" (dict "root" . "tool" $i.argoWorkflows) -}}
{{- $list = append $list (dict "id" "argo-workflows" "name" "Argo Workflows" "redirect" (printf "%s/oauth2/callback" $u) "logout" "" "scopes" (list "openid" "profile" "email" "groups") "claims" false "clientSecret" $i.argoWorkflows.clientSecret "existingSecret" $i.argoWorkflows.existingSecret) -}}
{{- end -}}
{{- if $i.harbor.enabled -}}
{{- $u := include "knot.toolURL" (dict "root" . "tool" $i.harbor) -}}
{{- $list = append $list (dict "id" "harbor" "name" "Harbor" "redirect" (printf "%s/c/oidc/callback" $u) "logout" "" "scopes" (list "openid" "profile" "email" "groups" "offline_access") "claims" false "clientSecret" $i.harbor.clientSecret "existingSecret" $i.harbor.existingSecret) -}}
{{- end -}}
{{- if $i.grafana.enabled -}}
{{- $u := include "knot.toolURL" (dict "root" . "tool" $i.grafana) -}}
{{- $list = append $list (dict "id" "grafana" "name" "Grafana" "redirect" (printf "%s/login/generic_oauth" $u) "logout" (printf "%s/login" $u) "scopes" (list "openid" "profile" "email" "groups") "claims" false "clientSecret" $i.grafana.clientSecret "existingSecret" $i.grafana.existingSecret) -}}
{{- end -}}
{{- if $i.gitea.enabled -}}
{{- $u := include "knot.toolURL" (dict "root" . "tool" $i.gitea) -}}
{{- $list = append $list (dict "id" "gitea" "name" "Gitea" "redirect" (printf "%s/user/oauth2/knot/callback" $u) "logout" "" "scopes" (list "openid" "profile" "email" "groups") "claims" false "clientSecret" $i.gitea.clientSecret "existingSecret" $i.gitea.existingSecret) -}}
{{- end -}}
{{- toYaml $list -}}
{{- end -}}

{{/* The users service's view of the integrated tools (docs/integrations.md): each enabled tool's URL, and Harbor's admin and client secret for its API. */}}
{{- define "knot.integrationEnv" -}}
{{- $full := include "knot.fullname" . -}}
{{- $i := .Values.integrations -}}
{{- range $key, $env := dict "jupyterhub" "JUPYTERHUB" "argoWorkflows" "ARGO" "harbor" "HARBOR" "grafana" "GRAFANA" "gitea" "GITEA" }}
{{- $tool := index $i $key }}
{{- if $tool.enabled }}
- name: KNOT_{{ $env }}_URL
  value: {{ include "knot.toolURL" (dict "root" $ "tool" $tool) | quote }}
{{- end }}
{{- end }}
{{- if $i.harbor.enabled }}
- name: KNOT_HARBOR_ADMIN_USERNAME
  value: {{ $i.harbor.admin.username | quote }}
- name: KNOT_HARBOR_ADMIN_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ required "integrations.harbor.admin.existingSecret (a Secret with the Harbor admin's password) is needed with integrations.harbor.enabled" $i.harbor.admin.existingSecret }}
      key: {{ $i.harbor.admin.passwordKey | quote }}
- name: KNOT_HARBOR_CLIENT_SECRET
  valueFrom:
    secretKeyRef:
      name: {{ default (printf "%s-oidc-clients" $full) $i.harbor.existingSecret }}
      key: {{ ternary "client-secret" "harbor" (not (empty $i.harbor.existingSecret)) }}
{{- with $i.harbor.registry }}
- name: KNOT_HARBOR_REGISTRY
  value: {{ splitList "/" . | first | quote }}
{{- end }}
{{- end }}
{{- end -}}

{{- define "knot.edgeTLSSecret" -}}
{{- if eq .Values.edge.tls.mode "existingSecret" -}}
{{- required "edge.tls.existingSecret is needed with edge.tls.mode existingSecret" .Values.edge.tls.existingSecret -}}
{{- else -}}
{{- printf "%s-edge-tls" (include "knot.fullname" .) -}}
{{- end -}}
{{- end -}}
