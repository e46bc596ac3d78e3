"""meta.k8s.io/v1 Table answers (what `kubectl get` prints), with the columns the real server uses."""
import re
import time

from .selectors import selector_object_to_string
from .util import age, human_duration, parse_rfc3339

DESCRIPTIONS = {"Name": "Name must be unique within a namespace. Is required when creating resources, although "
                        "some resources may allow a client to request the generation of an appropriate name "
                        "automatically. Name is primarily intended for creation idempotence and configuration "
                        "definition. Cannot be updated. More info: "
                        "https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names",
                "Age": "CreationTimestamp is a timestamp representing the server time when this object was created."}


def col(name, type_="string", priority=0, fmt=None):
    d = {"name": name, "type": type_, "format": fmt or ("name" if name == "Name" else ""),
         "description": DESCRIPTIONS.get(name, name), "priority": priority}
    return d


def _none(v):
    return v if v not in (None, "", []) else "<none>"


def _containers(obj, path=("spec", "template", "spec")):
    spec = obj
    for p in path:
        spec = (spec or {}).get(p) or {}
    cs = spec.get("containers") or []
    return ",".join(c.get("name", "") for c in cs), ",".join(c.get("image", "") for c in cs)


def _pod_cells(pod, now):
    status = pod.get("status") or {}
    spec = pod.get("spec") or {}
    total = len(spec.get("containers") or [])
    reason = status.get("reason") or status.get("phase") or "Unknown"
    ready = restarts = 0
    running = False
    last_restart = None
    for cs in reversed(status.get("containerStatuses") or []):
        restarts += cs.get("restartCount", 0)
        finished = ((cs.get("lastState") or {}).get("terminated") or {}).get("finishedAt")
        if finished:
            t = parse_rfc3339(finished)
            last_restart = t if last_restart is None or t > last_restart else last_restart
        state = cs.get("state") or {}
        if (state.get("waiting") or {}).get("reason"):
            reason = state["waiting"]["reason"]
        elif (state.get("terminated") or {}).get("reason"):
            reason = state["terminated"]["reason"]
        elif state.get("terminated"):
            reason = "ExitCode:%d" % state["terminated"].get("exitCode", 0)
        elif cs.get("ready") and state.get("running"):
            running = True
            ready += 1
    if reason == "Completed" and running:
        reason = "Running"
    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        reason = "Terminating"
    restarts_text = str(restarts)
    if restarts and last_restart:
        restarts_text = "%d (%s ago)" % (restarts, human_duration(now - last_restart))
    return ["%d/%d" % (ready, total), reason, restarts_text, age(pod, now), _none(status.get("podIP")),
            _none(spec.get("nodeName")), "<none>", "<none>"]


def _ports(svc):
    out = []
    for p in (svc.get("spec") or {}).get("ports") or []:
        text = str(p.get("port"))
        if p.get("nodePort"):
            text += ":%d" % p["nodePort"]
        out.append("%s/%s" % (text, p.get("protocol", "TCP")))
    return ",".join(out) or "<none>"


def _external_ip(svc):
    spec = svc.get("spec") or {}
    if spec.get("type") == "ExternalName":
        return spec.get("externalName", "<none>")
    ips = list(spec.get("externalIPs") or [])
    if spec.get("type") == "LoadBalancer":
        ingress = ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
        ips += [i.get("ip") or i.get("hostname") for i in ingress]
        return ",".join(ips) or "<pending>"
    return ",".join(ips) or "<none>"


def _modes(modes):
    short = {"ReadWriteOnce": "RWO", "ReadOnlyMany": "ROX", "ReadWriteMany": "RWX", "ReadWriteOncePod": "RWOP"}
    return ",".join(short.get(m, m) for m in modes or [])


def _job_status(job):
    for c in (job.get("status") or {}).get("conditions") or []:
        if c.get("status") == "True" and c.get("type") in ("Complete", "Failed", "Suspended"):
            return c["type"]
    return "Running"


