"""Validation (422 Invalid) and defaulting, with the field paths and messages of the real API server.

`validate(kind, obj, old)` returns a list of causes (field, reason, message); an empty
list means the object is valid. `apply_defaults(kind, obj)` fills the fields the real
API server defaults, so objects read back look like a cluster's.
"""
import base64
import json
import re

from .errors import bad_request
from .selectors import from_label_selector_object
from .util import parse_quantity

DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
DNS1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
CONFIG_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")

SUBDOMAIN_MSG = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
                 "and must start and end with an alphanumeric character (e.g. 'example.com', regex used for "
                 "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
LABEL_MSG = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must "
             "start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for "
             "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')")
DNS1035_MSG = ("a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
               "alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', "
               "regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')")
QUALIFIED_MSG = ("name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with "
                 "an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
                 "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')")
LABEL_VALUE_MSG = ("a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', "
                   "and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or "
                   "'12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')")
CONFIG_KEY_MSG = ("a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  "
                  "or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')")
QUANTITY_MSG = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"


def go_value(value):
    """How field.Invalid prints a value (Go's %#v for strings and numbers, JSON-ish otherwise)."""
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, dict) and all(isinstance(v, str) for v in value.values()):
        return "map[string]string{" + ", ".join("%s:%s" % (json.dumps(k), json.dumps(v))
                                                for k, v in sorted(value.items())) + "}"
    return json.dumps(value, sort_keys=True)


class Causes(list):
    def required(self, field, detail=""):
        self.append((field, "FieldValueRequired", "Required value" + (": " + detail if detail else "")))

    def invalid(self, field, value, detail):
        self.append((field, "FieldValueInvalid", "Invalid value: %s: %s" % (go_value(value), detail)))

    def duplicate(self, field, value):
        self.append((field, "FieldValueDuplicate", "Duplicate value: %s" % go_value(value)))

    def unsupported(self, field, value, supported):
        self.append((field, "FieldValueNotSupported", "Unsupported value: %s: supported values: %s" % (
            go_value(value), ", ".join(json.dumps(s) for s in supported))))

    def forbidden(self, field, detail):
        self.append((field, "FieldValueForbidden", "Forbidden: " + detail))

    def not_found(self, field, value):
        self.append((field, "FieldValueNotFound", "Not found: %s" % go_value(value)))

    def too_long(self, field, limit):
        self.append((field, "FieldValueTooLong", "Too long: must have at most %d bytes" % limit))


def check_dns_label(c, field, value):
    if not isinstance(value, str) or not value:
        c.required(field)
        return
    if len(value) > 63:
        c.invalid(field, value, "must be no more than 63 characters")
    if not DNS1123_LABEL.match(value):
        c.invalid(field, value, LABEL_MSG)


def check_subdomain(c, field, value):
    if len(value) > 253:
        c.invalid(field, value, "must be no more than 253 characters")
    if not DNS1123_SUBDOMAIN.match(value):
        c.invalid(field, value, SUBDOMAIN_MSG)


def check_name(c, kind, name, field="metadata.name", prefix=False):
    """metadata.name (or a generateName prefix, which may end in '-')."""
    if kind.names == "path":
        if name in (".", ".."):
            c.invalid(field, name, 'may not be \'%s\'' % name)
        for ch in "/%":
            if ch in name:
                c.invalid(field, name, "may not contain '%s'" % ch)
        return
    # generateName may end in '-': the real server checks it with the dash masked as a letter.
    value = name[:-1] + "a" if prefix and name.endswith("-") else name
    if kind.names in ("label", "dns1035"):
        if len(value) > 63:
            c.invalid(field, name, "must be no more than 63 characters")
        regex, msg = (DNS1123_LABEL, LABEL_MSG) if kind.names == "label" else (DNS1035_LABEL, DNS1035_MSG)
        if not regex.match(value):
            c.invalid(field, name, msg)
        return
    if len(value) > 253:
        c.invalid(field, name, "must be no more than 253 characters")
    if not DNS1123_SUBDOMAIN.match(value):
        c.invalid(field, name, SUBDOMAIN_MSG)


