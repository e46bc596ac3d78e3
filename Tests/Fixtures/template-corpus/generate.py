#!/usr/bin/env python3
"""Writes cases.json: the template-value injection and policy corpus read by
Tests/KnotServicesTests/TemplateInjectionTests.swift. Edit the lists here and
run it again; the JSON is what the test reads (exact strings, escapes kept)."""
import json, os

# Values given for VALUE (a string variable). "scalar": it must stay one scalar
# with exactly this text (the plain position may resolve to another type: "plain").
scalar = [
    ("newline-free key", "a: b"),
    ("colon space", "key: value"),
    ("map in flow", "{a: b, c: d}"),
    ("list in flow", "[a, b, c]"),
    ("empty flow map", "{}"),
    ("empty flow list", "[]"),
    ("comment", "# comment"),
    ("value then comment", "x # not a comment"),
    ("document start", "---"),
    ("document start and key", "--- kind: Secret"),
    ("document end", "..."),
    ("anchor", "&a"),
    ("anchor with value", "&anchor value"),
    ("alias", "*a"),
    ("merge key", "<<: *a"),
    ("python tag", "!!python/object:os.system"),
    ("python apply tag", "!!python/object/apply:os.system ['id']"),
    ("binary tag", "!!binary aGVsbG8="),
    ("local tag", "!local value"),
    ("str tag", "!!str 3"),
    ("double quotes", "\"quoted\""),
    ("single quotes", "'single'"),
    ("unbalanced double quote", "\"open"),
    ("unbalanced single quote", "it's"),
    ("escaped newline text", "a\\nkind: Secret"),
    ("backslashes", "C:\\path\\to"),
    ("sequence entry", "- item"),
    ("complex key", "? key"),
    ("literal block indicator", "| block"),
    ("folded block indicator", "> folded"),
    ("directive", "%YAML 1.1"),
    ("reserved at", "@value"),
    ("reserved backtick", "`id`"),
    ("percent", "%"),
    ("pipe alone", "|"),
    ("brace open", "{"),
    ("bracket close", "]"),
    ("comma", "a, b"),
    ("helm expression", "{{ .Values.secret }}"),
    ("shell substitution", "$(id)"),
    ("backtick shell", "`rm -rf /`"),
    ("html", "<script>alert(1)</script>"),
    ("other variable", "$NAMESPACE"),
    ("other braced variable", "${HOSTNAME}"),
    ("itself", "$VALUE"),
    ("unknown variable", "$HOME"),
    ("leading space", " leading"),
    ("trailing space", "trailing "),
    ("only spaces", "   "),
    ("emoji", "café ☕ 数据"),
    ("right to left text", "שלום"),
    ("long 1024", "x" * 1024),
    ("long with indicators", ("a: [b] " * 146)[:1022]),
    ("key equals", "metadata: {namespace: kube-system}"),
    ("namespace override attempt", "x\", namespace: \"kube-system"),
    ("json", "{\"kind\": \"Secret\"}"),
    ("question", "?"),
    ("dash", "-"),
    ("tilde text", "~user"),
]
# Values that re-resolve in the plain position (the quoted positions keep the text).
# "plain" is "type:text" (int, double, bool, null) so the JSON keeps the exact type.
typed = [
    ("integer text", "123", "int:123"),
    ("negative integer", "-5", "int:-5"),
    ("hex", "0x1F", "int:31"),
    ("float", "1.5", "double:1.5"),
    ("exponent", "1e3", "double:1000"),
    ("true", "true", "bool:true"),
    ("false", "false", "bool:false"),
    ("yes", "yes", "bool:true"),
    ("off", "off", "bool:false"),
    ("null word", "null", "null:"),
    ("tilde", "~", "null:"),
    ("empty", "", "null:"),
]
# Values refused before use, with a part of the message.
refused = [
    ("newline then key", "x\nkind: Secret", "control characters"),
    ("newline document", "x\n---\napiVersion: v1\nkind: Secret", "control characters"),
    ("carriage return", "x\rkind: Secret", "control characters"),
    ("crlf", "x\r\nmetadata:", "control characters"),
    ("tab", "a\tb", "control characters"),
    ("nul", "a\u0000b", "control characters"),
    ("escape", "\u001b[31mred", "control characters"),
    ("bell", "\u0007", "control characters"),
    ("delete", "\u007f", "control characters"),
    ("next line", "a\u0085b", "control characters"),
    ("line separator", "a\u2028kind: Secret", "line separator"),
    ("paragraph separator", "a\u2029b", "line separator"),
    ("byte order mark", "\ufeffkind", "control characters"),
    ("right to left override", "a\u202eb", "control characters"),
    ("zero width space", "a\u200bb", "control characters"),
    ("too long", "x" * 1025, "longer than 1024"),
    ("far too long", "y" * 100000, "longer than 1024"),
]

