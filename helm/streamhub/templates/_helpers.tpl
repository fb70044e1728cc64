{{/* Labels of every object of a component; the selector is their stable subset. */}}
{{- define "streamhub.selector" -}}
app.kubernetes.io/name: streamhub
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- with .group }}
streamhub.io/capture-group: {{ . }}
{{- end }}
{{- end }}

{{- define "streamhub.labels" -}}
{{ include "streamhub.selector" . }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version }}
{{- end }}

{{/* The registry URL: settings.registry_url, else this chart's registry Service. */}}
{{- define "streamhub.registryUrl" -}}
{{- if hasKey .Values.settings "registry_url" -}}
{{ .Values.settings.registry_url }}
{{- else if .Values.registry.enabled -}}
{{ printf "http://%s-registry:%v" .Release.Name .Values.registry.port }}
{{- else -}}
{{ fail "settings.registry_url is needed when registry.enabled is false" }}
{{- end -}}
{{- end }}

{{/* Checks every process's settings share: Kafka named, no credential in a value. */}}
{{- define "streamhub.checkSettings" -}}
{{- $s := .Values.settings -}}
{{- if not $s.kafka_bootstrap -}}
{{ fail "settings.kafka_bootstrap is required: the Kafka cluster's host:port[,host:port]" }}
{{- end -}}
{{- if contains "@" (toString (default "" $s.clickhouse_dsn)) -}}
{{ fail "settings.clickhouse_dsn holds credentials: put the DSN in the Secret as clickhouse_dsn and set secrets.clickhouseDsn: true" }}
{{- end -}}
{{- end }}

{{/* Environment of every process: settings as STREAMHUB_<KEY>, the pod's paths, probe port. */}}
{{- define "streamhub.env" -}}
{{- $root := .root -}}
{{- $own := dict -}}
{{- range .env }}{{ $_ := set $own .name true }}{{ end -}}
- name: STREAMHUB_DATA_DIR
  value: /var/lib/streamhub
- name: STREAMHUB_PROJECT_DIR
  value: {{ $root.Values.image.projectDir | quote }}
- name: STREAMHUB_METRICS_HOST
  value: "0.0.0.0"
- name: STREAMHUB_PROBE_PORT
  value: {{ $root.Values.ports.probe | quote }}
- name: STREAMHUB_REGISTRY_URL
  value: {{ include "streamhub.registryUrl" $root | quote }}
{{- range $key, $value := $root.Values.settings }}
{{- $name := printf "STREAMHUB_%s" (upper $key) }}
{{- if and (not (kindIs "invalid" $value)) (ne $key "registry_url") (not (hasKey $own $name)) (not (and (eq $key "clickhouse_dsn") $root.Values.secrets.clickhouseDsn)) }}
- name: {{ $name }}
  value: {{ $value | toString | quote }}
{{- end }}
{{- end }}
{{- if $root.Values.secrets.clickhouseDsn }}
- name: STREAMHUB_CLICKHOUSE_DSN
  valueFrom:
    secretKeyRef: {name: {{ $root.Values.secrets.existingSecret }}, key: clickhouse_dsn}
{{- end }}
{{- if .connectors }}
- name: STREAMHUB_CONNECTORS_DIR
  value: /etc/streamhub/connectors
{{- end }}
{{- with .env }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* The lander and the web app need a ClickHouse server, not the embedded engine. */}}
{{- define "streamhub.needsClickHouseServer" -}}
{{- if not .Values.secrets.clickhouseDsn -}}
{{- if not (regexMatch "^https?://" (toString (default "" .Values.settings.clickhouse_dsn))) -}}
{{ fail (printf "%s needs settings.clickhouse_dsn = http(s)://host:8123 (a ClickHouse server; the embedded chDB engine cannot be shared between pods)" .component) }}
{{- end -}}
{{- end -}}
{{- end }}

{{/* A Deployment running one streamhub command. Keys of the dict:
     root, component, name, group, replicas, args, secretKeys (keys of secrets.existingSecret
     mounted as files under <data_dir>/secrets), connectors (mount every group's connector
     files), env, volumes, mounts, httpPort (a server whose own path answers the probes),
     probePath, singleton (Recreate: never two at once), spread (pair on distinct nodes),
     values (the component's block), annotations. */}}
{{- define "streamhub.deployment" -}}
{{- $root := .root -}}
{{- include "streamhub.checkSettings" $root -}}
{{- $values := .values -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .name }}
  labels:
    {{- include "streamhub.labels" . | nindent 4 }}