def _job_duration(job, now):
    st = job.get("status") or {}
    start = parse_rfc3339(st.get("startTime"))
    if start is None:
        return ""
    end = parse_rfc3339(st.get("completionTime")) or now
    return human_duration(end - start)


def _quota(q, prefix):
    st = q.get("status") or {}
    hard, used = st.get("hard") or {}, st.get("used") or {}
    items = ["%s: %s/%s" % (k, used.get(k, "0"), v) for k, v in sorted(hard.items())
             if k.startswith("limits.") == (prefix == "limits")]
    return ", ".join(items)


def _jsonpath(obj, path):
    cur = obj
    for part in re.findall(r"\.([^.\[]+)|\[(\d+)\]", path):
        key, idx = part
        if key:
            cur = cur.get(key) if isinstance(cur, dict) else None
        else:
            cur = cur[int(idx)] if isinstance(cur, list) and int(idx) < len(cur) else None
        if cur is None:
            return None
    return cur


COLUMNS = {
    "Pod": [col("Name"), col("Ready"), col("Status"), col("Restarts"), col("Age"), col("IP", priority=1),
            col("Node", priority=1), col("Nominated Node", priority=1), col("Readiness Gates", priority=1)],
    "Deployment": [col("Name"), col("Ready"), col("Up-to-date", "integer"), col("Available", "integer"), col("Age"),
                   col("Containers", priority=1), col("Images", priority=1), col("Selector", priority=1)],
    "ReplicaSet": [col("Name"), col("Desired", "integer"), col("Current", "integer"), col("Ready", "integer"),
                   col("Age"), col("Containers", priority=1), col("Images", priority=1),
                   col("Selector", priority=1)],
    "StatefulSet": [col("Name"), col("Ready"), col("Age"), col("Containers", priority=1), col("Images", priority=1)],
    "Job": [col("Name"), col("Status"), col("Completions"), col("Duration"), col("Age"),
            col("Containers", priority=1), col("Images", priority=1), col("Selector", priority=1)],
    "Service": [col("Name"), col("Type"), col("Cluster-IP"), col("External-IP"), col("Port(s)"), col("Age"),
                col("Selector", priority=1)],
    "Namespace": [col("Name"), col("Status"), col("Age")],
    "ConfigMap": [col("Name"), col("Data", "integer"), col("Age")],
    "Secret": [col("Name"), col("Type"), col("Data", "integer"), col("Age")],
    "ServiceAccount": [col("Name"), col("Secrets", "integer"), col("Age")],
    "PersistentVolumeClaim": [col("Name"), col("Status"), col("Volume"), col("Capacity"), col("Access Modes"),
                              col("StorageClass"), col("VolumeAttributesClass"), col("Age"),
                              col("VolumeMode", priority=1)],
    "PersistentVolume": [col("Name"), col("Capacity"), col("Access Modes"), col("Reclaim Policy"), col("Status"),
                         col("Claim"), col("StorageClass"), col("VolumeAttributesClass"), col("Reason"), col("Age"),
                         col("VolumeMode", priority=1)],
    "Event": [col("Last Seen"), col("Type"), col("Reason"), col("Object"), col("Subobject", priority=1),
              col("Source", priority=1), col("Message"), col("First Seen", priority=1),
              col("Count", "integer", priority=1), col("Name", priority=1)],
    "ResourceQuota": [col("Name"), col("Age"), col("Request"), col("Limit")],
    "LimitRange": [col("Name"), col("Created At", "date")],
    "Role": [col("Name"), col("Created At", "date")],
    "ClusterRole": [col("Name"), col("Created At", "date")],
    "RoleBinding": [col("Name"), col("Role"), col("Age"), col("Users", priority=1), col("Groups", priority=1),
                    col("ServiceAccounts", priority=1)],
    "ClusterRoleBinding": [col("Name"), col("Role"), col("Age"), col("Users", priority=1),
                           col("Groups", priority=1), col("ServiceAccounts", priority=1)],
    "NetworkPolicy": [col("Name"), col("Pod-Selector"), col("Age")],
    "Ingress": [col("Name"), col("Class"), col("Hosts"), col("Address"), col("Ports"), col("Age")],
    "CustomResourceDefinition": [col("Name"), col("Created At", "date")],
    "Node": [col("Name"), col("Status"), col("Roles"), col("Age"), col("Version"), col("Internal-IP", priority=1),
             col("External-IP", priority=1), col("OS-Image", priority=1), col("Kernel-Version", priority=1),
             col("Container-Runtime", priority=1)],
}