value_cases = []
for name, value in scalar:
    value_cases.append({"name": name, "value": value, "expect": "scalar"})
for name, value, plain in typed:
    value_cases.append({"name": name, "value": value, "expect": "scalar", "plain": plain})
for name, value, message in refused:
    value_cases.append({"name": name, "value": value, "expect": "refused", "message": message})

# Values given to other variables of the corpus template (typed ones, automatic ones).
other_value_cases = [
    {"name": "integer with key", "values": {"REPLICAS": "3\nkind: Secret"}, "message": "REPLICAS contains control characters"},
    {"name": "integer with colon", "values": {"REPLICAS": "3: 4"}, "message": "REPLICAS must be a whole number"},
    {"name": "integer as flow", "values": {"REPLICAS": "[1]"}, "message": "REPLICAS must be a whole number"},
    {"name": "integer as word", "values": {"REPLICAS": "three"}, "message": "REPLICAS must be a whole number"},
    {"name": "integer as float", "values": {"REPLICAS": "1.5"}, "message": "REPLICAS must be a whole number"},
    {"name": "boolean as word", "values": {"DEBUG": "maybe"}, "message": "DEBUG must be true or false"},
    {"name": "boolean as yes", "values": {"DEBUG": "yes"}, "message": "DEBUG must be true or false"},
    {"name": "boolean with key", "values": {"DEBUG": "true\nkind: Secret"}, "message": "DEBUG contains control characters"},
    {"name": "choice outside", "values": {"SIZE": "huge"}, "message": "SIZE must be one of: small, large"},
    {"name": "choice with key", "values": {"SIZE": "small: x"}, "message": "SIZE must be one of"},
    {"name": "automatic HOSTNAME", "values": {"HOSTNAME": "evil.example.com"}, "message": "set by Knot"},
    {"name": "automatic NAMESPACE", "values": {"NAMESPACE": "kube-system"}, "message": "set by Knot"},
    {"name": "automatic PRIVATE", "values": {"PRIVATE": "/"}, "message": "set by Knot"},
    {"name": "automatic SHARED", "values": {"SHARED": "/etc"}, "message": "set by Knot"},
    {"name": "automatic USERNAME", "values": {"USERNAME": "root"}, "message": "set by Knot"},
    {"name": "automatic REGISTRY", "values": {"REGISTRY": "evil.example"}, "message": "set by Knot"},
    {"name": "undeclared", "values": {"OTHER": "x"}, "message": "has no variable OTHER"},
    {"name": "name with colon", "values": {"NAME": "web: x"}, "message": "service name"},
    {"name": "name with newline", "values": {"NAME": "web\nkind: Secret"}, "message": "service name"},
    {"name": "name uppercase", "values": {"NAME": "Web"}, "message": "service name"},
    {"name": "name too long", "values": {"NAME": "a" * 41}, "message": "service name"},
]

POD = "  containers:\n  - name: c\n    image: busybox\n"
def pod(spec_extra="", container_extra="", kind_header="apiVersion: v1\nkind: Pod\nmetadata:\n  name: $NAME\nspec:\n"):
    return kind_header + spec_extra + "  containers:\n  - name: c\n    image: busybox\n" + container_extra
def deployment(pod_extra="", container_extra=""):
    """pod_extra at the pod spec's indentation (6 spaces), container_extra at the container's (8)."""
    return ("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: $NAME\nspec:\n  selector:\n    matchLabels: {app: x}\n"
            "  template:\n    metadata:\n      labels: {app: x}\n    spec:\n" + pod_extra +
            "      containers:\n      - name: c\n        image: busybox\n" + container_extra)
def cronjob(pod_extra):
    return ("apiVersion: batch/v1\nkind: CronJob\nmetadata:\n  name: $NAME\nspec:\n  schedule: '* * * * *'\n  jobTemplate:\n    spec:\n"
            "      template:\n        spec:\n          restartPolicy: Never\n" + pod_extra +
            "          containers:\n          - name: c\n            image: busybox\n")
