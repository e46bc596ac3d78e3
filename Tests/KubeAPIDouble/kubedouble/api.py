"""The REST semantics of the API server: create, get, list, update, patch, apply, delete.

Shared by the HTTP handler (on behalf of clients) and the controller (as
kube-controller-manager), so that both go through the same defaulting,
validation, admission (namespace lifecycle, quota), resourceVersion and
managedFields rules. Every operation runs under the store lock, so a
read-modify-write is atomic.
"""
import base64
import json
import uuid

import yaml

from . import errors as E
from . import managed, validation
from .behaviours import pod_behaviour
from .kinds import META_FIELDS
from .patch import json_patch, merge_patch, strategic_merge
from .selectors import selector_object_to_string
from .util import clone, now_rfc3339, parse_quantity, random_suffix

NODE_NAME = "double-node"
SYSTEM_MANAGER = "kube-controller-manager"
JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"


def _first(params, key):
    values = params.get(key)
    return values[0] if values else None


class Context:
    """Who is asking and how: the request's user, dryRun/fieldManager/fieldValidation/force, warnings."""

    def __init__(self, user="system:admin", restricted_ns=None, user_agent="", params=None):
        params = params or {}
        self.user = user
        self.restricted_ns = restricted_ns
        self.user_agent = user_agent or ""
        self.dry_run = "All" in (params.get("dryRun") or [])
        self.field_manager = _first(params, "fieldManager")
        self.field_validation = _first(params, "fieldValidation")
        self.force = str(_first(params, "force")).lower() == "true"
        self.warnings = []

    def manager(self):
        if self.field_manager:
            return self.field_manager
        # The real API server names the manager after the User-Agent up to its first '/'.
        prefix = self.user_agent.split("/", 1)[0].strip()
        return prefix[:128] or "unknown"


def system_context():
    ctx = Context(user="system:kube-controller-manager")
    ctx.field_manager = SYSTEM_MANAGER
    return ctx


def _spec_part(obj):
    return {k: v for k, v in obj.items() if k not in ("metadata", "status", "apiVersion", "kind")}


def _without_volatile(obj):
    meta = {k: v for k, v in (obj.get("metadata") or {}).items() if k not in ("resourceVersion", "managedFields")}
    out = dict(obj)
    out["metadata"] = meta
    return out


_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def parse_yaml_or_json(raw):
    """Apply bodies are YAML, of which JSON is a subset; most clients send JSON, which parses far faster."""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    if text.lstrip().startswith("{"):
        try:
            return json.loads(text)
        except ValueError:
            pass
    try:
        return yaml.load(text, Loader=_LOADER)
    except yaml.YAMLError as e:
        raise E.bad_request("error decoding YAML: %s" % str(e).replace("\n", " "))


def qos_class(spec):
    containers = (spec or {}).get("containers") or []
    any_set, guaranteed = False, True
    for ctr in containers:
        res = ctr.get("resources") or {}
        limits, requests = res.get("limits") or {}, res.get("requests") or {}
        if limits or requests:
            any_set = True
        for r in ("cpu", "memory"):
            if r not in limits or (r in requests and requests[r] != limits[r]):
                guaranteed = False
    if not any_set:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