def check_qualified_name(c, field, key):
    if not isinstance(key, str):
        c.invalid(field, key, "must be a string")
        return
    prefix, slash, name = key.rpartition("/")
    if slash:
        if not prefix:
            c.invalid(field, key, "prefix part must be non-empty")
        elif len(prefix) > 253:
            c.invalid(field, key, "prefix part must be no more than 253 characters")
        elif not DNS1123_SUBDOMAIN.match(prefix):
            c.invalid(field, key, "prefix part " + SUBDOMAIN_MSG)
    if not name:
        c.invalid(field, key, "name part must be non-empty")
    elif len(name) > 63:
        c.invalid(field, key, "name part must be no more than 63 characters")
    elif not QUALIFIED_NAME.match(name):
        c.invalid(field, key, QUALIFIED_MSG)


def check_labels(c, field, labels):
    if labels is None:
        return
    if not isinstance(labels, dict):
        c.invalid(field, labels, "must be a map of strings")
        return
    for k, v in labels.items():
        check_qualified_name(c, field, k)
        if not isinstance(v, str):
            # The real server fails earlier, while decoding.
            raise bad_request("json: cannot unmarshal %s into Go struct field ObjectMeta.metadata.labels of type "
                              "string" % ("number" if isinstance(v, (int, float)) else type(v).__name__))
        if len(v) > 63:
            c.invalid(field, v, "must be no more than 63 characters")
        elif not LABEL_VALUE.match(v):
            c.invalid(field, v, LABEL_VALUE_MSG)


def check_annotations(c, annotations):
    if annotations is None:
        return
    if not isinstance(annotations, dict):
        c.invalid("metadata.annotations", annotations, "must be a map of strings")
        return
    total = 0
    for k, v in annotations.items():
        check_qualified_name(c, "metadata.annotations", k.lower() if isinstance(k, str) else k)
        total += len(k) + len(v if isinstance(v, str) else "")
    if total > 262144:
        c.too_long("metadata.annotations", 262144)


def check_quantity(value, field):
    if parse_quantity(value) is None:
        raise bad_request("%s: %s" % (field, QUANTITY_MSG) if field else QUANTITY_MSG)


def check_selector_object(c, field, sel):
    if not isinstance(sel, dict):
        c.invalid(field, sel, "must be a label selector")
        return
    check_labels(c, field + ".matchLabels", sel.get("matchLabels"))
    for i, e in enumerate(sel.get("matchExpressions") or []):
        f = "%s.matchExpressions[%d]" % (field, i)
        op = e.get("operator")
        if op not in ("In", "NotIn", "Exists", "DoesNotExist"):
            c.unsupported(f + ".operator", op, ["In", "NotIn", "Exists", "DoesNotExist"])
        elif op in ("In", "NotIn") and not e.get("values"):
            c.required(f + ".values", "must be specified when `operator` is 'In' or 'NotIn'")
        elif op in ("Exists", "DoesNotExist") and e.get("values"):
            c.forbidden(f + ".values", "may not be specified when `operator` is 'Exists' or 'DoesNotExist'")
        check_qualified_name(c, f + ".key", e.get("key", ""))


# ---- metadata ----------------------------------------------------------------------------------

def validate_meta(c, kind, obj):
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        c.required("metadata")
        return
    name = meta.get("name")
    if not name:
        c.required("metadata.name", "name or generateName is required")
    elif not isinstance(name, str):
        c.invalid("metadata.name", name, "must be a string")
    else:
        check_name(c, kind, name)
    check_labels(c, "metadata.labels", meta.get("labels"))
    check_annotations(c, meta.get("annotations"))
    controllers = 0
    for i, ref in enumerate(meta.get("ownerReferences") or []):
        f = "metadata.ownerReferences"
        if not ref.get("apiVersion"):
            c.invalid(f + ".apiVersion", ref.get("apiVersion", ""), "version must not be empty")
        if not ref.get("kind"):
            c.invalid(f + ".kind", ref.get("kind", ""), "kind must not be empty")
        if not ref.get("name"):
            c.invalid(f + ".name", ref.get("name", ""), "name must not be empty")
        if not ref.get("uid"):
            c.invalid(f + ".uid", ref.get("uid", ""), "uid must not be empty")
        if ref.get("controller"):
            controllers += 1
    if controllers > 1:
        c.invalid("metadata.ownerReferences", meta.get("ownerReferences"),
                  "Only one reference can have Controller set to true")
    for i, f in enumerate(meta.get("finalizers") or []):
        if not isinstance(f, str) or ("/" not in f and f not in ("kubernetes", "orphan", "foregroundDeletion")):
            if isinstance(f, str):
                check_qualified_name(c, "metadata.finalizers[%d]" % i, f)