def simple(api, kind, extra=""):
    return f"apiVersion: {api}\nkind: {kind}\nmetadata:\n  name: $NAME\n{extra}"
def hostpath(path):
    return pod(spec_extra=f"  volumes:\n  - name: h\n    hostPath:\n      path: {path}\n",
               container_extra="    volumeMounts:\n    - name: h\n      mountPath: /h\n")

templates = [
    # Other namespaces.
    ("pod in kube-system", pod(kind_header="apiVersion: v1\nkind: Pod\nmetadata:\n  name: $NAME\n  namespace: kube-system\nspec:\n"), "own namespace"),
    ("configmap in default", simple("v1", "ConfigMap", "data: {a: b}\n").replace("name: $NAME", "name: $NAME\n  namespace: default"), "own namespace"),
    ("service in another user's", simple("v1", "Service", "spec:\n  ports: [{port: 80}]\n").replace("name: $NAME", "name: $NAME\n  namespace: knot-bob"), "own namespace"),
    ("secret in knot-system", simple("v1", "Secret").replace("name: $NAME", "name: $NAME\n  namespace: knot-system"), "own namespace"),
    # RBAC and cluster kinds.
    ("cluster role", simple("rbac.authorization.k8s.io/v1", "ClusterRole", "rules: [{apiGroups: ['*'], resources: ['*'], verbs: ['*']}]\n"), "no cluster access"),
    ("cluster role binding", simple("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}\nsubjects: [{kind: ServiceAccount, name: default, namespace: $NAMESPACE}]\n"), "no cluster access"),
    ("role", simple("rbac.authorization.k8s.io/v1", "Role", "rules: []\n"), "no cluster access"),
    ("role binding", simple("rbac.authorization.k8s.io/v1", "RoleBinding", "roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: admin}\nsubjects: [{kind: ServiceAccount, name: default}]\n"), "no cluster access"),
    ("namespace", simple("v1", "Namespace"), "no cluster access"),
    ("persistent volume", simple("v1", "PersistentVolume", "spec:\n  capacity: {storage: 1Gi}\n  accessModes: [ReadWriteOnce]\n  hostPath: {path: /}\n"), "no cluster access"),
    ("custom resource definition", simple("apiextensions.k8s.io/v1", "CustomResourceDefinition"), "no cluster access"),
    ("storage class", simple("storage.k8s.io/v1", "StorageClass", "provisioner: x\n"), "no cluster access"),
    ("priority class", simple("scheduling.k8s.io/v1", "PriorityClass", "value: 1000000000\n"), "no cluster access"),
    ("mutating webhook", simple("admissionregistration.k8s.io/v1", "MutatingWebhookConfiguration"), "no cluster access"),
    ("validating webhook", simple("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration"), "no cluster access"),
    ("api service", simple("apiregistration.k8s.io/v1", "APIService"), "no cluster access"),
    ("network policy", simple("networking.k8s.io/v1", "NetworkPolicy", "spec: {podSelector: {}}\n"), "no cluster access"),
    ("resource quota", simple("v1", "ResourceQuota", "spec: {hard: {pods: '1000'}}\n"), "no cluster access"),
    ("limit range", simple("v1", "LimitRange"), "no cluster access"),
    ("node", simple("v1", "Node"), "no cluster access"),
    ("certificate signing request", simple("certificates.k8s.io/v1", "CertificateSigningRequest"), "no cluster access"),
    ("ingress class", simple("networking.k8s.io/v1", "IngressClass"), "no cluster access"),
    ("runtime class", simple("node.k8s.io/v1", "RuntimeClass", "handler: runc\n"), "no cluster access"),
    ("token review", simple("authentication.k8s.io/v1", "TokenReview"), "no cluster access"),
    ("subject access review", simple("authorization.k8s.io/v1", "SubjectAccessReview"), "no cluster access"),
    # Kinds not on the allowed list.
    ("daemon set", "apiVersion: apps/v1\nkind: DaemonSet\nmetadata:\n  name: $NAME\nspec:\n  selector: {matchLabels: {a: b}}\n  template:\n    metadata: {labels: {a: b}}\n    spec:\n      containers: [{name: c, image: busybox}]\n", "allowed kinds"),
    ("replica set", "apiVersion: apps/v1\nkind: ReplicaSet\nmetadata:\n  name: $NAME\nspec:\n  selector: {matchLabels: {a: b}}\n  template:\n    metadata: {labels: {a: b}}\n    spec:\n      containers: [{name: c, image: busybox}]\n", "allowed kinds"),
    ("horizontal pod autoscaler", simple("autoscaling/v2", "HorizontalPodAutoscaler"), "allowed kinds"),
    ("pod disruption budget", simple("policy/v1", "PodDisruptionBudget"), "allowed kinds"),
    ("endpoints", simple("v1", "Endpoints"), "allowed kinds"),
    ("lease", simple("coordination.k8s.io/v1", "Lease"), "allowed kinds"),
    ("custom kind", simple("evil.example.com/v1", "Backdoor"), "allowed kinds"),
    ("deployment in another group", simple("evil.example.com/v1", "Deployment"), "allowed kinds"),
    ("pod in another group", simple("example.com/v1", "Pod", "spec:\n" + POD), "allowed kinds"),
    ("replication controller", "apiVersion: v1\nkind: ReplicationController\nmetadata:\n  name: $NAME\nspec:\n  template:\n    spec:\n      containers: [{name: c, image: busybox}]\n", "allowed kinds"),
    # Host paths.
    ("host path root", hostpath("/"), "host paths"),
    ("host path etc", hostpath("/etc"), "host paths"),
    ("host path docker socket", hostpath("/var/run/docker.sock"), "host paths"),
    ("host path kubelet", hostpath("/var/lib/kubelet"), "host paths"),
    ("host path escape from private", hostpath("$PRIVATE/../bob"), "host paths"),
    ("host path escape from shared", hostpath("$SHARED/../private/bob"), "host paths"),
    ("host path dot dot only", hostpath("$PRIVATE/.."), "host paths"),
    ("host path sibling prefix", hostpath("$PRIVATE-other"), "host paths"),
    ("host path another user's", hostpath("/data/private/bob"), "host paths"),
    ("host path relative", hostpath("data/private/ada"), "host paths"),
    ("host path empty", hostpath("''"), "host paths"),
    ("host path proc", hostpath("/proc/1/root"), "host paths"),
    ("host path in deployment", deployment("      volumes:\n      - {name: h, hostPath: {path: /etc}}\n"), "host paths"),
    ("host path in cron job", cronjob("          volumes:\n          - {name: h, hostPath: {path: /}}\n"), "host paths"),
    ("nfs volume", pod(spec_extra="  volumes:\n  - {name: n, nfs: {server: nfs.example, path: /exports}}\n"), "volumes"),
    # Privilege.
    ("privileged container", pod(container_extra="    securityContext: {privileged: true}\n"), "privileged"),
    ("privileged in deployment", deployment(container_extra="        securityContext: {privileged: true}\n"), "privileged"),
    ("privileged init container", pod(spec_extra="  initContainers:\n  - name: i\n    image: busybox\n    securityContext: {privileged: true}\n"), "privileged"),
    ("privileged ephemeral container", pod(spec_extra="  ephemeralContainers:\n  - name: e\n    image: busybox\n    securityContext: {privileged: true}\n"), "privileged"),
    ("privileged in cron job", cronjob("").replace("image: busybox\n", "image: busybox\n            securityContext: {privileged: true}\n"), "privileged"),
    ("host network", pod(spec_extra="  hostNetwork: true\n"), "host namespaces"),
    ("host pid", pod(spec_extra="  hostPID: true\n"), "host namespaces"),
    ("host ipc", pod(spec_extra="  hostIPC: true\n"), "host namespaces"),
    ("host network in deployment", deployment("      hostNetwork: true\n"), "host namespaces"),
    ("host pid in cron job", cronjob("          hostPID: true\n"), "host namespaces"),
    ("capability sys admin", pod(container_extra="    securityContext: {capabilities: {add: [SYS_ADMIN]}}\n"), "capabilities"),
    ("capability net admin", pod(container_extra="    securityContext: {capabilities: {add: [NET_ADMIN]}}\n"), "capabilities"),
    ("capability all", pod(container_extra="    securityContext: {capabilities: {add: [ALL]}}\n"), "capabilities"),
    ("capability with prefix", pod(container_extra="    securityContext: {capabilities: {add: [CAP_SYS_PTRACE]}}\n"), "capabilities"),
    ("capability lowercase", pod(container_extra="    securityContext: {capabilities: {add: [sys_module]}}\n"), "capabilities"),
    ("capability after a default one", pod(container_extra="    securityContext: {capabilities: {add: [CHOWN, BPF]}}\n"), "capabilities"),
    ("host port", pod(container_extra="    ports: [{containerPort: 80, hostPort: 80}]\n"), "host ports"),
    ("host port in init container", pod(spec_extra="  initContainers:\n  - name: i\n    image: busybox\n    ports: [{containerPort: 22, hostPort: 2222}]\n"), "host ports"),
    ("host port in deployment", deployment(container_extra="        ports: [{containerPort: 53, hostPort: 53, protocol: UDP}]\n"), "host ports"),
    # Ingresses.
    ("ingress to another host", "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: $NAME\nspec:\n  rules:\n  - host: knot.localhost\n    http:\n      paths:\n      - {path: /, pathType: Prefix, backend: {service: {name: $NAME, port: {number: 80}}}}\n", "ingress host"),
    ("ingress to another user's host", "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: $NAME\nspec:\n  rules:\n  - host: $NAME-bob.knot.localhost\n    http:\n      paths:\n      - {path: /, pathType: Prefix, backend: {service: {name: $NAME, port: {number: 80}}}}\n", "ingress host"),
    ("old ingress to another host", "apiVersion: extensions/v1beta1\nkind: Ingress\nmetadata:\n  name: $NAME\nspec:\n  rules:\n  - host: evil.example.com\n    http:\n      paths:\n      - path: /\n        backend: {serviceName: $NAME, servicePort: 80}\n", "ingress host"),
    ("ingress tls for another host", "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: $NAME\nspec:\n  tls: [{hosts: [login.knot.localhost], secretName: s}]\n  rules:\n  - host: $HOSTNAME\n    http:\n      paths:\n      - {path: /, pathType: Prefix, backend: {service: {name: $NAME, port: {number: 80}}}}\n", "ingress host"),
    ("ingress server snippet", "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: $NAME\n  annotations:\n    nginx.ingress.kubernetes.io/server-snippet: 'location / { return 200; }'\nspec:\n  rules:\n  - host: $HOSTNAME\n    http:\n      paths:\n      - {path: /, pathType: Prefix, backend: {service: {name: $NAME, port: {number: 80}}}}\n", "ingress annotations"),
    ("ingress configuration snippet", "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: $NAME\n  annotations:\n    nginx.ingress.kubernetes.io/configuration-snippet: 'more_set_headers x'\nspec:\n  rules:\n  - host: $HOSTNAME\n    http:\n      paths:\n      - {path: /, pathType: Prefix, backend: {service: {name: $NAME, port: {number: 80}}}}\n", "ingress annotations"),
    # Malformed.
    ("an object twice", simple("v1", "ConfigMap") + "---\n" + simple("v1", "ConfigMap"), "names"),
    ("a pod without containers", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: $NAME\nspec:\n  containers: []\n", "pod spec"),
    ("an object without a name", "apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n", "names"),
]

# Templates that must be accepted, with what the policy turns them into.
accepted = [
    {"name": "host path of the private folder becomes its claim", "yaml": hostpath("$PRIVATE"), "claim": "knot-private", "subPath": ""},
    {"name": "host path below the private folder becomes a sub path", "yaml": hostpath("$PRIVATE/notebooks"), "claim": "knot-private", "subPath": "notebooks"},
    {"name": "host path of the shared folder becomes its claim", "yaml": hostpath("$SHARED/"), "claim": "knot-shared", "subPath": ""},
    {"name": "a default capability may be added", "yaml": pod(container_extra="    securityContext: {capabilities: {add: [NET_BIND_SERVICE]}}\n")},
    {"name": "an ingress for the service's own host", "yaml": "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: $NAME\nspec:\n  rules:\n  - host: $HOSTNAME\n    http:\n      paths:\n      - {path: /, pathType: Prefix, backend: {service: {name: $NAME, port: {number: 80}}}}\n---\n" + simple("v1", "Service", "spec:\n  ports: [{port: 80}]\n")},
]

corpus = {
    "values": value_cases,
    "otherValues": other_value_cases,
    "templates": [{"name": n, "yaml": y, "rule": r} for n, y, r in templates],
    "accepted": accepted,
}
here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "cases.json"), "w", encoding="utf-8") as out:
    json.dump(corpus, out, indent=1, ensure_ascii=True)
    out.write("\n")
print(len(value_cases) + len(other_value_cases) + len(templates) + len(accepted), "cases")