class Api:
    def __init__(self, store, registry):
        self.store = store
        self.registry = registry
        self.enqueue_gc = lambda uid, foreground: None  # set by the controller
        self.reset_counters()

    def reset_counters(self):
        self._next_ip = 10
        self._next_node_port = 30000

    # ---- helpers --------------------------------------------------------------------------------

    def present(self, kind, obj):
        """Objects are answered in the version the client asked for (custom resources: no conversion)."""
        if obj.get("apiVersion") != kind.api_version:
            obj = dict(obj, apiVersion=kind.api_version)
        return obj

    def kind_of_key(self, key):
        return self.registry.by_key(key)

    @staticmethod
    def scope(kind, subresource):
        if subresource in ("status", "scale"):
            return subresource
        return "object" if kind.has_status else "object+status"

    def fields_of(self, kind, subresource):
        if subresource == "status":
            return managed.status_fields
        if subresource == "scale":
            return lambda o: {("f:spec", "f:replicas")} if "replicas" in (o.get("spec") or {}) else set()
        return lambda o: managed.object_fields(o, kind.has_status)

    def _check_body(self, kind, ns, name, body):
        if not isinstance(body, dict):
            raise E.bad_request("Object 'Kind' is missing in '%s'" % json.dumps(body)[:200])
        api_version = body.get("apiVersion")
        if api_version and api_version != kind.api_version:
            raise E.bad_request("the API version in the data (%s) does not match the expected API version (%s)"
                                % (api_version, kind.api_version))
        k = body.get("kind")
        if k and k != kind.kind:
            raise E.bad_request('%s in version "%s" cannot be handled as a %s: no kind "%s" is registered for '
                                'version "%s"' % (k, kind.version, kind.kind, k, kind.api_version))
        meta = body.get("metadata")
        if meta is not None and not isinstance(meta, dict):
            raise E.bad_request("json: cannot unmarshal %s into Go struct field .metadata of type "
                                "v1.ObjectMeta" % type(meta).__name__)
        meta = meta or {}
        if kind.namespaced and meta.get("namespace") and meta["namespace"] != ns:
            raise E.bad_request("the namespace of the provided object does not match the namespace sent on the "
                                "request")
        if name is not None and meta.get("name") != name:
            raise E.bad_request("the name of the object (%s) does not match the name on the URL (%s)"
                                % (meta.get("name", ""), name))

    def _strip_unknown(self, ctx, kind, obj):
        unknown = []
        if kind.fields is not None:
            allowed = kind.fields | {"apiVersion", "kind", "metadata"}
            unknown = [k for k in obj if k not in allowed]
        meta = obj.get("metadata") or {}
        unknown_meta = [k for k in meta if k not in META_FIELDS]
        names = unknown + ["metadata." + k for k in unknown_meta]
        if not names:
            return
        if ctx.field_validation == "Strict":
            raise E.bad_request('%s in version "%s" cannot be handled as a %s: strict decoding error: %s' % (
                kind.kind, kind.version, kind.kind, ", ".join('unknown field "%s"' % n for n in names)))
        if ctx.field_validation != "Ignore":
            ctx.warnings.extend('unknown field "%s"' % n for n in names)
        for k in unknown:
            del obj[k]
        for k in unknown_meta:
            del meta[k]

    def _check_namespace(self, kind, ns, name):
        nsobj = self.store.get("/namespaces", "", ns)
        if nsobj is None:
            raise E.namespace_not_found(ns)
        if nsobj["metadata"].get("deletionTimestamp") or (nsobj.get("status") or {}).get("phase") == "Terminating":
            raise E.forbidden_message(kind, name, "unable to create new content in namespace %s because it is "
                                                  "being terminated" % ns)

    # ---- quota ----------------------------------------------------------------------------------

    LEGACY_QUOTA = {"pods": "/pods", "services": "/services", "configmaps": "/configmaps", "secrets": "/secrets",
                    "persistentvolumeclaims": "/persistentvolumeclaims", "resourcequotas": "/resourcequotas",
                    "replicationcontrollers": "/replicationcontrollers"}

    @staticmethod
    def quota_key(resource):
        """The storage key a ResourceQuota resource name counts, or None (compute resources are not enforced)."""
        if resource in Api.LEGACY_QUOTA:
            return Api.LEGACY_QUOTA[resource]
        if resource.startswith("count/"):
            plural, _, group = resource[len("count/"):].partition(".")
            return group + "/" + plural
        return None

    def quota_used(self, ns, resource):
        key = self.quota_key(resource)
        if key is None:
            return None
        if key == "/pods":
            return sum(1 for p in self.store.list("/pods", ns)
                       if (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed"))
        return self.store.count(key, ns)

    def _check_quota(self, kind, ns, obj):
        quotas = self.store.list("/resourcequotas", ns)
        if not quotas:
            return
        # As in a real cluster, a generated name is reported by its prefix: quota is
        # checked before the name exists. (It also keeps the message stable, so a
        # controller retrying does not write a new status and event each time.)
        name = obj["metadata"].get("generateName") or obj["metadata"].get("name")
        for q in quotas:
            hard = (q.get("spec") or {}).get("hard") or {}
            for resource, limit in hard.items():
                if self.quota_key(resource) != kind.key:
                    continue
                used = self.quota_used(ns, resource)
                if used + 1 > (parse_quantity(limit) or 0):
                    raise E.forbidden_message(kind, name, "exceeded quota: %s, requested: %s=1, used: %s=%d, "
                                              "limited: %s=%s" % (q["metadata"]["name"], resource, resource, used,
                                                                  resource, limit))

    # ---- create ---------------------------------------------------------------------------------

    def _allocate_ip(self):
        n = self._next_ip
        self._next_ip += 1
        return "10.96.%d.%d" % (n // 250, n % 250 + 1)

    def _prepare_create(self, kind, obj):
        """What each kind's registry strategy does on create (status reset, allocations)."""
        if kind.has_status:
            obj.pop("status", None)
        if kind.is_custom:
            return
        k = kind.kind
        meta = obj["metadata"]
        if k == "Namespace":
            obj["status"] = {"phase": "Active"}
        elif k == "Pod":
            spec = obj.setdefault("spec", {})
            obj["status"] = {"phase": "Pending", "qosClass": qos_class(spec)}
            if pod_behaviour(obj) != "pending" and not spec.get("nodeName"):
                spec["nodeName"] = NODE_NAME
        elif k == "Service":
            spec = obj.setdefault("spec", {})
            if spec.get("type") != "ExternalName":
                if spec.get("clusterIP") in (None, ""):
                    spec["clusterIP"] = self._allocate_ip()
                spec["clusterIPs"] = [spec["clusterIP"]]
                if spec.get("type") in ("NodePort", "LoadBalancer"):
                    for p in spec.get("ports") or []:
                        if "nodePort" not in p:
                            p["nodePort"] = self._next_node_port
                            self._next_node_port += 1
            obj["status"] = {"loadBalancer": {}}
        elif k == "Job":
            spec = obj.setdefault("spec", {})
            uid = meta["uid"]
            if not spec.get("manualSelector"):
                spec["selector"] = {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
            template = spec.setdefault("template", {})
            labels = template.setdefault("metadata", {}).setdefault("labels", {})
            labels.update({"batch.kubernetes.io/controller-uid": uid, "batch.kubernetes.io/job-name": meta["name"],
                           "controller-uid": uid, "job-name": meta["name"]})
        elif k in ("PersistentVolumeClaim", "PersistentVolume"):
            obj["status"] = {"phase": "Pending"}
        elif k == "CustomResourceDefinition":
            spec = obj.get("spec") or {}
            storage = [v.get("name") for v in spec.get("versions") or [] if v.get("storage")]
            t = now_rfc3339()
            obj["status"] = {
                "acceptedNames": dict(spec.get("names") or {}),
                "conditions": [
                    {"type": "NamesAccepted", "status": "True", "lastTransitionTime": t, "reason": "NoConflicts",
                     "message": "no conflicts found"},
                    {"type": "Established", "status": "True", "lastTransitionTime": t, "reason": "InitialNamesAccepted",
                     "message": "the initial names have been accepted"}],
                "storedVersions": storage}

    def create(self, ctx, kind, ns, body):
        self._check_body(kind, ns, None, body)
        with self.store.lock:
            return self._create(ctx, kind, ns, clone(body), managed_done=False)

    def _create(self, ctx, kind, ns, obj, managed_done):
        meta = obj.setdefault("metadata", {})
        obj["apiVersion"], obj["kind"] = kind.api_version, kind.kind
        if kind.namespaced:
            meta["namespace"] = ns
        else:
            meta.pop("namespace", None)
        if meta.get("resourceVersion") and not managed_done:
            raise E.bad_request("resourceVersion should not be set on objects to be created")
        for k in ("resourceVersion", "uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds",
                  "generation", "selfLink"):
            meta.pop(k, None)
        if not managed_done:
            meta.pop("managedFields", None)
        if not meta.get("name") and meta.get("generateName"):
            c = validation.Causes()
            validation.check_name(c, kind, meta["generateName"], "metadata.generateName", prefix=True)
            if c:
                raise E.invalid(kind, meta["generateName"], c)
            for _ in range(20):
                candidate = meta["generateName"] + random_suffix(5)
                if self.store.get(kind.key, ns, candidate) is None:
                    break
            meta["name"] = candidate
        self._strip_unknown(ctx, kind, obj)
        if kind.kind == "Secret" and not kind.is_custom:
            validation.normalize_secret(obj)
        meta["uid"] = str(uuid.uuid4())
        name = meta.get("name")
        if kind.namespaced:
            self._check_namespace(kind, ns, name)
        validation.apply_defaults(kind, obj)
        self._prepare_create(kind, obj)
        causes = validation.validate(kind, obj)
        if causes:
            raise E.invalid(kind, name, causes)
        if kind.namespaced:
            self._check_quota(kind, ns, obj)
        if self.store.get(kind.key, ns, name) is not None:
            raise E.already_exists(kind, name)
        now = now_rfc3339()
        meta["creationTimestamp"] = now
        meta["generation"] = 1
        if not managed_done:
            managed.record_update(None, obj, ctx.manager(), kind.api_version, "", now, self.scope(kind, ""))
        if ctx.dry_run:
            return obj
        stored = self.store.put(kind.key, obj, "ADDED")
        self._after_write(kind, stored)
        return stored

    def _after_write(self, kind, obj):
        if kind.kind == "CustomResourceDefinition" and not kind.is_custom:
            self.registry.register_crd(obj)

    # ---- read -----------------------------------------------------------------------------------

    def get(self, kind, ns, name):
        obj = self.store.get(kind.key, ns if kind.namespaced else "", name)
        if obj is None:
            raise E.not_found(kind, name)
        return obj

    def list(self, kind, ns, label_selector, field_selector, limit=None, continue_token=None):
        """(items, resourceVersion, continue, remainingItemCount)."""
        with self.store.lock:
            rv = self.store.rv
            after = None
            if continue_token:
                try:
                    token = json.loads(base64.urlsafe_b64decode(continue_token.encode() + b"==="))
                    token_rv, after = int(token["rv"]), tuple(token["start"])
                except Exception:
                    raise E.bad_request("continue key is not valid: incorrect encoded start resourceVersion "
                                        "(version meta.k8s.io/v1)")
                if token_rv < self.store.compacted_rv:
                    raise E.continue_expired()
                rv = token_rv
            name = field_selector.exact_name()
            if name is not None and (ns is not None or not kind.namespaced):
                # metadata.name=X (kubectl wait/delete): one lookup instead of a scan.
                one = self.store.get(kind.key, ns or "", name)
                candidates = [one] if one is not None else []
            else:
                candidates = self.store.list(kind.key, ns if kind.namespaced else "")
        items = []
        for obj in candidates:
            meta = obj["metadata"]
            if after is not None and (meta.get("namespace", ""), meta["name"]) <= after:
                continue
            if not label_selector.empty and not label_selector.matches(meta.get("labels")):
                continue
            if not field_selector.empty and not field_selector.matches(obj):
                continue
            items.append(obj)
        cont, remaining = None, None
        if limit and len(items) > limit:
            remaining = len(items) - limit
            items = items[:limit]
            last = items[-1]["metadata"]
            cont = base64.urlsafe_b64encode(json.dumps(
                {"rv": rv, "start": [last.get("namespace", ""), last["name"]]}).encode()).decode().rstrip("=")
        return items, rv, cont, remaining

    # ---- update / patch / apply ------------------------------------------------------------------

    def _current(self, kind, ns, name):
        obj = self.store.get(kind.key, ns if kind.namespaced else "", name)
        if obj is None:
            raise E.not_found(kind, name)
        return obj

    def update(self, ctx, kind, ns, name, body, subresource=""):
        self._check_body(kind, ns, name, body)
        with self.store.lock:
            current = self._current(kind, ns, name)
            rv = (body.get("metadata") or {}).get("resourceVersion")
            if rv and rv != current["metadata"]["resourceVersion"]:
                raise E.conflict(kind, name)
            return self._update(ctx, kind, current, clone(body), subresource)

    def _update(self, ctx, kind, current, new, subresource, managed_done=False, entries_changed=False):
        """The common tail of PUT, PATCH, apply and controller writes. `new` is the caller's own dict."""
        cm = current["metadata"]
        if subresource == "status":
            # Only status changes; everything else is the current object (shallow copies suffice:
            # nothing below mutates nested values of a status update).
            status = new.get("status") if isinstance(new, dict) else None
            new = dict(current)
            new["metadata"] = dict(cm)
            if status is None:
                new.pop("status", None)
            else:
                new["status"] = status
        else:
            meta = new.setdefault("metadata", {})
            if not isinstance(meta, dict):
                raise E.bad_request("metadata must be an object")
            for k in ("name", "namespace", "uid", "creationTimestamp", "deletionTimestamp",
                      "deletionGracePeriodSeconds", "generation"):
                if k in cm:
                    meta[k] = cm[k]
                else:
                    meta.pop(k, None)
            if not managed_done:
                meta["managedFields"] = cm.get("managedFields")
            new["apiVersion"], new["kind"] = kind.api_version, kind.kind
            if kind.has_status or (kind.kind == "Namespace" and not kind.is_custom):
                if "status" in current:
                    new["status"] = current["status"]
                else:
                    new.pop("status", None)
            self._strip_unknown(ctx, kind, new)
            if kind.kind == "Secret" and not kind.is_custom:
                validation.normalize_secret(new)
            validation.apply_defaults(kind, new)
            causes = validation.validate(kind, new, current)
            if causes:
                raise E.invalid(kind, cm["name"], causes)
            if _spec_part(new) != _spec_part(current):
                meta["generation"] = cm.get("generation", 1) + 1
        meta = new["metadata"]
        # A write that changes nothing is not a write: same resourceVersion, no watch event.
        if _without_volatile(new) == _without_volatile(current) and not entries_changed:
            return current
        if not managed_done:
            managed.record_update(current, new, ctx.manager(), kind.api_version, subresource, now_rfc3339(),
                                  self.scope(kind, subresource))
        if not meta.get("managedFields"):
            meta.pop("managedFields", None)
        if ctx.dry_run:
            meta["resourceVersion"] = cm["resourceVersion"]
            return new
        if meta.get("deletionTimestamp") and not meta.get("finalizers"):
            return self._remove(kind, new, "Background")
        stored = self.store.put(kind.key, new, "MODIFIED")
        self._after_write(kind, stored)
        return stored

    def patch(self, ctx, kind, ns, name, content_type, raw, subresource=""):
        ct = (content_type or "").split(";")[0].strip().lower()
        if ct == APPLY_PATCH:
            return self.apply(ctx, kind, ns, name, raw, subresource)
        if ct not in (JSON_PATCH, MERGE_PATCH, STRATEGIC_PATCH) or (ct == STRATEGIC_PATCH and kind.is_custom):
            raise E.unsupported_media_type(ct)
        try:
            doc = json.loads(raw or b"null")
        except ValueError as e:
            raise E.bad_request("error decoding patch: %s" % e)
        if ct != JSON_PATCH and not isinstance(doc, dict):
            raise E.bad_request("json: cannot unmarshal %s into Go value of type map[string]interface {}"
                                % type(doc).__name__)
        with self.store.lock:
            current = self._current(kind, ns, name)
            if subresource == "scale":
                base = self.scale_of(kind, current)
            else:
                base = current
            if ct == JSON_PATCH:
                result = json_patch(base, doc)
            elif ct == MERGE_PATCH:
                result = merge_patch(base, doc)
            else:
                result = strategic_merge(base, doc)
            if not isinstance(result, dict):
                raise E.bad_request("the patch produced an object that is not a JSON object")
            rmeta = result.get("metadata") or {}
            if rmeta.get("name", name) != name:
                c = validation.Causes()
                c.invalid("metadata.name", rmeta.get("name"), "field is immutable")
                raise E.invalid(kind, name, c)
            if rmeta.get("resourceVersion") and rmeta["resourceVersion"] != current["metadata"]["resourceVersion"]:
                raise E.conflict(kind, name)
            if subresource == "scale":
                return self._set_scale(ctx, kind, current, result)
            return self._update(ctx, kind, current, result, subresource)

    def apply(self, ctx, kind, ns, name, raw, subresource=""):
        if not ctx.field_manager:
            raise E.bad_request("PATCH requests with content type application/apply-patch+yaml must have the "
                                "fieldManager query parameter set")
        config = parse_yaml_or_json(raw)
        if not isinstance(config, dict):
            raise E.bad_request("error decoding YAML: the body is not a YAML or JSON object")
        if not config.get("apiVersion") or not config.get("kind"):
            raise E.bad_request("Object 'Kind' is missing in '%s'" % json.dumps(config)[:200])
        config.setdefault("metadata", {})
        if isinstance(config["metadata"], dict) and not config["metadata"].get("name"):
            config["metadata"]["name"] = name
        self._check_body(kind, ns, name, config)
        if subresource not in ("", "status"):
            raise E.method_not_allowed()
        now = now_rfc3339()
        with self.store.lock:
            current = self.store.get(kind.key, ns if kind.namespaced else "", name)
            fields_of = self.fields_of(kind, subresource)
            if current is None:
                if subresource:
                    raise E.not_found(kind, name)
                obj = clone(config)
                obj.setdefault("metadata", {}).pop("resourceVersion", None)
                self._strip_unknown(ctx, kind, obj)
                obj, _ = managed.apply(None, obj, ctx.field_manager, kind.api_version, ctx.force, now, fields_of,
                                       kind.has_status, kind, name)
                return self._create(ctx, kind, ns, obj, managed_done=True), 201
            rv = config["metadata"].get("resourceVersion")
            if rv and rv != current["metadata"]["resourceVersion"]:
                raise E.conflict(kind, name)
            config = clone(config)
            config["metadata"].pop("resourceVersion", None)
            self._strip_unknown(ctx, kind, config)
            new, entries_changed = managed.apply(current, config, ctx.field_manager, kind.api_version, ctx.force,
                                                 now, fields_of, kind.has_status and subresource != "status", kind,
                                                 name)
            return self._update(ctx, kind, current, new, subresource, managed_done=True,
                                entries_changed=entries_changed), 200

    # ---- scale subresource ------------------------------------------------------------------------

    def scale_of(self, kind, obj):
        spec, status = obj.get("spec") or {}, obj.get("status") or {}
        meta = obj["metadata"]
        selector_text = "" if kind.is_custom else selector_object_to_string(spec.get("selector"))
        out_meta = {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
                    if k in meta}
        return {"kind": "Scale", "apiVersion": "autoscaling/v1", "metadata": out_meta,
                "spec": {"replicas": spec.get("replicas", 0)},
                "status": {"replicas": status.get("replicas", 0), "selector": selector_text}}

    def get_scale(self, kind, ns, name):
        return self.scale_of(kind, self._current(kind, ns, name))

    def update_scale(self, ctx, kind, ns, name, body):
        if not isinstance(body, dict):
            raise E.bad_request("Object 'Kind' is missing")
        with self.store.lock:
            current = self._current(kind, ns, name)
            rv = (body.get("metadata") or {}).get("resourceVersion")
            if rv and rv != current["metadata"]["resourceVersion"]:
                raise E.conflict(kind, name)
            return self._set_scale(ctx, kind, current, body)

    def _set_scale(self, ctx, kind, current, scale):
        replicas = (scale.get("spec") or {}).get("replicas", 0)
        if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
            from .kinds import Kind
            scale_kind = Kind("autoscaling", "v1", "Scale", "scale", True)
            raise E.invalid(scale_kind, current["metadata"]["name"],
                            [("spec.replicas", "FieldValueInvalid",
                              "Invalid value: %s: must be greater than or equal to 0" % json.dumps(replicas))])
        new = clone(current)
        new.setdefault("spec", {})["replicas"] = replicas
        stored = self._update(ctx, kind, current, new, "scale")
        return self.scale_of(kind, stored)

    # ---- delete -----------------------------------------------------------------------------------

    def default_policy(self, kind):
        if kind.kind == "Job" and kind.group == "batch":
            return "Orphan"
        return "Background"

    def delete(self, ctx, kind, ns, name, options):
        """Returns (body, http status)."""
        options = options or {}
        with self.store.lock:
            current = self._current(kind, ns, name)
            meta = current["metadata"]
            pre = options.get("preconditions") or {}
            if pre.get("uid") and pre["uid"] != meta.get("uid"):
                raise E.conflict_message(kind, name, "Precondition failed: UID in precondition: %s, UID in object "
                                                     "meta: %s" % (pre["uid"], meta.get("uid")))
            if pre.get("resourceVersion") and pre["resourceVersion"] != meta.get("resourceVersion"):
                raise E.conflict_message(kind, name, "Precondition failed: ResourceVersion in precondition: %s, "
                                                     "ResourceVersion in object meta: %s"
                                         % (pre["resourceVersion"], meta.get("resourceVersion")))
            policy = options.get("propagationPolicy")
            if policy is None and options.get("orphanDependents") is not None:
                policy = "Orphan" if options["orphanDependents"] else "Background"
            if policy is None:
                policy = self.default_policy(kind)
                if kind.kind == "Job" and kind.group == "batch":
                    ctx.warnings.append("child pods are preserved by default when jobs are deleted; set "
                                        "propagationPolicy=Background to remove them or set "
                                        "propagationPolicy=Orphan to suppress this warning")
            if policy not in ("Foreground", "Background", "Orphan"):
                raise E.bad_request('DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: Unsupported value: '
                                    '"%s": supported values: "Foreground", "Background", "Orphan", "nil"' % policy)
            dry = ctx.dry_run or "All" in (options.get("dryRun") or [])
            if kind.kind == "Namespace" and not kind.is_custom:
                return self._delete_namespace(current, dry)
            if meta.get("deletionTimestamp"):
                return self.present(kind, current), 202
            dependents = self.store.dependents_of(meta.get("uid"))
            finalizers = list(meta.get("finalizers") or [])
            if policy == "Foreground" and dependents and "foregroundDeletion" not in finalizers:
                finalizers.append("foregroundDeletion")
            if dry:
                return self._delete_answer(kind, current), 200
            if policy == "Orphan":
                for dep in dependents:
                    self._drop_owner(dep, meta.get("uid"))
            if finalizers:
                new = clone(current)
                new["metadata"]["finalizers"] = finalizers
                new["metadata"]["deletionTimestamp"] = now_rfc3339()
                new["metadata"]["deletionGracePeriodSeconds"] = 0
                stored = self.store.put(kind.key, new, "MODIFIED")
                if "foregroundDeletion" in finalizers:
                    self.enqueue_gc(meta.get("uid"), True)
                return self.present(kind, stored), 202
            final = self._remove(kind, current, policy)
            return self._delete_answer(kind, final), 200

    def _delete_answer(self, kind, obj):
        if kind.returns_object:
            return self.present(kind, obj)
        details = {"name": obj["metadata"]["name"]}
        if kind.group:
            details["group"] = kind.group
        details["kind"] = kind.plural
        details["uid"] = obj["metadata"].get("uid")
        return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details}

    def _remove(self, kind, obj, policy):
        meta = obj["metadata"]
        final = self.store.remove(kind.key, meta.get("namespace", ""), meta["name"])
        if final is None:
            return obj
        if kind.kind == "CustomResourceDefinition" and not kind.is_custom:
            self._drop_crd(final)
        if policy != "Orphan" and meta.get("uid") in self.store.dependents:
            self.enqueue_gc(meta["uid"], policy == "Foreground")
        return final

    def _drop_owner(self, dep, owner_uid):
        new = clone(dep)
        refs = [r for r in new["metadata"].get("ownerReferences") or [] if r.get("uid") != owner_uid]
        if refs:
            new["metadata"]["ownerReferences"] = refs
        else:
            new["metadata"].pop("ownerReferences", None)
        kind = self.registry.by_api_version_kind(dep.get("apiVersion", ""), dep.get("kind", ""))
        if kind is not None:
            self.store.put(kind.key, new, "MODIFIED")

    def _drop_crd(self, crd):
        spec = crd.get("spec") or {}
        key = spec.get("group", "") + "/" + ((spec.get("names") or {}).get("plural") or "")
        for ns in list(self.store.namespaces_of.get(key, ())):
            for obj in self.store.list(key, ns):
                self.store.remove(key, ns, obj["metadata"]["name"])
        self.registry.unregister_crd(crd["metadata"]["name"])

    def _delete_namespace(self, current, dry):
        kind = self.registry.get("", "v1", "namespaces")
        if current["metadata"].get("deletionTimestamp"):
            raise E.conflict_message(kind, current["metadata"]["name"],
                                     "The system is ensuring all content is removed from this namespace.  Upon "
                                     "completion, this namespace will automatically be purged by the system.")
        new = clone(current)
        new["metadata"]["deletionTimestamp"] = now_rfc3339()
        new["status"] = {"phase": "Terminating"}
        if dry:
            return new, 200
        return self.store.put(kind.key, new, "MODIFIED"), 200

    def purge_namespace(self, name):
        """The namespace controller's job: delete everything in a terminating namespace, then the namespace."""
        with self.store.lock:
            for key in list(self.store.keys_in_ns.get(name, ())):
                for obj in self.store.list(key, name):
                    self.store.remove(key, name, obj["metadata"]["name"])
            self.store.remove("/namespaces", "", name)

    def delete_collection(self, ctx, kind, ns, label_selector, field_selector, options):
        items, rv, _, _ = self.list(kind, ns, label_selector, field_selector)
        deleted = []
        for obj in items:
            meta = obj["metadata"]
            try:
                body, _ = self.delete(ctx, kind, meta.get("namespace", ""), meta["name"], options)
            except E.ApiError as e:
                if e.code == 404:
                    continue
                raise
            deleted.append(obj if body.get("kind") == "Status" else body)
        return {"kind": kind.list_kind, "apiVersion": kind.api_version,
                "metadata": {"resourceVersion": str(self.store.rv)},
                "items": [self.present(kind, o) for o in deleted]}

    # ---- garbage collection (run by the controller) ---------------------------------------------

    def collect(self, owner_uid, foreground):
        """Delete (or un-own) the dependents of a deleted or foreground-deleting owner."""
        ctx = system_context()
        with self.store.lock:
            for dep in self.store.dependents_of(owner_uid):
                refs = dep["metadata"].get("ownerReferences") or []
                others = [r for r in refs if r.get("uid") != owner_uid and self.store.by_uid_get(r.get("uid"))]
                if others:
                    self._drop_owner(dep, owner_uid)
                    continue
                kind = self.registry.by_api_version_kind(dep.get("apiVersion", ""), dep.get("kind", ""))
                if kind is None:
                    continue
                try:
                    self.delete(ctx, kind, dep["metadata"].get("namespace", ""), dep["metadata"]["name"],
                                {"propagationPolicy": "Foreground" if foreground else "Background"})
                except E.ApiError:
                    pass
            self.finish_foreground(owner_uid)

    def finish_foreground(self, owner_uid):
        """A foreground-deleting owner goes once it has no dependents left."""
        with self.store.lock:
            owner = self.store.by_uid_get(owner_uid)
            if owner is None or "foregroundDeletion" not in (owner["metadata"].get("finalizers") or []):
                return
            if self.store.dependents_of(owner_uid):
                return
            kind = self.registry.by_api_version_kind(owner.get("apiVersion", ""), owner.get("kind", ""))
            new = clone(owner)
            new["metadata"]["finalizers"] = [f for f in owner["metadata"]["finalizers"] if f != "foregroundDeletion"]
            if not new["metadata"]["finalizers"]:
                new["metadata"].pop("finalizers")
                self._remove(kind, new, "Background")
            else:
                self.store.put(kind.key, new, "MODIFIED")

    # ---- controller writes ------------------------------------------------------------------------

    def write_status(self, kind, current, status):
        """Controllers' status updates: only when something changed; managed by kube-controller-manager."""
        with self.store.lock:
            live = self.store.get(kind.key, current["metadata"].get("namespace", ""), current["metadata"]["name"])
            if live is None or live["metadata"].get("uid") != current["metadata"].get("uid"):
                return None
            if live.get("status") == status:
                return live
            new = dict(live)
            new["status"] = status
            new["metadata"] = dict(live["metadata"])
            return self._update(system_context(), kind, live, new, "status")
