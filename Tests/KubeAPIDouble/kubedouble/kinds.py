"""The resource types the double serves, and the discovery and OpenAPI documents built from them.

One `Kind` per group/version/resource. Built-in kinds are fixed; creating a
CustomResourceDefinition registers its served versions here, which is all a
generic custom object needs (storage, REST, discovery and tables are generic).
"""
import hashlib
import threading

ALL_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
NO_COLLECTION_DELETE = ["create", "delete", "get", "list", "patch", "update", "watch"]
STATUS = ("status", None, None, None, ["get", "patch", "update"])
SCALE = ("scale", "autoscaling", "v1", "Scale", ["get", "patch", "update"])
META_FIELDS = {"name", "generateName", "namespace", "selfLink", "uid", "resourceVersion", "generation",
               "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "labels", "annotations",
               "ownerReferences", "finalizers", "managedFields"}
SPEC_STATUS = {"spec", "status"}


class Kind:
    def __init__(self, group, version, kind, plural, namespaced, short_names=(), verbs=ALL_VERBS,
                 categories=(), subresources=(), singular=None, names="subdomain", fields=SPEC_STATUS,
                 returns_object=False, schema_prefix=None, crd=None):
        self.group = group
        self.version = version
        self.kind = kind
        self.plural = plural
        self.singular = singular or kind.lower()
        self.namespaced = namespaced
        self.short_names = list(short_names)
        self.verbs = list(verbs)
        self.categories = list(categories)
        # (name, group, version, kind, verbs); group None means "this kind".
        self.subresources = {s[0]: s for s in subresources}
        self.has_status = "status" in self.subresources
        # How metadata.name is checked: subdomain, label (DNS-1123), dns1035, path (RBAC), crd.
        self.names = names
        # Known top-level fields besides apiVersion/kind/metadata (None: anything, for custom resources).
        self.fields = fields
        # Whether DELETE answers with the object (pods, services, namespaces) or a Status (the rest).
        self.returns_object = returns_object
        self.schema_prefix = schema_prefix
        self.crd = crd  # the CRD object for custom kinds
        self.key = group + "/" + plural  # storage key, shared by every version of a resource
        self.api_version = group + "/" + version if group else version
        self.list_kind = kind + "List"
        self.printer_columns = []

    @property
    def is_custom(self):
        return self.crd is not None

    @property
    def prefix(self):
        return "/api/" + self.version if not self.group else "/apis/%s/%s" % (self.group, self.version)

    def __repr__(self):
        return "Kind(%s %s)" % (self.api_version, self.kind)


def _core(kind, plural, namespaced, **kw):
    kw.setdefault("schema_prefix", "io.k8s.api.core.v1")
    return Kind("", "v1", kind, plural, namespaced, **kw)


def builtin_kinds():
    event_fields = {"involvedObject", "reason", "message", "source", "firstTimestamp", "lastTimestamp", "count",
                    "type", "eventTime", "series", "action", "related", "reportingComponent", "reportingInstance"}
    apps = "io.k8s.api.apps.v1"
    rbac = "io.k8s.api.rbac.v1"
    net = "io.k8s.api.networking.v1"
    return [
        _core("Namespace", "namespaces", False, short_names=["ns"], verbs=NO_COLLECTION_DELETE, names="label",
              subresources=[STATUS, ("finalize", None, None, None, ["update"])], returns_object=True),
        _core("Node", "nodes", False, short_names=["no"], subresources=[STATUS], returns_object=True),
        _core("ServiceAccount", "serviceaccounts", True, short_names=["sa"],
              fields={"secrets", "imagePullSecrets", "automountServiceAccountToken"}),
        _core("Secret", "secrets", True, fields={"data", "stringData", "type", "immutable"}),
        _core("ConfigMap", "configmaps", True, short_names=["cm"], fields={"data", "binaryData", "immutable"}),
        _core("PersistentVolume", "persistentvolumes", False, short_names=["pv"], subresources=[STATUS]),
        _core("PersistentVolumeClaim", "persistentvolumeclaims", True, short_names=["pvc"], subresources=[STATUS]),
        _core("Pod", "pods", True, short_names=["po"], categories=["all"], returns_object=True,
              subresources=[STATUS, ("log", None, None, "Pod", ["get"])]),
        _core("Service", "services", True, short_names=["svc"], categories=["all"], subresources=[STATUS],
              names="dns1035", returns_object=True),
        _core("Event", "events", True, short_names=["ev"], fields=event_fields),
        _core("ResourceQuota", "resourcequotas", True, short_names=["quota"], subresources=[STATUS]),
        _core("LimitRange", "limitranges", True, short_names=["limits"]),
        Kind("apps", "v1", "Deployment", "deployments", True, short_names=["deploy"], categories=["all"],
             subresources=[SCALE, STATUS], schema_prefix=apps),
        Kind("apps", "v1", "StatefulSet", "statefulsets", True, short_names=["sts"], categories=["all"],
             subresources=[SCALE, STATUS], schema_prefix=apps),
        Kind("apps", "v1", "ReplicaSet", "replicasets", True, short_names=["rs"], categories=["all"],
             subresources=[SCALE, STATUS], schema_prefix=apps),
        Kind("batch", "v1", "Job", "jobs", True, categories=["all"], subresources=[STATUS],
             schema_prefix="io.k8s.api.batch.v1"),
        Kind("rbac.authorization.k8s.io", "v1", "Role", "roles", True, names="path", fields={"rules"},
             schema_prefix=rbac),
        Kind("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", True, names="path",
             fields={"subjects", "roleRef"}, schema_prefix=rbac),
        Kind("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", False, names="path",
             fields={"rules", "aggregationRule"}, schema_prefix=rbac),
        Kind("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", False, names="path",
             fields={"subjects", "roleRef"}, schema_prefix=rbac),
        Kind("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", True, short_names=["netpol"],
             schema_prefix=net),
        Kind("networking.k8s.io", "v1", "Ingress", "ingresses", True, short_names=["ing"], subresources=[STATUS],
             schema_prefix=net),
        Kind("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions", False,
             short_names=["crd", "crds"], subresources=[STATUS], names="crd",
             schema_prefix="io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1"),
    ]