# ---- pods and templates ------------------------------------------------------------------------

def validate_resources(c, field, resources):
    if not resources:
        return
    limits = resources.get("limits") or {}
    requests = resources.get("requests") or {}
    for section, values in (("limits", limits), ("requests", requests)):
        for name, q in values.items():
            check_quantity(q, "%s.%s[%s]" % (field, section, name))
    for name, q in requests.items():
        if name in limits and parse_quantity(q) > parse_quantity(limits[name]):
            c.invalid("%s.requests" % field, q, "must be less than or equal to %s limit of %s" % (name, limits[name]))


def validate_containers(c, field, containers, volumes, required=True):
    if not containers:
        if required:
            c.required(field)
        return
    if not isinstance(containers, list):
        c.invalid(field, containers, "must be a list")
        return
    names = set()
    for i, ctr in enumerate(containers):
        f = "%s[%d]" % (field, i)
        if not isinstance(ctr, dict):
            c.invalid(f, ctr, "must be an object")
            continue
        name = ctr.get("name")
        if not name:
            c.required(f + ".name")
        else:
            check_dns_label(c, f + ".name", name)
            if name in names:
                c.duplicate(f + ".name", name)
            names.add(name)
        if not ctr.get("image") or not str(ctr.get("image")).strip():
            c.required(f + ".image")
        ports = set()
        for j, p in enumerate(ctr.get("ports") or []):
            pf = "%s.ports[%d]" % (f, j)
            cp = p.get("containerPort")
            if not isinstance(cp, int) or not 1 <= cp <= 65535:
                c.invalid(pf + ".containerPort", cp if cp is not None else 0, "must be between 1 and 65535, inclusive")
            proto = p.get("protocol", "TCP")
            if proto not in ("TCP", "UDP", "SCTP"):
                c.unsupported(pf + ".protocol", proto, ["SCTP", "TCP", "UDP"])
            if (cp, proto) in ports:
                c.duplicate(pf, "%s/%s" % (cp, proto))
            ports.add((cp, proto))
            if p.get("name"):
                if len(p["name"]) > 15 or not DNS1123_LABEL.match(p["name"]) or not re.search("[a-z]", p["name"]):
                    c.invalid(pf + ".name", p["name"], "must be no more than 15 characters and an IANA_SVC_NAME")
        for j, e in enumerate(ctr.get("env") or []):
            if not e.get("name"):
                c.required("%s.env[%d].name" % (f, j))
        for j, m in enumerate(ctr.get("volumeMounts") or []):
            mf = "%s.volumeMounts[%d]" % (f, j)
            if not m.get("name"):
                c.required(mf + ".name")
            elif m["name"] not in volumes:
                c.not_found(mf + ".name", m["name"])
            if not m.get("mountPath"):
                c.required(mf + ".mountPath")
        validate_resources(c, f + ".resources", ctr.get("resources"))
        policy = ctr.get("imagePullPolicy")
        if policy is not None and policy not in ("Always", "IfNotPresent", "Never"):
            c.unsupported(f + ".imagePullPolicy", policy, ["Always", "IfNotPresent", "Never"])


def validate_pod_spec(c, field, spec, restart_policies=("Always", "OnFailure", "Never")):
    if not isinstance(spec, dict):
        c.required(field)
        return
    volumes = set()
    for i, v in enumerate(spec.get("volumes") or []):
        f = "%s.volumes[%d]" % (field, i)
        name = v.get("name")
        if not name:
            c.required(f + ".name")
            continue
        check_dns_label(c, f + ".name", name)
        if name in volumes:
            c.duplicate(f + ".name", name)
        volumes.add(name)
    validate_containers(c, field + ".containers", spec.get("containers"), volumes)
    validate_containers(c, field + ".initContainers", spec.get("initContainers"), volumes, required=False)
    policy = spec.get("restartPolicy", "Always")
    if policy not in restart_policies:
        c.unsupported(field + ".restartPolicy", policy, list(restart_policies))
    if spec.get("serviceAccountName"):
        check_subdomain(c, field + ".serviceAccountName", spec["serviceAccountName"])


