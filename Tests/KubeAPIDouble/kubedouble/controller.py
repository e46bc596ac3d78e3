"""A simulated control plane: deployment, replicaset, statefulset, job, namespace, volume,
quota and garbage-collector controllers, the scheduler and the kubelet, all in one thread.

It never rescans the store: store writes enqueue the keys that may need work (a
changed pod enqueues its owner), delayed steps (a pod becoming ready after
--ready-delay, a crash-looping container restarting) are timers, and every handler
compares before writing so a quiet cluster causes no writes.
"""
import hashlib
import heapq
import itertools
import json
import sys
import threading
import time
import traceback

from . import errors as E
from .api import NODE_NAME, system_context
from .behaviours import container_behaviour, pod_behaviour
from .selectors import from_label_selector_object
from .util import clone, now_rfc3339, parse_quantity, safe_hash

WORKLOADS = {"apps/deployments", "apps/replicasets", "apps/statefulsets", "batch/jobs"}
RECONCILED = WORKLOADS | {"/pods", "/namespaces", "/persistentvolumeclaims", "/persistentvolumes",
                          "/resourcequotas"}
OWNER_KEYS = {("apps", "ReplicaSet"): "apps/replicasets", ("apps", "Deployment"): "apps/deployments",
              ("apps", "StatefulSet"): "apps/statefulsets", ("batch", "Job"): "batch/jobs"}
HOST_IP = "10.89.0.2"
# How long a deleted namespace stays visibly Terminating before its content and itself are removed.
NAMESPACE_TERMINATION_SECONDS = 0.5


def owner_ref(obj, block=True):
    return {"apiVersion": obj["apiVersion"], "kind": obj["kind"], "name": obj["metadata"]["name"],
            "uid": obj["metadata"]["uid"], "controller": True, "blockOwnerDeletion": block}


def controller_uid(obj):
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return ref.get("uid")
    return None


def is_ready(pod):
    for c in (pod.get("status") or {}).get("conditions") or []:
        if c.get("type") == "Ready":
            return c.get("status") == "True"
    return False


def template_hash(template):
    return safe_hash(json.dumps(template, sort_keys=True, separators=(",", ":")), 10)


def condition(ctype, status, reason, message, t, update_time=True):
    c = {"type": ctype, "status": status}
    if update_time:
        c["lastUpdateTime"] = t
    c["lastTransitionTime"] = t
    if reason:
        c["reason"] = reason
    if message:
        c["message"] = message
    return c


def keep_transition_times(old_conditions, new_conditions):
    """Conditions keep their lastTransitionTime (and lastUpdateTime) while status, reason and message stay."""
    old = {c.get("type"): c for c in old_conditions or []}
    for c in new_conditions:
        prev = old.get(c["type"])
        if prev and prev.get("status") == c["status"]:
            c["lastTransitionTime"] = prev.get("lastTransitionTime", c["lastTransitionTime"])
            if prev.get("reason") == c.get("reason") and prev.get("message") == c.get("message") \
                    and "lastUpdateTime" in c:
                c["lastUpdateTime"] = prev.get("lastUpdateTime", c["lastUpdateTime"])
    return new_conditions


class PodRuntime:
    """What the simulated kubelet knows about one pod."""

    def __init__(self, pod, now):
        self.uid = pod["metadata"]["uid"]
        self.ns = pod["metadata"]["namespace"]
        self.name = pod["metadata"]["name"]
        spec = pod.get("spec") or {}
        self.containers = [(c.get("name"), c.get("image")) for c in spec.get("containers") or []]
        self.behaviour = {c.get("name"): container_behaviour(pod, c) for c in spec.get("containers") or []}
        self.pod_behaviour = pod_behaviour(pod)
        self.restart_policy = spec.get("restartPolicy", "Always")
        self.stage = "new"  # new, unschedulable, creating, started, completed, failed
        self.scheduled_at = now
        self.started_at = None
        self.finished_at = None
        self.pull = {}  # container -> ErrImagePull | ImagePullBackOff
        self.restarts = {}
        self.last_crash = {}  # container -> (startedAt, finishedAt)
        self.ip = None
        digest = hashlib.sha256(self.uid.encode()).hexdigest()
        self.container_ids = {n: "containerd://" + hashlib.sha256((digest + str(n)).encode()).hexdigest()
                              for n, _ in self.containers}