def custom_kinds(crd):
    """The Kinds a CustomResourceDefinition serves (one per served version)."""
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    group = spec.get("group", "")
    namespaced = spec.get("scope", "Namespaced") == "Namespaced"
    result = []
    for version in spec.get("versions") or []:
        if not version.get("served", True):
            continue
        subs = []
        subresources = version.get("subresources") or {}
        if "status" in subresources:
            subs.append(STATUS)
        if "scale" in subresources:
            subs.append(SCALE)
        k = Kind(group, version["name"], names.get("kind", ""), names.get("plural", ""), namespaced,
                 short_names=names.get("shortNames") or [], categories=names.get("categories") or [],
                 singular=names.get("singular") or names.get("kind", "").lower(), subresources=subs,
                 fields=None, schema_prefix=".".join(reversed(group.split("."))) + "." + version["name"], crd=crd)
        k.list_kind = names.get("listKind") or k.kind + "List"
        k.printer_columns = version.get("additionalPrinterColumns") or []
        k.scale_spec = subresources.get("scale")
        result.append(k)
    return result


def _version_priority(version):
    """Kubernetes version ordering: GA > beta > alpha, higher numbers first (used for preferredVersion)."""
    import re
    m = re.match(r"^v(\d+)(?:(alpha|beta)(\d+))?$", version)
    if not m:
        return (0, 0, 0, version)
    level = {"alpha": 1, "beta": 2, None: 3}[m.group(2)]
    return (1, level, int(m.group(1)), int(m.group(3) or 0))