def validate_template(c, field, template, selector=None, restart_policies=("Always",)):
    if not isinstance(template, dict):
        c.required(field)
        return
    labels = (template.get("metadata") or {}).get("labels") or {}
    check_labels(c, field + ".metadata.labels", labels)
    if selector is not None and isinstance(selector, dict):
        sel = from_label_selector_object(selector)
        if not sel.empty and not sel.matches(labels):
            c.invalid(field + ".metadata.labels", labels, "`selector` does not match template `labels`")
    validate_pod_spec(c, field + ".spec", template.get("spec"), restart_policies)


def validate_workload(c, kind, obj, old):
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        c.required("spec")
        return
    selector = spec.get("selector")
    if selector is None:
        c.required("spec.selector")
    else:
        check_selector_object(c, "spec.selector", selector)
        if not selector.get("matchLabels") and not selector.get("matchExpressions"):
            c.invalid("spec.selector", selector, "empty selector is invalid for %s" % kind.singular)
    replicas = spec.get("replicas")
    if replicas is not None and (not isinstance(replicas, int) or replicas < 0):
        c.invalid("spec.replicas", replicas, "must be greater than or equal to 0")
    validate_template(c, "spec.template", spec.get("template"), selector)
    if old is not None and (old.get("spec") or {}).get("selector") != selector:
        c.invalid("spec.selector", selector, "field is immutable")
    if kind.kind == "StatefulSet" and old is not None:
        allowed = {"replicas", "ordinals", "template", "updateStrategy", "persistentVolumeClaimRetentionPolicy",
                   "minReadySeconds"}
        a = {k: v for k, v in spec.items() if k not in allowed}
        b = {k: v for k, v in (old.get("spec") or {}).items() if k not in allowed}
        if a != b:
            c.forbidden("spec", "updates to statefulset spec for fields other than 'replicas', 'ordinals', "
                        "'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and "
                        "'minReadySeconds' are forbidden")


def validate_job(c, obj, old):
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        c.required("spec")
        return
    for f in ("parallelism", "completions", "backoffLimit"):
        v = spec.get(f)
        if v is not None and (not isinstance(v, int) or v < 0):
            c.invalid("spec." + f, v, "must be greater than or equal to 0")
    validate_template(c, "spec.template", spec.get("template"), spec.get("selector"),
                      restart_policies=("OnFailure", "Never"))
    if old is not None:
        o = old.get("spec") or {}
        if o.get("selector") != spec.get("selector"):
            c.invalid("spec.selector", spec.get("selector"), "field is immutable")
        if o.get("template") != spec.get("template"):
            c.invalid("spec.template", spec.get("template"), "field is immutable")
        if o.get("completions") != spec.get("completions"):
            c.invalid("spec.completions", spec.get("completions"), "field is immutable")


def validate_pod(c, obj, old):
    validate_pod_spec(c, "spec", obj.get("spec"))
    if old is not None:
        a = json.loads(json.dumps(obj.get("spec") or {}))
        b = json.loads(json.dumps(old.get("spec") or {}))
        for spec in (a, b):
            for ctr in spec.get("containers") or []:
                ctr.pop("image", None)
            spec.pop("activeDeadlineSeconds", None)
            spec.pop("tolerations", None)
        if a != b:
            c.forbidden("spec", "pod updates may not change fields other than `spec.containers[*].image`,"
                        "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only "
                        "additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be "
                        "set to 1 if it was previously negative)")


def validate_service(c, obj, old):
    spec = obj.get("spec") or {}
    stype = spec.get("type", "ClusterIP")
    if stype not in ("ClusterIP", "NodePort", "LoadBalancer", "ExternalName"):
        c.unsupported("spec.type", stype, ["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"])
    ports = spec.get("ports") or []
    if not ports and stype != "ExternalName" and spec.get("clusterIP") != "None":
        c.required("spec.ports")
    names = set()
    for i, p in enumerate(ports):
        f = "spec.ports[%d]" % i
        if len(ports) > 1 and not p.get("name"):
            c.required(f + ".name")
        if p.get("name"):
            check_dns_label(c, f + ".name", p["name"])
            if p["name"] in names:
                c.duplicate(f + ".name", p["name"])
            names.add(p["name"])
        port = p.get("port")
        if not isinstance(port, int) or not 1 <= port <= 65535:
            c.invalid(f + ".port", port if port is not None else 0, "must be between 1 and 65535, inclusive")
        proto = p.get("protocol", "TCP")
        if proto not in ("TCP", "UDP", "SCTP"):
            c.unsupported(f + ".protocol", proto, ["SCTP", "TCP", "UDP"])
    selector = spec.get("selector")
    if selector:
        check_labels(c, "spec.selector", selector)
    if old is not None:
        before = (old.get("spec") or {}).get("clusterIP")
        if before and spec.get("clusterIP") not in (None, "", before):
            c.invalid("spec.clusterIPs[0]", [spec.get("clusterIP")], "may not change once set")