class Controller:
    def __init__(self, api, store, registry, ready_delay=0.3, ca_pem="", log=None):
        self.api = api
        self.store = store
        self.registry = registry
        self.ready_delay = ready_delay
        self.ca_pem = ca_pem
        self.log = log or (lambda msg: None)
        self.cond = threading.Condition(threading.Lock())
        self.thread = None
        self.stopped = False
        self._seq = itertools.count()
        self._init_state()
        store.listeners.append(self.observe)
        api.enqueue_gc = self.enqueue_gc

    def _init_state(self):
        self.queue = []
        self.queued = set()
        self.timers = []
        self.runtime = {}
        self.event_index = {}  # (uid, reason, message, type, fieldPath) -> (ns, name)
        self.event_keys = {}  # (ns, name) -> key of event_index
        self.purging = set()
        self.next_pod_ip = 2
        self.event_counter = itertools.count()

    def reset(self):
        with self.store.lock, self.cond:
            self._init_state()

    # ---- queue ------------------------------------------------------------------------------------

    def _enqueue(self, item):
        with self.cond:
            if item not in self.queued:
                self.queued.add(item)
                self.queue.append(item)
                self.cond.notify()

    def enqueue_gc(self, uid, foreground):
        self._enqueue(("gc", uid, foreground))

    def after(self, delay, fn, *args):
        with self.cond:
            heapq.heappush(self.timers, (time.monotonic() + delay, next(self._seq), fn, args))
            self.cond.notify()

    def observe(self, ev):
        """Store listener (runs under the store lock, so it only enqueues)."""
        key = ev.key
        meta = ev.obj["metadata"]
        if key in RECONCILED:
            self._enqueue(("sync", key, ev.ns, meta["name"]))
        if key == "/pods":
            if ev.type == "DELETED":
                self.runtime.pop(meta.get("uid"), None)
            for ref in meta.get("ownerReferences") or []:
                owner_key = OWNER_KEYS.get((ref.get("apiVersion", "").split("/")[0], ref.get("kind")))
                if ref.get("controller") and owner_key:
                    self._enqueue(("sync", owner_key, ev.ns, ref.get("name")))
        elif key == "apps/replicasets":
            for ref in meta.get("ownerReferences") or []:
                if ref.get("controller") and ref.get("kind") == "Deployment":
                    self._enqueue(("sync", "apps/deployments", ev.ns, ref.get("name")))
        elif key == "/events" and ev.type == "DELETED":
            k = self.event_keys.pop((ev.ns, meta["name"]), None)
            if k is not None:
                self.event_index.pop(k, None)
        elif key == "/persistentvolumeclaims" and ev.type == "DELETED":
            volume = (ev.obj.get("spec") or {}).get("volumeName")
            if volume:
                self._enqueue(("sync", "/persistentvolumes", "", volume))
        if ev.type == "DELETED":
            for ref in meta.get("ownerReferences") or []:
                self._enqueue(("fg", ref.get("uid")))
        if ev.ns and key != "/events" and (ev.type != "MODIFIED" or key == "/pods") \
                and self.store.count("/resourcequotas", ev.ns):
            self._enqueue(("quota", ev.ns))

    # ---- loop -------------------------------------------------------------------------------------

    def start(self):
        self.thread = threading.Thread(target=self._run, name="controller", daemon=True)
        self.thread.start()

    def stop(self):
        with self.cond:
            self.stopped = True
            self.cond.notify()

    def _take(self, block):
        with self.cond:
            while not self.stopped:
                now = time.monotonic()
                due = []
                while self.timers and self.timers[0][0] <= now:
                    due.append(heapq.heappop(self.timers))
                batch, self.queue = self.queue, []
                self.queued.clear()
                if batch or due:
                    return batch, due
                if not block:
                    return [], []
                timeout = self.timers[0][0] - now if self.timers else None
                self.cond.wait(timeout)
            return None, None

    def _run(self):
        while True:
            batch, due = self._take(True)
            if batch is None:
                return
            self._process(batch, due)

    def drain(self):
        """Process everything queued now (used at start-up, before the thread runs)."""
        for _ in range(50):
            batch, due = self._take(False)
            if not batch and not due:
                return
            self._process(batch, due)

    def _process(self, batch, due):
        for _, _, fn, args in due:
            self._guard(fn, *args)
        for item in batch:
            if item[0] == "sync":
                self._guard(self.sync, *item[1:])
            elif item[0] == "gc":
                self._guard(self.api.collect, item[1], item[2])
            elif item[0] == "fg":
                self._guard(self.api.finish_foreground, item[1])
            elif item[0] == "quota":
                self._guard(self.sync_quotas, item[1])

    def _guard(self, fn, *args):
        try:
            with self.store.lock:
                fn(*args)
        except E.ApiError as e:
            self.log("controller: %s: %s" % (getattr(fn, "__name__", fn), e.message))
        except Exception:
            sys.stderr.write("kube-double controller error:\n" + traceback.format_exc())

    def sync(self, key, ns, name):
        obj = self.store.get(key, ns, name)
        if obj is None:
            return
        handler = {"apps/deployments": self.sync_deployment, "apps/replicasets": self.sync_replicaset,
                   "apps/statefulsets": self.sync_statefulset, "batch/jobs": self.sync_job, "/pods": self.sync_pod,
                   "/namespaces": self.sync_namespace, "/persistentvolumeclaims": self.sync_pvc,
                   "/persistentvolumes": self.sync_pv, "/resourcequotas": lambda o: self.sync_quotas(ns)}[key]
        handler(obj)

    # ---- helpers ----------------------------------------------------------------------------------

    def kind(self, key):
        return self.registry.by_key(key)

    def owned(self, owner, key):
        uid = owner["metadata"]["uid"]
        return [o for o in self.store.dependents_of(uid)
                if self.registry.by_api_version_kind(o.get("apiVersion", ""), o.get("kind", "")) is not None
                and self.registry.by_api_version_kind(o["apiVersion"], o["kind"]).key == key
                and controller_uid(o) == uid]

    def create(self, key, obj, component):
        ctx = system_context()
        ctx.field_manager = component
        return self.api._create(ctx, self.kind(key), obj["metadata"].get("namespace", ""), obj, managed_done=False)

    def update(self, key, current, new, component):
        ctx = system_context()
        ctx.field_manager = component
        return self.api._update(ctx, self.kind(key), current, new, "")

    def delete(self, key, obj):
        ctx = system_context()
        try:
            self.api.delete(ctx, self.kind(key), obj["metadata"].get("namespace", ""), obj["metadata"]["name"],
                            {"propagationPolicy": "Background"})
        except E.ApiError as e:
            if e.code != 404:
                raise

    def write_status(self, key, obj, status):
        return self.api.write_status(self.kind(key), obj, status)

    def event(self, obj, etype, reason, message, component, field_path=None):
        """Record a core/v1 Event; a repeat of the same event bumps count and lastTimestamp."""
        meta = obj["metadata"]
        ns = meta.get("namespace") or "default"
        ident = (meta.get("uid"), reason, message, etype, field_path)
        now = now_rfc3339()
        known = self.event_index.get(ident)
        kind = self.kind("/events")
        if known:
            current = self.store.get("/events", *known)
            if current is not None:
                new = clone(current)
                new["count"] = current.get("count", 1) + 1
                new["lastTimestamp"] = now
                try:
                    self.api._update(system_context(), kind, current, new, "")
                except E.ApiError:
                    pass
                return
        involved = {"kind": obj["kind"], "namespace": meta.get("namespace"), "name": meta["name"],
                    "uid": meta.get("uid"), "apiVersion": obj["apiVersion"],
                    "resourceVersion": meta.get("resourceVersion")}
        if not meta.get("namespace"):
            involved.pop("namespace")
        if field_path:
            involved["fieldPath"] = field_path
        name = "%s.%x" % (meta["name"], time.time_ns() + next(self.event_counter))
        source = {"component": component}
        if component == "kubelet":
            source["host"] = NODE_NAME
        ev = {"apiVersion": "v1", "kind": "Event", "metadata": {"name": name, "namespace": ns},
              "involvedObject": involved, "reason": reason, "message": message, "source": source,
              "firstTimestamp": now, "lastTimestamp": now, "count": 1, "type": etype, "eventTime": None,
              "reportingComponent": component, "reportingInstance": NODE_NAME if component == "kubelet" else ""}
        ctx = system_context()
        ctx.field_manager = component
        try:
            self.api._create(ctx, kind, ns, ev, managed_done=False)
        except E.ApiError:
            return  # e.g. the namespace is being deleted
        self.event_index[ident] = (ns, name)
        self.event_keys[(ns, name)] = ident

    def pod_from_template(self, owner, template, name=None, generate=None, labels=None, extra_spec=None):
        tmeta = template.get("metadata") or {}
        meta = {"labels": dict(tmeta.get("labels") or {}, **(labels or {})),
                "namespace": owner["metadata"]["namespace"], "ownerReferences": [owner_ref(owner)]}
        if tmeta.get("annotations"):
            meta["annotations"] = dict(tmeta["annotations"])
        if name:
            meta["name"] = name
        else:
            meta["generateName"] = generate
        spec = clone(template.get("spec") or {})
        spec.update(extra_spec or {})
        return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}

    # ---- Deployment -------------------------------------------------------------------------------

    def sync_deployment(self, d):
        meta = d["metadata"]
        if meta.get("deletionTimestamp"):
            return
        spec = d.get("spec") or {}
        desired = spec.get("replicas", 1)
        template = spec.get("template") or {}
        h = template_hash(template)
        rss = self.owned(d, "apps/replicasets")
        new_rs = next((rs for rs in rss if (rs["metadata"].get("labels") or {}).get("pod-template-hash") == h), None)
        revisions = [int((rs["metadata"].get("annotations") or {}).get("deployment.kubernetes.io/revision", "0"))
                     for rs in rss]
        if new_rs is None:
            revision = max(revisions or [0]) + 1
            new_rs = self._create_rs(d, template, h, desired, revision)
            if new_rs is None:
                return
            self.event(d, "Normal", "ScalingReplicaSet", "Scaled up replica set %s from 0 to %d"
                       % (new_rs["metadata"]["name"], desired), "deployment-controller")
            rss.append(new_rs)
            self._set_revision(d, revision)
        else:
            have = (new_rs.get("spec") or {}).get("replicas", 0)
            if have != desired:
                updated = clone(new_rs)
                updated["spec"]["replicas"] = desired
                updated["metadata"].setdefault("annotations", {})["deployment.kubernetes.io/desired-replicas"] = \
                    str(desired)
                new_rs = self.update("apps/replicasets", new_rs, updated, "kube-controller-manager")
                self.event(d, "Normal", "ScalingReplicaSet", "Scaled %s replica set %s from %d to %d" % (
                    "up" if desired > have else "down", new_rs["metadata"]["name"], have, desired),
                    "deployment-controller")
            rev = (new_rs["metadata"].get("annotations") or {}).get("deployment.kubernetes.io/revision")
            if rev and (meta.get("annotations") or {}).get("deployment.kubernetes.io/revision") != rev:
                self._set_revision(d, int(rev))
        for rs in rss:
            if rs is new_rs or rs["metadata"]["uid"] == new_rs["metadata"]["uid"]:
                continue
            have = (rs.get("spec") or {}).get("replicas", 0)
            if have:
                updated = clone(rs)
                updated["spec"]["replicas"] = 0
                self.update("apps/replicasets", rs, updated, "kube-controller-manager")
                self.event(d, "Normal", "ScalingReplicaSet", "Scaled down replica set %s from %d to 0"
                           % (rs["metadata"]["name"], have), "deployment-controller")
        d = self.store.get("apps/deployments", meta["namespace"], meta["name"]) or d
        self._deployment_status(d, new_rs)

    def _create_rs(self, d, template, h, desired, revision):
        meta = d["metadata"]
        tmeta = template.get("metadata") or {}
        labels = dict(tmeta.get("labels") or {}, **{"pod-template-hash": h})
        selector = clone((d.get("spec") or {}).get("selector") or {})
        selector.setdefault("matchLabels", {})["pod-template-hash"] = h
        surge = self._surge(d, desired)
        rs_template = clone(template)
        rs_template.setdefault("metadata", {})["labels"] = labels
        name = "%s-%s" % (meta["name"], h)
        rs = {"apiVersion": "apps/v1", "kind": "ReplicaSet",
              "metadata": {"name": name, "namespace": meta["namespace"], "labels": labels,
                           "annotations": {"deployment.kubernetes.io/desired-replicas": str(desired),
                                           "deployment.kubernetes.io/max-replicas": str(desired + surge),
                                           "deployment.kubernetes.io/revision": str(revision)},
                           "ownerReferences": [owner_ref(d)]},
              "spec": {"replicas": desired, "minReadySeconds": (d.get("spec") or {}).get("minReadySeconds", 0),
                       "selector": selector, "template": rs_template}}
        if not rs["spec"]["minReadySeconds"]:
            del rs["spec"]["minReadySeconds"]
        try:
            return self.create("apps/replicasets", rs, "kube-controller-manager")
        except E.ApiError as e:
            self.event(d, "Warning", "FailedCreate", 'Failed to create new replica set "%s": %s' % (name, e.message),
                       "deployment-controller")
            return None

    def _set_revision(self, d, revision):
        current = self.store.get("apps/deployments", d["metadata"]["namespace"], d["metadata"]["name"])
        if current is None:
            return
        if (current["metadata"].get("annotations") or {}).get("deployment.kubernetes.io/revision") == str(revision):
            return
        new = clone(current)
        new["metadata"].setdefault("annotations", {})["deployment.kubernetes.io/revision"] = str(revision)
        self.update("apps/deployments", current, new, "kube-controller-manager")

    @staticmethod
    def _percent(value, total, round_up):
        if isinstance(value, int):
            return value
        text = str(value or "0")
        if text.endswith("%"):
            frac = int(text[:-1]) * total / 100.0
            return int(-(-frac // 1)) if round_up else int(frac // 1)
        return int(text)

    def _surge(self, d, desired):
        ru = ((d.get("spec") or {}).get("strategy") or {}).get("rollingUpdate") or {}
        return self._percent(ru.get("maxSurge", "25%"), desired, True)

    def _deployment_status(self, d, new_rs):
        spec = d.get("spec") or {}
        desired = spec.get("replicas", 1)
        rss = self.owned(d, "apps/replicasets")
        replicas = sum((rs.get("status") or {}).get("replicas", 0) for rs in rss)
        ready = sum((rs.get("status") or {}).get("readyReplicas", 0) for rs in rss)
        available = sum((rs.get("status") or {}).get("availableReplicas", 0) for rs in rss)
        new_rs = next((rs for rs in rss if rs["metadata"]["uid"] == new_rs["metadata"]["uid"]), new_rs)
        updated = (new_rs.get("status") or {}).get("replicas", 0)
        ru = (spec.get("strategy") or {}).get("rollingUpdate") or {}
        max_unavailable = self._percent(ru.get("maxUnavailable", "25%"), desired, False) \
            if (spec.get("strategy") or {}).get("type", "RollingUpdate") == "RollingUpdate" else 0
        t = now_rfc3339()
        old = d.get("status") or {}
        conditions = []
        if available >= desired - max_unavailable:
            conditions.append(condition("Available", "True", "MinimumReplicasAvailable",
                                        "Deployment has minimum availability.", t))
        else:
            conditions.append(condition("Available", "False", "MinimumReplicasUnavailable",
                                        "Deployment does not have minimum availability.", t))
        rs_name = new_rs["metadata"]["name"]
        complete = updated == desired and replicas == desired and available == desired and \
            (new_rs.get("status") or {}).get("observedGeneration", 0) >= new_rs["metadata"].get("generation", 1)
        if complete:
            conditions.append(condition("Progressing", "True", "NewReplicaSetAvailable",
                                        'ReplicaSet "%s" has successfully progressed.' % rs_name, t))
        else:
            conditions.append(condition("Progressing", "True", "ReplicaSetUpdated",
                                        'ReplicaSet "%s" is progressing.' % rs_name, t))
        failure = next((c for rs in rss for c in (rs.get("status") or {}).get("conditions") or []
                        if c.get("type") == "ReplicaFailure" and c.get("status") == "True"), None)
        if failure:
            conditions.append(condition("ReplicaFailure", "True", "FailedCreate", failure.get("message"), t))
        keep_transition_times(old.get("conditions"), conditions)
        status = {"observedGeneration": d["metadata"].get("generation", 1), "replicas": replicas,
                  "updatedReplicas": updated, "readyReplicas": ready, "availableReplicas": available}
        if desired - available > 0:
            status["unavailableReplicas"] = desired - available
        status = {k: v for k, v in status.items() if v or k == "observedGeneration"}
        status["conditions"] = conditions
        self.write_status("apps/deployments", d, status)

    # ---- ReplicaSet -------------------------------------------------------------------------------

    def sync_replicaset(self, rs):
        meta = rs["metadata"]
        if meta.get("deletionTimestamp"):
            return
        spec = rs.get("spec") or {}
        desired = spec.get("replicas", 1)
        pods = [p for p in self.owned(rs, "/pods") if not p["metadata"].get("deletionTimestamp")]
        active = [p for p in pods if (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")]
        failure = None
        if len(active) < desired:
            for _ in range(desired - len(active)):
                pod = self.pod_from_template(rs, spec.get("template") or {}, generate=meta["name"] + "-")
                try:
                    created = self.create("/pods", pod, "kube-controller-manager")
                except E.ApiError as e:
                    failure = e.message
                    self.event(rs, "Warning", "FailedCreate", "Error creating: " + e.message,
                               "replicaset-controller")
                    self.after(1.0, self._retry, "apps/replicasets", meta["namespace"], meta["name"])
                    break
                self.event(rs, "Normal", "SuccessfulCreate", "Created pod: " + created["metadata"]["name"],
                           "replicaset-controller")
        elif len(active) > desired:
            victims = sorted(active, key=lambda p: (is_ready(p), p["metadata"].get("creationTimestamp", "")))
            for p in victims[:len(active) - desired]:
                self.delete("/pods", p)
                self.event(rs, "Normal", "SuccessfulDelete", "Deleted pod: " + p["metadata"]["name"],
                           "replicaset-controller")
        pods = [p for p in self.owned(rs, "/pods") if not p["metadata"].get("deletionTimestamp")
                and (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")]
        ready = sum(1 for p in pods if is_ready(p))
        sel = from_label_selector_object(spec.get("selector"))
        labeled = sum(1 for p in pods if sel.matches(p["metadata"].get("labels")))
        status = {"replicas": len(pods), "fullyLabeledReplicas": labeled, "readyReplicas": ready,
                  "availableReplicas": ready, "observedGeneration": meta.get("generation", 1)}
        status = {k: v for k, v in status.items() if v or k in ("replicas", "observedGeneration")}
        if failure:
            t = now_rfc3339()
            status["conditions"] = keep_transition_times(
                (rs.get("status") or {}).get("conditions"),
                [condition("ReplicaFailure", "True", "FailedCreate", failure, t, update_time=False)])
        self.write_status("apps/replicasets", rs, status)

    def _retry(self, key, ns, name):
        self._enqueue(("sync", key, ns, name))

    # ---- StatefulSet ------------------------------------------------------------------------------

    def sync_statefulset(self, s):
        meta = s["metadata"]
        if meta.get("deletionTimestamp"):
            return
        spec = s.get("spec") or {}
        desired = spec.get("replicas", 1)
        template = spec.get("template") or {}
        revision = "%s-%s" % (meta["name"], template_hash(template))
        pods = {p["metadata"]["name"]: p for p in self.owned(s, "/pods")}
        for i in range(desired):
            name = "%s-%d" % (meta["name"], i)
            pod = pods.get(name)
            if pod is not None:
                if (pod["metadata"].get("labels") or {}).get("controller-revision-hash") != revision:
                    self.delete("/pods", pod)
                    self.event(s, "Normal", "SuccessfulDelete", "delete Pod %s in StatefulSet %s successful"
                               % (name, meta["name"]), "statefulset-controller")
                continue
            if self.store.get("/pods", meta["namespace"], name) is not None:
                continue  # a pod of that name not (yet) ours
            volumes = self._claims(s, i)
            extra = {"hostname": name}
            if spec.get("serviceName"):
                extra["subdomain"] = spec["serviceName"]
            pod = self.pod_from_template(s, template, name=name, labels={
                "controller-revision-hash": revision, "statefulset.kubernetes.io/pod-name": name,
                "apps.kubernetes.io/pod-index": str(i)}, extra_spec=extra)
            if volumes:
                pod["spec"]["volumes"] = [v for v in pod["spec"].get("volumes") or []
                                          if v.get("name") not in {x["name"] for x in volumes}] + volumes
            try:
                self.create("/pods", pod, "kube-controller-manager")
            except E.ApiError as e:
                self.event(s, "Warning", "FailedCreate", "create Pod %s in StatefulSet %s failed error: %s"
                           % (name, meta["name"], e.message), "statefulset-controller")
                self.after(1.0, self._retry, "apps/statefulsets", meta["namespace"], meta["name"])
                break
            self.event(s, "Normal", "SuccessfulCreate", "create Pod %s in StatefulSet %s successful"
                       % (name, meta["name"]), "statefulset-controller")
        for name, pod in pods.items():
            idx = name.rsplit("-", 1)[-1]
            if not idx.isdigit() or int(idx) >= desired:
                self.delete("/pods", pod)
                self.event(s, "Normal", "SuccessfulDelete", "delete Pod %s in StatefulSet %s successful"
                           % (name, meta["name"]), "statefulset-controller")
        live = [p for p in self.owned(s, "/pods")]
        ready = sum(1 for p in live if is_ready(p))
        current = sum(1 for p in live if (p["metadata"].get("labels") or {}).get("controller-revision-hash")
                      == revision)
        status = {"observedGeneration": meta.get("generation", 1), "replicas": len(live), "readyReplicas": ready,
                  "currentReplicas": current, "updatedReplicas": current, "availableReplicas": ready,
                  "currentRevision": revision, "updateRevision": revision, "collisionCount": 0}
        status = {k: v for k, v in status.items() if v or k in ("replicas", "observedGeneration", "collisionCount",
                                                                 "availableReplicas")}
        self.write_status("apps/statefulsets", s, status)

    def _claims(self, s, i):
        volumes = []
        meta = s["metadata"]
        for t in (s.get("spec") or {}).get("volumeClaimTemplates") or []:
            tname = (t.get("metadata") or {}).get("name")
            if not tname:
                continue
            claim = "%s-%s-%d" % (tname, meta["name"], i)
            volumes.append({"name": tname, "persistentVolumeClaim": {"claimName": claim}})
            if self.store.get("/persistentvolumeclaims", meta["namespace"], claim) is None:
                pvc = {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                       "metadata": {"name": claim, "namespace": meta["namespace"],
                                    "labels": dict((s["spec"].get("selector") or {}).get("matchLabels") or {})},
                       "spec": clone(t.get("spec") or {})}
                try:
                    self.create("/persistentvolumeclaims", pvc, "kube-controller-manager")
                    self.event(s, "Normal", "SuccessfulCreate", "create Claim %s Pod %s-%d in StatefulSet %s "
                               "success" % (claim, meta["name"], i, meta["name"]), "statefulset-controller")
                except E.ApiError as e:
                    self.event(s, "Warning", "FailedCreate", "create Claim %s for Pod %s-%d in StatefulSet %s "
                               "failed error: %s" % (claim, meta["name"], i, meta["name"], e.message),
                               "statefulset-controller")
        return volumes

    # ---- Job --------------------------------------------------------------------------------------

    def sync_job(self, j):
        meta = j["metadata"]
        if meta.get("deletionTimestamp"):
            return
        spec = j.get("spec") or {}
        old = j.get("status") or {}
        if any(c.get("type") in ("Complete", "Failed") and c.get("status") == "True"
               for c in old.get("conditions") or []):
            return
        pods = self.owned(j, "/pods")
        if not pods and not spec.get("suspend"):
            pod = self.pod_from_template(j, spec.get("template") or {}, generate=meta["name"] + "-")
            try:
                created = self.create("/pods", pod, "kube-controller-manager")
                self.event(j, "Normal", "SuccessfulCreate", "Created pod: " + created["metadata"]["name"],
                           "job-controller")
                pods = [created]
            except E.ApiError as e:
                self.event(j, "Warning", "FailedCreate", "Error creating: " + e.message, "job-controller")
                self.after(1.0, self._retry, "batch/jobs", meta["namespace"], meta["name"])
        phases = [(p.get("status") or {}).get("phase") for p in pods]
        succeeded = phases.count("Succeeded")
        failed = phases.count("Failed")
        active = len(pods) - succeeded - failed
        t = now_rfc3339()
        status = {"startTime": old.get("startTime", t), "active": active, "ready": sum(1 for p in pods if is_ready(p)),
                  "succeeded": succeeded, "failed": failed, "terminating": 0, "uncountedTerminatedPods": {}}
        status = {k: v for k, v in status.items() if v or k in ("startTime", "uncountedTerminatedPods", "ready",
                                                                 "terminating")}
        if succeeded >= spec.get("completions", 1):
            status["completionTime"] = t
            status["conditions"] = [
                condition("SuccessCriteriaMet", "True", "CompletionsReached", "Reached expected number of succeeded "
                          "pods", t, update_time=False),
                condition("Complete", "True", "CompletionsReached", "Reached expected number of succeeded pods", t,
                          update_time=False)]
            for c in status["conditions"]:
                c["lastProbeTime"] = t
            self.event(j, "Normal", "Completed", "Job completed", "job-controller")
        elif failed:
            status["conditions"] = [
                condition("FailureTarget", "True", "BackoffLimitExceeded", "Job has reached the specified backoff "
                          "limit", t, update_time=False),
                condition("Failed", "True", "BackoffLimitExceeded", "Job has reached the specified backoff limit", t,
                          update_time=False)]
            for c in status["conditions"]:
                c["lastProbeTime"] = t
            self.event(j, "Warning", "BackoffLimitExceeded", "Job has reached the specified backoff limit",
                       "job-controller")
        self.write_status("batch/jobs", j, status)

    # ---- the scheduler and the kubelet --------------------------------------------------------------

    def sync_pod(self, pod):
        uid = pod["metadata"]["uid"]
        if uid in self.runtime or pod["metadata"].get("deletionTimestamp"):
            return
        rt = PodRuntime(pod, time.time())
        self.runtime[uid] = rt
        if rt.pod_behaviour == "pending":
            rt.stage = "unschedulable"
            self.event(pod, "Warning", "FailedScheduling", "0/1 nodes are available: 1 Insufficient cpu. preemption: "
                       "0/1 nodes are available: 1 No preemption victims found for incoming pod.",
                       "default-scheduler")
            self._write_pod(rt)
            return
        rt.stage = "creating"
        self.event(pod, "Normal", "Scheduled", "Successfully assigned %s/%s to %s"
                   % (rt.ns, rt.name, NODE_NAME), "default-scheduler")
        for name, image in rt.containers:
            self.event(pod, "Normal", "Pulling", 'Pulling image "%s"' % image, "kubelet",
                       "spec.containers{%s}" % name)
        self._write_pod(rt)
        self.after(self.ready_delay, self._pod_start, uid)

    def _pod(self, rt):
        pod = self.store.get("/pods", rt.ns, rt.name)
        if pod is None or pod["metadata"].get("uid") != rt.uid or self.runtime.get(rt.uid) is not rt:
            return None
        return pod

    def _pod_start(self, uid):
        rt = self.runtime.get(uid)
        pod = rt and self._pod(rt)
        if pod is None:
            return
        rt.stage = "started"
        rt.started_at = time.time()
        rt.ip = "10.244.%d.%d" % (self.next_pod_ip // 250, self.next_pod_ip % 250 + 1)
        self.next_pod_ip += 1
        crash = False
        pulling = False
        for name, image in rt.containers:
            fp = "spec.containers{%s}" % name
            b = rt.behaviour.get(name)
            if b == "image-pull-error":
                pulling = True
                rt.pull[name] = "ErrImagePull"
                self.event(pod, "Warning", "Failed", 'Failed to pull image "%s": %s' % (image, self._pull_error(image)),
                           "kubelet", fp)
                self.event(pod, "Warning", "Failed", "Error: ErrImagePull", "kubelet", fp)
                continue
            self.event(pod, "Normal", "Pulled", 'Successfully pulled image "%s" in 120ms (120ms including waiting). '
                       'Image size: 0 bytes.' % image, "kubelet", fp)
            self.event(pod, "Normal", "Created", "Created container %s" % name, "kubelet", fp)
            self.event(pod, "Normal", "Started", "Started container %s" % name, "kubelet", fp)
            if b == "crash-loop":
                crash = True
                rt.restarts[name] = 0
                rt.last_crash[name] = (rt.started_at, rt.started_at + 0.05)
        if crash and rt.restart_policy == "Never":
            rt.stage = "failed"
            rt.finished_at = time.time()
        elif crash:
            self._crash_tick(uid, first=True)
            return
        self._write_pod(rt)
        if pulling:
            self.after(self.ready_delay, self._pull_backoff, uid)
        elif rt.restart_policy != "Always" and rt.stage == "started":
            self.after(self.ready_delay, self._pod_complete, uid)

    @staticmethod
    def _pull_error(image):
        ref = image if "/" in image.split(":")[0] else "docker.io/library/" + image
        return ('rpc error: code = NotFound desc = failed to pull and unpack image "%s": failed to resolve '
                'reference "%s": %s: not found' % (ref, ref, ref))

    def _pull_backoff(self, uid):
        rt = self.runtime.get(uid)
        pod = rt and self._pod(rt)
        if pod is None:
            return
        for name, image in rt.containers:
            if rt.behaviour.get(name) == "image-pull-error":
                fp = "spec.containers{%s}" % name
                first = rt.pull.get(name) != "ImagePullBackOff"
                rt.pull[name] = "ImagePullBackOff"
                self.event(pod, "Normal", "BackOff", 'Back-off pulling image "%s"' % image, "kubelet", fp)
                if first:
                    self.event(pod, "Warning", "Failed", "Error: ImagePullBackOff", "kubelet", fp)
        self._write_pod(rt)
        self.after(max(self.ready_delay, 3.0), self._pull_backoff, uid)

    def _crash_tick(self, uid, first=False):
        rt = self.runtime.get(uid)
        pod = rt and self._pod(rt)
        if pod is None:
            return
        now = time.time()
        for name, image in rt.containers:
            if rt.behaviour.get(name) != "crash-loop":
                continue
            rt.restarts[name] = rt.restarts.get(name, 0) + 1
            rt.last_crash[name] = (now - 0.05, now)
            self.event(pod, "Warning", "BackOff", "Back-off restarting failed container %s in pod %s_%s(%s)"
                       % (name, rt.name, rt.ns, rt.uid), "kubelet", "spec.containers{%s}" % name)
        self._write_pod(rt)
        self.after(0.5, self._crash_tick, uid)

    def _pod_complete(self, uid):
        rt = self.runtime.get(uid)
        pod = rt and self._pod(rt)
        if pod is None:
            return
        rt.stage = "completed"
        rt.finished_at = time.time()
        self._write_pod(rt)

    def pod_status(self, pod, rt):
        t = now_rfc3339
        status = {"qosClass": (pod.get("status") or {}).get("qosClass", "BestEffort")}
        if rt.stage == "unschedulable":
            status["phase"] = "Pending"
            status["conditions"] = [{"type": "PodScheduled", "status": "False", "lastProbeTime": None,
                                     "lastTransitionTime": t(rt.scheduled_at), "reason": "Unschedulable",
                                     "message": "0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes "
                                                "are available: 1 No preemption victims found for incoming pod."}]
            return status
        statuses = []
        unready = []
        pulling = False
        for name, image in rt.containers:
            b = rt.behaviour.get(name)
            cs = {"name": name, "image": image, "imageID": "", "ready": False, "started": False,
                  "restartCount": rt.restarts.get(name, 0), "state": {}}
            if rt.stage == "creating":
                cs["state"] = {"waiting": {"reason": "ContainerCreating"}}
            elif rt.stage == "started" and b == "image-pull-error":
                pulling = True
                reason = rt.pull.get(name, "ErrImagePull")
                message = ('Back-off pulling image "%s"' % image if reason == "ImagePullBackOff"
                           else self._pull_error(image))
                cs["state"] = {"waiting": {"reason": reason, "message": message}}
            elif rt.stage == "started" and b == "crash-loop":
                started, finished = rt.last_crash.get(name, (rt.started_at, rt.started_at))
                cs["containerID"] = rt.container_ids[name]
                cs["imageID"] = self._image_id(image)
                cs["state"] = {"waiting": {"reason": "CrashLoopBackOff", "message":
                                           "back-off 10s restarting failed container=%s pod=%s_%s(%s)"
                                           % (name, rt.name, rt.ns, rt.uid)}}
                cs["lastState"] = {"terminated": {"exitCode": 1, "reason": "Error", "startedAt": t(started),
                                                  "finishedAt": t(finished), "containerID": rt.container_ids[name]}}
            elif rt.stage in ("completed", "failed"):
                code = 1 if rt.stage == "failed" and b == "crash-loop" else 0
                cs["containerID"] = rt.container_ids[name]
                cs["imageID"] = self._image_id(image)
                cs["state"] = {"terminated": {"exitCode": code, "reason": "Error" if code else "Completed",
                                              "startedAt": t(rt.started_at), "finishedAt": t(rt.finished_at),
                                              "containerID": rt.container_ids[name]}}
            else:
                cs["containerID"] = rt.container_ids[name]
                cs["imageID"] = self._image_id(image)
                cs["ready"] = True
                cs["started"] = True
                cs["state"] = {"running": {"startedAt": t(rt.started_at)}}
            if not cs["ready"]:
                unready.append(name)
            statuses.append(cs)
        if rt.stage == "creating":
            phase = "Pending"
        elif rt.stage == "completed":
            phase = "Succeeded"
        elif rt.stage == "failed":
            phase = "Failed"
        else:
            phase = "Pending" if pulling else "Running"
        scheduled, started = t(rt.scheduled_at), t(rt.started_at or rt.scheduled_at)
        sandbox = rt.stage != "creating"

        def cond(ctype, ok, when, reason=None, message=None):
            c = {"type": ctype, "status": "True" if ok else "False", "lastProbeTime": None,
                 "lastTransitionTime": when}
            if reason and not ok:
                c["reason"] = reason
            if message and not ok:
                c["message"] = message
            return c

        ready = not unready and phase == "Running"
        msg = "containers with unready status: [%s]" % " ".join(unready)
        reason = "PodCompleted" if phase in ("Succeeded", "Failed") else "ContainersNotReady"
        status["phase"] = phase
        status["conditions"] = [
            cond("PodReadyToStartContainers", sandbox and phase not in ("Succeeded", "Failed"), started),
            cond("Initialized", True, scheduled, "PodCompleted" if phase in ("Succeeded", "Failed") else None),
            cond("Ready", ready, started, reason, None if reason == "PodCompleted" else msg),
            cond("ContainersReady", ready, started, reason, None if reason == "PodCompleted" else msg),
            cond("PodScheduled", True, scheduled)]
        status["hostIP"] = HOST_IP
        status["hostIPs"] = [{"ip": HOST_IP}]
        if rt.ip:
            status["podIP"] = rt.ip
            status["podIPs"] = [{"ip": rt.ip}]
        status["startTime"] = scheduled
        status["containerStatuses"] = statuses
        return status

    @staticmethod
    def _image_id(image):
        ref = image.split(":")[0] if ":" in image.rsplit("/", 1)[-1] else image
        if "/" not in ref:
            ref = "docker.io/library/" + ref
        return "%s@sha256:%s" % (ref, hashlib.sha256(image.encode()).hexdigest())

    def _write_pod(self, rt):
        pod = self._pod(rt)
        if pod is None:
            return
        self.write_status("/pods", pod, self.pod_status(pod, rt))

    def log_state(self, pod):
        """What pods/log needs: the runtime of a pod, or None when the kubelet has not seen it."""
        return self.runtime.get(pod["metadata"].get("uid"))

    # ---- Namespace --------------------------------------------------------------------------------

    def sync_namespace(self, ns):
        meta = ns["metadata"]
        name = meta["name"]
        if meta.get("deletionTimestamp"):
            if name not in self.purging:
                self.purging.add(name)
                self.after(NAMESPACE_TERMINATION_SECONDS, self._purge, name, meta.get("uid"))
            return
        if self.store.get("/serviceaccounts", name, "default") is None:
            try:
                self.create("/serviceaccounts", {"apiVersion": "v1", "kind": "ServiceAccount",
                                                 "metadata": {"name": "default", "namespace": name}},
                            "kube-controller-manager")
            except E.ApiError:
                pass
        if self.ca_pem and self.store.get("/configmaps", name, "kube-root-ca.crt") is None:
            try:
                self.create("/configmaps", {
                    "apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"name": "kube-root-ca.crt", "namespace": name,
                                 "annotations": {"kubernetes.io/description": "Contains a CA bundle that can be "
                                                 "used to verify the kube-apiserver when using internal endpoints "
                                                 "such as the internal service IP or kubernetes.default.svc. No "
                                                 "other usage is guaranteed across distributions of Kubernetes "
                                                 "clusters."}},
                    "data": {"ca.crt": self.ca_pem}}, "kube-controller-manager")
            except E.ApiError:
                pass

    def _purge(self, name, uid):
        self.purging.discard(name)
        ns = self.store.get("/namespaces", "", name)
        if ns is None or ns["metadata"].get("uid") != uid:
            return
        self.api.purge_namespace(name)

    # ---- volumes ----------------------------------------------------------------------------------

    def sync_pvc(self, pvc):
        meta = pvc["metadata"]
        if meta.get("deletionTimestamp") or (pvc.get("status") or {}).get("phase") == "Bound":
            return
        spec = pvc.get("spec") or {}
        wanted = spec.get("volumeName")
        storage = ((spec.get("resources") or {}).get("requests") or {}).get("storage", "1Gi")
        if wanted:
            pv = self.store.get("/persistentvolumes", "", wanted)
            claim = (pv or {}).get("spec", {}).get("claimRef") or {}
            if pv is None or (claim and claim.get("uid") not in (None, meta["uid"])):
                self.after(1.0, self._retry, "/persistentvolumeclaims", meta["namespace"], meta["name"])
                return
            self._bind(pvc, pv, provisioned=False)
            return
        name = "pvc-" + meta["uid"]
        pv = self.store.get("/persistentvolumes", "", name)
        if pv is None:
            pv = {"apiVersion": "v1", "kind": "PersistentVolume",
                  "metadata": {"name": name, "annotations": {
                      "pv.kubernetes.io/provisioned-by": "kube-double.knot.test/hostpath"},
                      "finalizers": ["kubernetes.io/pv-protection"]},
                  "spec": {"capacity": {"storage": storage}, "accessModes": list(spec.get("accessModes") or []),
                           "persistentVolumeReclaimPolicy": "Delete",
                           "storageClassName": spec.get("storageClassName") or "standard",
                           "hostPath": {"path": "/var/lib/kube-double/%s_%s_%s" % (meta["namespace"], meta["name"],
                                                                                   name), "type": ""},
                           "volumeMode": spec.get("volumeMode", "Filesystem")}}
            pv = self.create("/persistentvolumes", pv, "kube-double-provisioner")
            self.event(pvc, "Normal", "ProvisioningSucceeded", "Successfully provisioned volume %s" % name,
                       "kube-double.knot.test/hostpath")
        self._bind(pvc, pv, provisioned=True)

    def _bind(self, pvc, pv, provisioned):
        meta = pvc["metadata"]
        claim_ref = {"kind": "PersistentVolumeClaim", "namespace": meta["namespace"], "name": meta["name"],
                     "uid": meta["uid"], "apiVersion": "v1", "resourceVersion": meta["resourceVersion"]}
        if (pv.get("spec") or {}).get("claimRef", {}).get("uid") != meta["uid"]:
            new = clone(pv)
            new["spec"]["claimRef"] = claim_ref
            pv = self.update("/persistentvolumes", pv, new, "kube-controller-manager")
        pv = self.write_status("/persistentvolumes", pv, {"phase": "Bound", "lastPhaseTransitionTime": now_rfc3339()}) \
            if (pv.get("status") or {}).get("phase") != "Bound" else pv
        new = clone(pvc)
        new["spec"]["volumeName"] = pv["metadata"]["name"]
        ann = new["metadata"].setdefault("annotations", {})
        ann["pv.kubernetes.io/bind-completed"] = "yes"
        if provisioned:
            ann["pv.kubernetes.io/bound-by-controller"] = "yes"
            ann["volume.kubernetes.io/storage-provisioner"] = "kube-double.knot.test/hostpath"
        new["metadata"]["finalizers"] = list(dict.fromkeys((meta.get("finalizers") or []) +
                                                           ["kubernetes.io/pvc-protection"]))
        pvc = self.update("/persistentvolumeclaims", pvc, new, "kube-controller-manager")
        self.write_status("/persistentvolumeclaims", pvc, {
            "phase": "Bound", "accessModes": list((pv.get("spec") or {}).get("accessModes") or []),
            "capacity": dict((pv.get("spec") or {}).get("capacity") or {})})

    def sync_pv(self, pv):
        meta = pv["metadata"]
        spec = pv.get("spec") or {}
        phase = (pv.get("status") or {}).get("phase")
        claim = spec.get("claimRef")
        if claim and claim.get("uid"):
            pvc = self.store.get("/persistentvolumeclaims", claim.get("namespace", ""), claim.get("name", ""))
            if pvc is None or pvc["metadata"]["uid"] != claim["uid"]:
                if spec.get("persistentVolumeReclaimPolicy") == "Delete":
                    new = clone(pv)
                    new["metadata"].pop("finalizers", None)
                    current = self.update("/persistentvolumes", pv, new, "kube-controller-manager")
                    self.delete("/persistentvolumes", current)
                elif phase != "Released":
                    self.write_status("/persistentvolumes", pv, {"phase": "Released",
                                                                 "lastPhaseTransitionTime": now_rfc3339()})
                return
            if phase != "Bound":
                self.write_status("/persistentvolumes", pv, {"phase": "Bound", "lastPhaseTransitionTime":
                                                             now_rfc3339()})
            return
        if phase in (None, "Pending") and not meta.get("deletionTimestamp"):
            self.write_status("/persistentvolumes", pv, {"phase": "Available", "lastPhaseTransitionTime":
                                                         now_rfc3339()})

    # ---- ResourceQuota ----------------------------------------------------------------------------

    def sync_quotas(self, ns):
        quotas = self.store.list("/resourcequotas", ns)
        if not quotas:
            return
        for q in quotas:
            hard = dict(((q.get("spec") or {}).get("hard")) or {})
            used = {}
            for resource in hard:
                n = self.api.quota_used(ns, resource)
                used[resource] = str(n) if n is not None else self._compute_used(ns, resource)
            self.write_status("/resourcequotas", q, {"hard": hard, "used": used})

    def _compute_used(self, ns, resource):
        section, _, name = resource.rpartition(".")
        section = {"": "requests", "requests": "requests", "limits": "limits"}.get(section)
        if section is None:
            return "0"
        total = 0.0
        for p in self.store.list("/pods", ns):
            if (p.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
                continue
            for c in (p.get("spec") or {}).get("containers") or []:
                q = ((c.get("resources") or {}).get(section) or {}).get(name)
                total += parse_quantity(q) or 0.0
        if name == "cpu":
            millis = int(round(total * 1000))
            return str(millis // 1000) if millis % 1000 == 0 else "%dm" % millis
        value = int(round(total))
        for suffix, size in (("Gi", 2 ** 30), ("Mi", 2 ** 20), ("Ki", 2 ** 10)):
            if value and value % size == 0:
                return "%d%s" % (value // size, suffix)
        return str(value)