class Registry:
    """Thread-safe map from (group, version, plural) to Kind, plus the documents built from it."""

    def __init__(self):
        self.lock = threading.RLock()
        self.reset()

    def reset(self):
        with self.lock:
            self._by_gvr = {}
            self._by_gvk = {}
            self._by_key = {}
            self._groups = {}  # group -> [versions] in registration order
            self._crd_kinds = {}  # crd name -> [Kind]
            self.generation = 0
            for k in builtin_kinds():
                self._add(k)

    def _add(self, k):
        self._by_gvr[(k.group, k.version, k.plural)] = k
        self._by_gvk[(k.group, k.version, k.kind)] = k
        self._by_key.setdefault(k.key, k)
        versions = self._groups.setdefault(k.group, [])
        if k.version not in versions:
            versions.append(k.version)
        self.generation += 1

    def register_crd(self, crd):
        with self.lock:
            self.unregister_crd(crd["metadata"]["name"])
            kinds = custom_kinds(crd)
            for k in kinds:
                self._add(k)
            # The storage kind (key) should be the storage version when there is one.
            for version in (crd.get("spec") or {}).get("versions") or []:
                if version.get("storage"):
                    for k in kinds:
                        if k.version == version["name"]:
                            self._by_key[k.key] = k
            self._crd_kinds[crd["metadata"]["name"]] = kinds
            return kinds

    def unregister_crd(self, name):
        with self.lock:
            kinds = self._crd_kinds.pop(name, [])
            for k in kinds:
                self._by_gvr.pop((k.group, k.version, k.plural), None)
                self._by_gvk.pop((k.group, k.version, k.kind), None)
                if self._by_key.get(k.key) is k:
                    del self._by_key[k.key]
                versions = self._groups.get(k.group, [])
                if k.version in versions and not any(
                        g == k.group and v == k.version for (g, v, _) in self._by_gvr):
                    versions.remove(k.version)
                if not versions:
                    self._groups.pop(k.group, None)
            # A version still served by another resource stays.
            for k in kinds:
                if k.key not in self._by_key:
                    for other in self._by_gvr.values():
                        if other.key == k.key:
                            self._by_key[k.key] = other
                            break
            if kinds:
                self.generation += 1
            return kinds

    def get(self, group, version, plural):
        return self._by_gvr.get((group, version, plural))

    def by_gvk(self, group, version, kind):
        return self._by_gvk.get((group, version, kind))

    def by_key(self, key):
        return self._by_key.get(key)

    def by_api_version_kind(self, api_version, kind):
        group, _, version = api_version.rpartition("/")
        return self._by_gvk.get((group, version, kind))

    def has_group_version(self, group, version):
        return version in self._groups.get(group, [])

    def kinds(self):
        with self.lock:
            return list(self._by_gvr.values())

    def storage_kinds(self):
        with self.lock:
            return list(self._by_key.values())

    def group_versions(self):
        with self.lock:
            return {g: list(v) for g, v in self._groups.items()}

    def preferred_version(self, group):
        versions = self._groups.get(group, [])
        return max(versions, key=_version_priority) if versions else None

    # ---- legacy discovery -------------------------------------------------------------------

    def api_versions(self, server_address):
        return {"kind": "APIVersions", "versions": ["v1"],
                "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}]}

    def _api_group(self, group):
        versions = sorted(self._groups[group], key=_version_priority, reverse=True)
        preferred = self.preferred_version(group)
        return {"name": group,
                "versions": [{"groupVersion": group + "/" + v, "version": v} for v in versions],
                "preferredVersion": {"groupVersion": group + "/" + preferred, "version": preferred}}

    def api_group_list(self):
        with self.lock:
            groups = [self._api_group(g) for g in self._groups if g]
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}

    def api_group(self, group):
        with self.lock:
            if group not in self._groups or not group:
                return None
            body = self._api_group(group)
        body.update({"kind": "APIGroup", "apiVersion": "v1"})
        return body

    def resource_list(self, group, version):
        with self.lock:
            if not self.has_group_version(group, version):
                return None
            kinds = sorted((k for k in self._by_gvr.values() if k.group == group and k.version == version),
                           key=lambda k: k.plural)
        resources = []
        for k in kinds:
            entry = {"name": k.plural, "singularName": k.singular, "namespaced": k.namespaced, "kind": k.kind,
                     "verbs": k.verbs}
            if k.short_names:
                entry["shortNames"] = k.short_names
            if k.categories:
                entry["categories"] = k.categories
            entry["storageVersionHash"] = hashlib.sha256(k.key.encode()).hexdigest()[:12]
            resources.append(entry)
            for name, g, v, kind, verbs in k.subresources.values():
                sub = {"name": k.plural + "/" + name, "singularName": "", "namespaced": k.namespaced,
                       "kind": kind or k.kind, "verbs": verbs}
                if g is not None:
                    sub["group"] = g
                    sub["version"] = v
                resources.append(sub)
        gv = group + "/" + version if group else version
        return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}

    # ---- aggregated discovery (apidiscovery.k8s.io/v2), what kubectl >= 1.30 asks for first ------

    def aggregated(self, core):
        with self.lock:
            groups = [""] if core else [g for g in self._groups if g]
            items = []
            for group in groups:
                versions = []
                for version in sorted(self._groups.get(group, []), key=_version_priority, reverse=True):
                    resources = []
                    for k in sorted((k for k in self._by_gvr.values()
                                     if k.group == group and k.version == version), key=lambda k: k.plural):
                        r = {"resource": k.plural, "responseKind": {"group": "", "version": "", "kind": k.kind},
                             "scope": "Namespaced" if k.namespaced else "Cluster", "singularResource": k.singular,
                             "verbs": k.verbs}
                        if k.short_names:
                            r["shortNames"] = k.short_names
                        if k.categories:
                            r["categories"] = k.categories
                        subs = []
                        for name, g, v, kind, verbs in k.subresources.values():
                            subs.append({"subresource": name,
                                         "responseKind": {"group": g if g is not None else k.group,
                                                          "version": v if v is not None else k.version,
                                                          "kind": kind or k.kind},
                                         "verbs": verbs})
                        if subs:
                            r["subresources"] = subs
                        resources.append(r)
                    versions.append({"version": version, "resources": resources, "freshness": "Current"})
                meta = {"creationTimestamp": None}
                if group:
                    meta["name"] = group
                items.append({"metadata": meta, "versions": versions})
        return {"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "metadata": {},
                "items": items}

    # ---- OpenAPI v3 ---------------------------------------------------------------------------
    # kubectl's default validation (--validate=strict) asks the OpenAPI v3 document of the object's
    # group/version whether its PATCH operation takes the `fieldValidation` query parameter; if so it
    # leaves validation to the server (?fieldValidation=Strict). These documents say exactly that.

    def openapi_v3_root(self):
        with self.lock:
            paths = {}
            for group, versions in self._groups.items():
                for version in versions:
                    path = "api/" + version if not group else "apis/%s/%s" % (group, version)
                    paths[path] = {"serverRelativeURL": "/openapi/v3/%s?hash=%s" % (path, self._doc_hash(path))}
        return {"paths": paths}

    def _doc_hash(self, path):
        return hashlib.sha256(("%s:%d" % (path, self.generation)).encode()).hexdigest()[:32].upper()

    def openapi_v3_doc(self, path, server_version):
        parts = path.strip("/").split("/")
        if parts[0] == "api" and len(parts) == 2:
            group, version = "", parts[1]
        elif parts[0] == "apis" and len(parts) == 3:
            group, version = parts[1], parts[2]
        else:
            return None
        with self.lock:
            if not self.has_group_version(group, version):
                return None
            kinds = [k for k in self._by_gvr.values() if k.group == group and k.version == version]
        params = [{"name": n, "in": "query", "description": d, "schema": {"type": "string", "uniqueItems": True}}
                  for n, d in (("dryRun", "When present, modifications are not persisted."),
                               ("fieldManager", "The name of the actor making the change."),
                               ("fieldValidation", "Ignore, Warn or Strict: how to treat unknown fields."))]
        params.append({"name": "force", "in": "query", "schema": {"type": "boolean", "uniqueItems": True}})
        paths = {}
        schemas = {}
        for k in kinds:
            gvk = {"group": k.group, "version": k.version, "kind": k.kind}
            ref = "%s.%s" % (k.schema_prefix, k.kind)
            schemas[ref] = {"type": "object", "description": "%s (kube-double: schema not modelled)" % k.kind,
                            "properties": {"apiVersion": {"type": "string"}, "kind": {"type": "string"},
                                           "metadata": {"type": "object"}},
                            "x-kubernetes-group-version-kind": [gvk]}
            item = k.prefix + ("/namespaces/{namespace}/" if k.namespaced else "/") + k.plural + "/{name}"
            ok = {"200": {"description": "OK", "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/" + ref}}}}}
            paths[item] = {
                "get": {"operationId": "read" + k.kind, "x-kubernetes-action": "get",
                        "x-kubernetes-group-version-kind": gvk, "responses": ok},
                "put": {"operationId": "replace" + k.kind, "x-kubernetes-action": "put",
                        "x-kubernetes-group-version-kind": gvk, "parameters": params, "responses": ok},
                "patch": {"operationId": "patch" + k.kind, "x-kubernetes-action": "patch",
                          "x-kubernetes-group-version-kind": gvk, "parameters": params, "responses": ok},
                "delete": {"operationId": "delete" + k.kind, "x-kubernetes-action": "delete",
                           "x-kubernetes-group-version-kind": gvk, "responses": ok},
            }
        return {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": server_version},
                "paths": paths, "components": {"schemas": schemas}}


# OpenAPI v2 is only served as protobuf (gnostic openapi_v2.Document). Older kubectl (1.20) fetches it
# for client-side validation; a Document that holds only `swagger: "2.0"` has no definitions, so
# kubectl finds no schema for any kind and skips client-side validation (the server still validates).
OPENAPI_V2_PROTOBUF = b"\x0a\x032.0" + b"\x12\x15\x0a\x0aKubernetes\x12\x07v1.31.0"