def validate_data_keys(c, obj, fields):
    size = 0
    for field in fields:
        data = obj.get(field)
        if data is None:
            continue
        if not isinstance(data, dict):
            c.invalid(field, data, "must be a map")
            continue
        for k, v in data.items():
            if not CONFIG_KEY.match(k) or k in (".", ".."):
                c.invalid("%s[%s]" % (field, k), k, CONFIG_KEY_MSG if CONFIG_KEY.match(k) is None else
                          "must not be '.' or '..'")
            if len(k) > 253:
                c.invalid("%s[%s]" % (field, k), k, "must be no more than 253 characters")
            size += len(v) if isinstance(v, str) else 0
    return size


def validate_configmap(c, obj, old):
    size = validate_data_keys(c, obj, ("data", "binaryData"))
    for k in (obj.get("binaryData") or {}):
        if k in (obj.get("data") or {}):
            c.invalid("data[%s]" % k, k, "duplicate of key present in binaryData")
    if size > 1048576:
        c.too_long("", 1048576)
    _check_immutable(c, obj, old, ("data", "binaryData"))


def validate_secret(c, obj, old):
    size = validate_data_keys(c, obj, ("data",))
    if size > 1048576:
        c.too_long("data", 1048576)
    stype = obj.get("type", "Opaque")
    data = obj.get("data") or {}
    if stype == "kubernetes.io/tls":
        for k in ("tls.crt", "tls.key"):
            if k not in data:
                c.required("data[%s]" % k)
    elif stype == "kubernetes.io/dockerconfigjson" and ".dockerconfigjson" not in data:
        c.required("data[.dockerconfigjson]")
    if old is not None and old.get("type", "Opaque") != stype:
        c.invalid("type", stype, "field is immutable")
    _check_immutable(c, obj, old, ("data",))


def _check_immutable(c, obj, old, fields):
    if old is None or not old.get("immutable"):
        return
    for f in fields:
        if (old.get(f) or {}) != (obj.get(f) or {}):
            c.forbidden(f, "field is immutable when `immutable` is set")
    if not obj.get("immutable"):
        c.forbidden("immutable", "field is immutable when `immutable` is set")


def validate_pvc(c, obj, old):
    spec = obj.get("spec") or {}
    if not spec.get("accessModes"):
        c.required("spec.accessModes", "at least 1 access mode is required")
    for i, m in enumerate(spec.get("accessModes") or []):
        if m not in ("ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod"):
            c.unsupported("spec.accessModes", m, ["ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce",
                                                  "ReadWriteOncePod"])
    storage = ((spec.get("resources") or {}).get("requests") or {}).get("storage")
    if storage is None:
        c.required("spec.resources[storage]")
    else:
        check_quantity(storage, "spec.resources.requests[storage]")
    if old is not None:
        a = {k: v for k, v in spec.items() if k not in ("resources", "volumeAttributesClassName", "volumeName")}
        b = {k: v for k, v in (old.get("spec") or {}).items()
             if k not in ("resources", "volumeAttributesClassName", "volumeName")}
        if a != b:
            c.forbidden("spec", "spec is immutable after creation except resources.requests and "
                        "volumeAttributesClassName for bound claims")


VOLUME_SOURCES = {"hostPath", "nfs", "local", "csi", "iscsi", "fc", "gcePersistentDisk", "awsElasticBlockStore",
                  "azureDisk", "azureFile", "cephfs", "rbd", "cinder", "glusterfs", "flexVolume", "vsphereVolume",
                  "portworxVolume", "scaleIO", "storageos", "quobyte", "photonPersistentDisk", "flocker"}


def validate_pv(c, obj, old):
    spec = obj.get("spec") or {}
    storage = (spec.get("capacity") or {}).get("storage")
    if storage is None:
        c.required("spec.capacity")
    else:
        check_quantity(storage, "spec.capacity[storage]")
    if not spec.get("accessModes"):
        c.required("spec.accessModes")
    if not any(k in spec for k in VOLUME_SOURCES):
        c.required("spec", "must specify a volume type")
    policy = spec.get("persistentVolumeReclaimPolicy", "Retain")
    if policy not in ("Retain", "Delete", "Recycle"):
        c.unsupported("spec.persistentVolumeReclaimPolicy", policy, ["Delete", "Recycle", "Retain"])