def _binding_cells(b, now):
    ref = b.get("roleRef") or {}
    subjects = b.get("subjects") or []
    users = ",".join(s.get("name", "") for s in subjects if s.get("kind") == "User")
    groups = ",".join(s.get("name", "") for s in subjects if s.get("kind") == "Group")
    sas = ",".join("%s/%s" % (s.get("namespace", ""), s.get("name", "")) for s in subjects
                   if s.get("kind") == "ServiceAccount")
    return ["%s/%s" % (ref.get("kind", ""), ref.get("name", "")), age(b, now), users, groups, sas]


def cells(kind, obj, now):
    meta = obj.get("metadata") or {}
    name = meta.get("name", "")
    spec = obj.get("spec") or {}
    st = obj.get("status") or {}
    k = kind.kind if not kind.is_custom else None
    created = meta.get("creationTimestamp", "")
    if k == "Pod":
        return [name] + _pod_cells(obj, now)
    if k == "Deployment":
        c, i = _containers(obj)
        return [name, "%d/%d" % (st.get("readyReplicas", 0), spec.get("replicas", 0)), st.get("updatedReplicas", 0),
                st.get("availableReplicas", 0), age(obj, now), c, i, selector_object_to_string(spec.get("selector"))]
    if k == "ReplicaSet":
        c, i = _containers(obj)
        return [name, spec.get("replicas", 0), st.get("replicas", 0), st.get("readyReplicas", 0), age(obj, now), c, i,
                selector_object_to_string(spec.get("selector"))]
    if k == "StatefulSet":
        c, i = _containers(obj)
        return [name, "%d/%d" % (st.get("readyReplicas", 0), spec.get("replicas", 0)), age(obj, now), c, i]
    if k == "Job":
        c, i = _containers(obj)
        return [name, _job_status(obj), "%d/%d" % (st.get("succeeded", 0), spec.get("completions", 1)),
                _job_duration(obj, now), age(obj, now), c, i, selector_object_to_string(spec.get("selector"))]
    if k == "Service":
        sel = spec.get("selector")
        return [name, spec.get("type", "ClusterIP"), spec.get("clusterIP") or "<none>", _external_ip(obj),
                _ports(obj), age(obj, now),
                ",".join("%s=%s" % kv for kv in sorted(sel.items())) if sel else "<none>"]
    if k == "Namespace":
        return [name, st.get("phase", "Active"), age(obj, now)]
    if k == "ConfigMap":
        return [name, len(obj.get("data") or {}) + len(obj.get("binaryData") or {}), age(obj, now)]
    if k == "Secret":
        return [name, obj.get("type", "Opaque"), len(obj.get("data") or {}), age(obj, now)]
    if k == "ServiceAccount":
        return [name, len(obj.get("secrets") or []), age(obj, now)]
    if k == "PersistentVolumeClaim":
        return [name, st.get("phase", "Pending"), spec.get("volumeName", ""),
                (st.get("capacity") or {}).get("storage", ""), _modes(st.get("accessModes")),
                spec.get("storageClassName", ""), spec.get("volumeAttributesClassName") or "<unset>", age(obj, now),
                spec.get("volumeMode", "Filesystem")]
    if k == "PersistentVolume":
        claim = spec.get("claimRef") or {}
        return [name, (spec.get("capacity") or {}).get("storage", ""), _modes(spec.get("accessModes")),
                spec.get("persistentVolumeReclaimPolicy", ""), st.get("phase", "Pending"),
                "%s/%s" % (claim.get("namespace"), claim.get("name")) if claim else "",
                spec.get("storageClassName", ""), spec.get("volumeAttributesClassName") or "<unset>",
                st.get("reason", ""), age(obj, now), spec.get("volumeMode", "Filesystem")]
    if k == "Event":
        inv = obj.get("involvedObject") or {}
        last = parse_rfc3339(obj.get("lastTimestamp") or obj.get("eventTime")) or now
        first = parse_rfc3339(obj.get("firstTimestamp") or obj.get("eventTime")) or now
        src = obj.get("source") or {}
        return [human_duration(now - last), obj.get("type", ""), obj.get("reason", ""),
                "%s/%s" % ((inv.get("kind") or "").lower(), inv.get("name", "")), inv.get("fieldPath", ""),
                ", ".join(x for x in (src.get("component"), src.get("host")) if x), obj.get("message", ""),
                human_duration(now - first), obj.get("count", 1), name]
    if k == "ResourceQuota":
        return [name, age(obj, now), _quota(obj, "requests"), _quota(obj, "limits")]
    if k in ("LimitRange", "Role", "ClusterRole", "CustomResourceDefinition"):
        return [name, created]
    if k in ("RoleBinding", "ClusterRoleBinding"):
        return [name] + _binding_cells(obj, now)
    if k == "NetworkPolicy":
        sel = selector_object_to_string(spec.get("podSelector"))
        return [name, sel or "<none>", age(obj, now)]
    if k == "Ingress":
        hosts = ",".join(r.get("host", "*") for r in spec.get("rules") or []) or "*"
        lb = ",".join(i.get("ip") or i.get("hostname", "") for i in
                      ((st.get("loadBalancer") or {}).get("ingress") or []))
        return [name, spec.get("ingressClassName") or "<none>", hosts, lb, "443" if spec.get("tls") else "80",
                age(obj, now)]
    if k == "Node":
        ready = next((c.get("status") for c in st.get("conditions") or [] if c.get("type") == "Ready"), "Unknown")
        roles = ",".join(sorted(label.split("/", 1)[1] for label in (meta.get("labels") or {})
                                if label.startswith("node-role.kubernetes.io/"))) or "<none>"
        info = st.get("nodeInfo") or {}
        ip = next((a.get("address") for a in st.get("addresses") or [] if a.get("type") == "InternalIP"), "<none>")
        return [name, "Ready" if ready == "True" else "NotReady", roles, age(obj, now), info.get("kubeletVersion", ""),
                ip, "<none>", info.get("osImage", ""), info.get("kernelVersion", ""),
                info.get("containerRuntimeVersion", "")]
    if kind.is_custom and kind.printer_columns:
        out = [name]
        for pc in kind.printer_columns:
            v = _jsonpath(obj, pc.get("jsonPath", ""))
            if pc.get("type") == "date" and isinstance(v, str):
                t = parse_rfc3339(v)
                v = human_duration(now - t) if t else v
            out.append(v if v is not None else "")
        return out
    return [name, age(obj, now)]


def columns(kind):
    if kind.is_custom:
        if kind.printer_columns:
            return [col("Name")] + [col(pc.get("name", ""), pc.get("type", "string") if pc.get("type") != "date"
                                        else "date", pc.get("priority", 0)) for pc in kind.printer_columns]
        return [col("Name"), col("Age")]
    return COLUMNS.get(kind.kind, [col("Name"), col("Age")])


def row_object(obj, include):
    if include == "None":
        return None
    if include == "Object":
        return obj
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj.get("metadata") or {}}


def table(kind, objs, include="Metadata", api_version="meta.k8s.io/v1", list_meta=None, with_columns=True):
    now = time.time()
    rows = []
    for obj in objs:
        row = {"cells": cells(kind, obj, now)}
        o = row_object(obj, include)
        if o is not None:
            row["object"] = o
        rows.append(row)
    return {"kind": "Table", "apiVersion": api_version, "metadata": list_meta or {},
            "columnDefinitions": columns(kind) if with_columns else [], "rows": rows}