spec:
  replicas: {{ .replicas }}
  revisionHistoryLimit: 3
  {{- if .singleton }}
  strategy: {type: Recreate}   # never two at once
  {{- end }}
  selector:
    matchLabels:
      {{- include "streamhub.selector" . | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "streamhub.labels" . | nindent 8 }}
      {{- with .annotations }}
      annotations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
    spec:
      terminationGracePeriodSeconds: 60   # SIGTERM: finish the batch in hand, commit, leave the group
      {{- with $root.Values.image.pullSecrets }}
      imagePullSecrets:
        {{- range . }}
        - name: {{ . }}
        {{- end }}
      {{- end }}
      securityContext:
        runAsNonRoot: true
        runAsUser: 10001
        runAsGroup: 10001
        fsGroup: 10001
      {{- with $values.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $values.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- if .spread }}
      affinity:
        podAntiAffinity:   # the agents of a group on distinct nodes: one node lost, one agent left
          preferredDuringSchedulingIgnoredDuringExecution:
            - weight: 100
              podAffinityTerm:
                topologyKey: kubernetes.io/hostname
                labelSelector:
                  matchLabels:
                    {{- include "streamhub.selector" . | nindent 20 }}
      {{- end }}
      containers:
        - name: {{ .component }}
          image: "{{ $root.Values.image.repository }}:{{ $root.Values.image.tag }}"
          imagePullPolicy: {{ $root.Values.image.pullPolicy }}
          args:
            {{- range concat .args (default list $values.extraArgs) }}
            - {{ . | toString | quote }}
            {{- end }}
          env:
            {{- include "streamhub.env" . | nindent 12 }}
          ports:
            {{- if .httpPort }}
            - {name: http, containerPort: {{ .httpPort }}}
            {{- else }}
            - {name: metrics, containerPort: {{ $root.Values.ports.metrics }}}
            - {name: probe, containerPort: {{ $root.Values.ports.probe }}}
            {{- end }}
          {{- if .httpPort }}
          livenessProbe:
            tcpSocket: {port: http}
            periodSeconds: 10
            failureThreshold: 6
          readinessProbe:
            httpGet: {path: {{ .probePath }}, port: http}
            periodSeconds: 5
            failureThreshold: 2
          {{- else }}
          # /livez: every loop turned within 300 s (else stuck: restart);
          # /readyz: turned within 30 s and Kafka (ClickHouse for the lander) answers
          livenessProbe:
            httpGet: {path: /livez, port: probe}
            periodSeconds: 10
            timeoutSeconds: 3
            failureThreshold: 3
          readinessProbe:
            httpGet: {path: /readyz, port: probe}
            periodSeconds: 5
            timeoutSeconds: 3
            failureThreshold: 2
          {{- end }}
          resources:
            {{- toYaml $values.resources | nindent 12 }}
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities: {drop: [ALL]}
          volumeMounts:
            - {name: data, mountPath: /var/lib/streamhub}
            - {name: tmp, mountPath: /tmp}
            {{- if .secretKeys }}
            - {name: secrets, mountPath: /var/lib/streamhub/secrets, readOnly: true}
            {{- end }}
            {{- if .connectors }}
            - {name: connectors, mountPath: /etc/streamhub/connectors, readOnly: true}
            {{- end }}
            {{- with .mounts }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
      volumes:
        - name: data
          emptyDir: {}
        - name: tmp
          emptyDir: {}
        {{- if .secretKeys }}
        - name: secrets
          secret:
            secretName: {{ $root.Values.secrets.existingSecret }}
            defaultMode: 0440
            items:
              {{- range .secretKeys }}
              - {key: {{ . }}, path: {{ . }}}
              {{- end }}
        {{- end }}
        {{- if .connectors }}
        - name: connectors
          {{- if $root.Values.capture.groups }}
          projected:
            sources:
              {{- range $root.Values.capture.groups }}
              - configMap: {name: {{ printf "%s-connectors-%s" $root.Release.Name .name }}}
              {{- end }}
          {{- else }}
          emptyDir: {}
          {{- end }}
        {{- end }}
        {{- with .volumes }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
{{- end }}

{{/* A PodDisruptionBudget for a component (or a capture group). */}}
{{- define "streamhub.pdb" -}}
{{- with .values.podDisruptionBudget }}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ $.name }}
  labels:
    {{- include "streamhub.labels" $ | nindent 4 }}
spec:
  maxUnavailable: {{ .maxUnavailable }}
  selector:
    matchLabels:
      {{- include "streamhub.selector" $ | nindent 6 }}
{{- end }}
{{- end }}

{{/* A Service exposing a worker's /metrics (for the ServiceMonitor; job label = its job). */}}
{{- define "streamhub.metricsService" -}}
---
apiVersion: v1
kind: Service
metadata:
  name: {{ printf "%s-%s-metrics" .root.Release.Name .component }}
  labels:
    {{- include "streamhub.labels" . | nindent 4 }}
    streamhub.io/job: {{ printf "streamhub-%s" .component }}
    streamhub.io/scrape: "true"
spec:
  clusterIP: None   # one target per pod
  selector:
    {{- include "streamhub.selector" . | nindent 4 }}
  ports:
    - {name: metrics, port: {{ .root.Values.ports.metrics }}, targetPort: metrics}
{{- end }}

{{/* The pseudonym keys a process needs: the person-key ring (or its single key), the identity key. */}}
{{- define "streamhub.pseudonymKeys" -}}
{{- if .Values.secrets.pseudonymRing -}}
pseudonym_keys
{{- else -}}
pseudonym_key
{{- end -}}
{{- end }}