def validate_quota(c, obj, old):
    for name, q in ((obj.get("spec") or {}).get("hard") or {}).items():
        check_quantity(q, "spec.hard[%s]" % name)


def validate_role(c, obj, old):
    for i, rule in enumerate(obj.get("rules") or []):
        f = "rules[%d]" % i
        if not rule.get("verbs"):
            c.required(f + ".verbs", "verbs must contain at least one value")
        if not rule.get("nonResourceURLs") and not rule.get("resources") and "apiGroups" in rule:
            pass
        if rule.get("nonResourceURLs") and obj.get("kind") == "Role":
            c.invalid(f + ".nonResourceURLs", rule["nonResourceURLs"],
                      "namespaced rules cannot apply to non-resource URLs")


def validate_binding(c, obj, old, namespaced):
    ref = obj.get("roleRef")
    if not isinstance(ref, dict):
        c.required("roleRef")
    else:
        allowed = ["ClusterRole", "Role"] if namespaced else ["ClusterRole"]
        if ref.get("kind") not in allowed:
            c.unsupported("roleRef.kind", ref.get("kind", ""), allowed)
        if not ref.get("name"):
            c.required("roleRef.name")
        if ref.get("apiGroup") != "rbac.authorization.k8s.io":
            c.unsupported("roleRef.apiGroup", ref.get("apiGroup", ""), ["rbac.authorization.k8s.io"])
    for i, s in enumerate(obj.get("subjects") or []):
        f = "subjects[%d]" % i
        if s.get("kind") not in ("ServiceAccount", "User", "Group"):
            c.unsupported(f + ".kind", s.get("kind", ""), ["Group", "ServiceAccount", "User"])
        if not s.get("name"):
            c.required(f + ".name")
        if s.get("kind") == "ServiceAccount" and not namespaced and not s.get("namespace"):
            c.required(f + ".namespace")
    if old is not None and old.get("roleRef") != obj.get("roleRef"):
        c.invalid("roleRef", obj.get("roleRef"), "cannot change roleRef")


def validate_ingress(c, obj, old):
    for i, rule in enumerate((obj.get("spec") or {}).get("rules") or []):
        for j, p in enumerate(((rule.get("http") or {}).get("paths")) or []):
            f = "spec.rules[%d].http.paths[%d]" % (i, j)
            if not p.get("pathType"):
                c.required(f + ".pathType", "pathType must be specified")
            elif p["pathType"] not in ("Exact", "Prefix", "ImplementationSpecific"):
                c.unsupported(f + ".pathType", p["pathType"], ["Exact", "ImplementationSpecific", "Prefix"])
            if not p.get("backend"):
                c.required(f + ".backend")


def validate_crd(c, obj, old):
    spec = obj.get("spec") or {}
    names = spec.get("names") or {}
    group = spec.get("group", "")
    if not group:
        c.required("spec.group")
    elif "." not in group:
        c.invalid("spec.group", group, "should be a domain with at least one dot")
    if not names.get("plural"):
        c.required("spec.names.plural")
    elif not DNS1123_LABEL.match(names["plural"]):
        c.invalid("spec.names.plural", names["plural"], LABEL_MSG)
    if not names.get("kind"):
        c.required("spec.names.kind")
    name = (obj.get("metadata") or {}).get("name", "")
    if names.get("plural") and group and name != names["plural"] + "." + group:
        c.invalid("metadata.name", name, 'must be spec.names.plural+"."+spec.group')
    if spec.get("scope") not in ("Namespaced", "Cluster"):
        c.unsupported("spec.scope", spec.get("scope", ""), ["Cluster", "Namespaced"])
    versions = spec.get("versions") or []
    if not versions:
        c.required("spec.versions", "must have exactly one version marked as storage version")
    elif sum(1 for v in versions if v.get("storage")) != 1:
        c.invalid("spec.versions", versions and [v.get("name") for v in versions],
                  "must have exactly one version marked as storage version")
    for i, v in enumerate(versions):
        if not v.get("name"):
            c.required("spec.versions[%d].name" % i)
        elif not DNS1035_LABEL.match(v["name"]):
            c.invalid("spec.versions[%d].name" % i, v["name"], DNS1035_MSG)
    if old is not None:
        o = old.get("spec") or {}
        if o.get("scope") != spec.get("scope"):
            c.invalid("spec.scope", spec.get("scope"), "field is immutable")
        if o.get("group") != spec.get("group"):
            c.invalid("spec.group", spec.get("group"), "field is immutable")


def validate_event(c, obj, old):
    inv = obj.get("involvedObject") or {}
    ns = (obj.get("metadata") or {}).get("namespace")
    if inv.get("namespace") and ns and inv["namespace"] != ns:
        c.invalid("involvedObject.namespace", inv["namespace"], "does not match event.namespace")
    if obj.get("type") and obj["type"] not in ("Normal", "Warning"):
        c.unsupported("type", obj["type"], ["Normal", "Warning"])


def validate(kind, obj, old=None):
    c = Causes()
    validate_meta(c, kind, obj)
    k = kind.kind if not kind.is_custom else None
    if k in ("Deployment", "ReplicaSet", "StatefulSet"):
        validate_workload(c, kind, obj, old)
    elif k == "Job":
        validate_job(c, obj, old)
    elif k == "Pod":
        validate_pod(c, obj, old)
    elif k == "Service":
        validate_service(c, obj, old)
    elif k == "ConfigMap":
        validate_configmap(c, obj, old)
    elif k == "Secret":
        validate_secret(c, obj, old)
    elif k == "PersistentVolumeClaim":
        validate_pvc(c, obj, old)
    elif k == "PersistentVolume":
        validate_pv(c, obj, old)
    elif k == "ResourceQuota":
        validate_quota(c, obj, old)
    elif k in ("Role", "ClusterRole"):
        validate_role(c, obj, old)
    elif k in ("RoleBinding", "ClusterRoleBinding"):
        validate_binding(c, obj, old, k == "RoleBinding")
    elif k == "Ingress":
        validate_ingress(c, obj, old)
    elif k == "CustomResourceDefinition":
        validate_crd(c, obj, old)
    elif k == "Event":
        validate_event(c, obj, old)
    return c


# ---- defaulting -------------------------------------------------------------------------------

def _default_container(ctr):
    image = str(ctr.get("image") or "")
    last = image.rsplit("/", 1)[-1]
    if "imagePullPolicy" not in ctr:
        tagged = ":" in last and not last.endswith(":latest")
        ctr["imagePullPolicy"] = "IfNotPresent" if (tagged or "@" in image) else "Always"
    ctr.setdefault("terminationMessagePath", "/dev/termination-log")
    ctr.setdefault("terminationMessagePolicy", "File")
    ctr.setdefault("resources", {})
    for p in ctr.get("ports") or []:
        if isinstance(p, dict):
            p.setdefault("protocol", "TCP")


def default_pod_spec(spec):
    if not isinstance(spec, dict):
        return
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")
    for field in ("containers", "initContainers"):
        for ctr in spec.get(field) or []:
            if isinstance(ctr, dict):
                _default_container(ctr)


def apply_defaults(kind, obj):
    if kind.is_custom:
        return
    k = kind.kind
    spec = obj.get("spec")
    if k == "Deployment" and isinstance(spec, dict):
        spec.setdefault("replicas", 1)
        spec.setdefault("revisionHistoryLimit", 10)
        spec.setdefault("progressDeadlineSeconds", 600)
        strategy = spec.setdefault("strategy", {})
        strategy.setdefault("type", "RollingUpdate")
        if strategy["type"] == "RollingUpdate":
            ru = strategy.setdefault("rollingUpdate", {})
            ru.setdefault("maxUnavailable", "25%")
            ru.setdefault("maxSurge", "25%")
        default_pod_spec((spec.get("template") or {}).get("spec"))
    elif k == "StatefulSet" and isinstance(spec, dict):
        spec.setdefault("replicas", 1)
        spec.setdefault("podManagementPolicy", "OrderedReady")
        spec.setdefault("revisionHistoryLimit", 10)
        us = spec.setdefault("updateStrategy", {"type": "RollingUpdate"})
        if us.get("type") == "RollingUpdate":
            us.setdefault("rollingUpdate", {"partition": 0})
        spec.setdefault("persistentVolumeClaimRetentionPolicy", {"whenDeleted": "Retain", "whenScaled": "Retain"})
        for t in spec.get("volumeClaimTemplates") or []:
            if isinstance(t, dict):
                t.setdefault("apiVersion", "v1")
                t.setdefault("kind", "PersistentVolumeClaim")
                (t.get("spec") or {}).setdefault("volumeMode", "Filesystem")
        default_pod_spec((spec.get("template") or {}).get("spec"))
    elif k == "ReplicaSet" and isinstance(spec, dict):
        spec.setdefault("replicas", 1)
        default_pod_spec((spec.get("template") or {}).get("spec"))
    elif k == "Job" and isinstance(spec, dict):
        spec.setdefault("parallelism", 1)
        spec.setdefault("completions", 1)
        spec.setdefault("backoffLimit", 6)
        spec.setdefault("completionMode", "NonIndexed")
        spec.setdefault("suspend", False)
        spec.setdefault("podReplacementPolicy", "TerminatingOrFailed")
        default_pod_spec((spec.get("template") or {}).get("spec"))
    elif k == "Pod":
        default_pod_spec(spec)
        if isinstance(spec, dict):
            spec.setdefault("enableServiceLinks", True)
            spec.setdefault("serviceAccountName", "default")
            spec.setdefault("serviceAccount", spec["serviceAccountName"])
            spec.setdefault("priority", 0)
            spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
            spec.setdefault("tolerations", [
                {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute",
                 "tolerationSeconds": 300},
                {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute",
                 "tolerationSeconds": 300}])
    elif k == "Service" and isinstance(spec, dict):
        spec.setdefault("type", "ClusterIP")
        spec.setdefault("sessionAffinity", "None")
        if spec["type"] != "ExternalName":
            spec.setdefault("internalTrafficPolicy", "Cluster")
            spec.setdefault("ipFamilies", ["IPv4"])
            spec.setdefault("ipFamilyPolicy", "SingleStack")
        for p in spec.get("ports") or []:
            if isinstance(p, dict):
                p.setdefault("protocol", "TCP")
                if "port" in p:
                    p.setdefault("targetPort", p["port"])
    elif k == "PersistentVolumeClaim" and isinstance(spec, dict):
        spec.setdefault("volumeMode", "Filesystem")
    elif k == "PersistentVolume" and isinstance(spec, dict):
        spec.setdefault("persistentVolumeReclaimPolicy", "Retain")
        spec.setdefault("volumeMode", "Filesystem")
    elif k == "Secret":
        obj.setdefault("type", "Opaque")
    elif k == "Namespace":
        meta = obj.setdefault("metadata", {})
        labels = meta.setdefault("labels", {})
        if meta.get("name"):
            labels["kubernetes.io/metadata.name"] = meta["name"]
        obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
    elif k in ("RoleBinding", "ClusterRoleBinding"):
        for s in obj.get("subjects") or []:
            if isinstance(s, dict) and s.get("kind") in ("User", "Group"):
                s.setdefault("apiGroup", "rbac.authorization.k8s.io")
    elif k == "CustomResourceDefinition" and isinstance(spec, dict):
        names = spec.get("names") or {}
        if names.get("kind"):
            names.setdefault("singular", names["kind"].lower())
            names.setdefault("listKind", names["kind"] + "List")
        spec.setdefault("conversion", {"strategy": "None"})


def normalize_secret(obj):
    """Secrets: stringData is merged into data (base64) on write; data must be base64 (400 otherwise)."""
    data = obj.get("data")
    if data is not None and not isinstance(data, dict):
        raise bad_request("json: cannot unmarshal %s into Go struct field Secret.data of type map[string][]uint8"
                          % type(data).__name__)
    for k, v in (data or {}).items():
        if v is None:
            continue
        if not isinstance(v, str):
            raise bad_request("json: cannot unmarshal number into Go struct field Secret.data of type []uint8")
        try:
            base64.b64decode(v, validate=True)
        except Exception:
            raise bad_request("illegal base64 data at input byte %d" % _bad_b64_offset(v))
    string_data = obj.pop("stringData", None)
    if string_data:
        data = obj.setdefault("data", {}) if obj.get("data") is not None else obj.setdefault("data", {})
        for k, v in string_data.items():
            data[k] = base64.b64encode(str(v).encode()).decode()


def _bad_b64_offset(text):
    allowed = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=")
    for i, ch in enumerate(text):
        if ch not in allowed:
            return i
    return len(text)
