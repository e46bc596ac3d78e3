"""HTTP(S) front end: TLS, keep-alive, routing, content negotiation, watch and log streams,
fault injection and the /_double control endpoints."""
import argparse
import json
import os
import select
import signal
import socket
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote

import yaml

from . import errors as E
from . import logs, tables
from .api import Api, Context, system_context
from .auth import Authenticator, authorize
from .certs import ensure_pki, write_kubeconfigs
from .controller import Controller
from .kinds import OPENAPI_V2_PROTOBUF, Registry
from .selectors import parse_field_selector, parse_label_selector
from .store import Store
from .util import dumps, is_true

SERVER_VERSION = {"major": "1", "minor": "31", "gitVersion": "v1.31.0", "gitCommit":
                  "7c48c2bd72b9bf5c44d21d7338cc7bea77d0ad2a", "gitTreeState": "clean", "buildDate":
                  "2024-08-13T07:28:49Z", "goVersion": "go1.22.5", "compiler": "gc", "platform": "linux/amd64"}
MAX_BODY = 3 * 1024 * 1024
ANONYMOUS_PATHS = ("/healthz", "/livez", "/readyz", "/version")
JSON = "application/json"


class Faults:
    """Injected failures: the next N matching requests get a status, or a dropped connection."""

    def __init__(self):
        self.lock = threading.Lock()
        self.rules = []

    def add(self, rule):
        if not isinstance(rule, dict) or not ("status" in rule or rule.get("drop")):
            raise E.bad_request('a fault needs "status" (e.g. 429, 500, 503) or "drop": true')
        rule = dict(rule)
        rule["count"] = int(rule.get("count", 1))
        with self.lock:
            self.rules.append(rule)
        return rule

    def take(self, method, path):
        with self.lock:
            for rule in self.rules:
                if rule.get("method") and rule["method"].upper() != method:
                    continue
                if rule.get("pathPrefix") and not path.startswith(rule["pathPrefix"]):
                    continue
                rule["count"] -= 1
                if rule["count"] <= 0:
                    self.rules.remove(rule)
                return rule
        return None

    def clear(self):
        with self.lock:
            self.rules = []

    def list(self):
        with self.lock:
            return [dict(r) for r in self.rules]


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        with self.lock:
            self.requests = 0
            self.by_verb = {}
            self.by_status = {}

    def count(self, verb, status):
        with self.lock:
            self.requests += 1
            self.by_verb[verb] = self.by_verb.get(verb, 0) + 1
            self.by_status[str(status)] = self.by_status.get(str(status), 0) + 1


class Request:
    """One parsed request as the app sees it."""

    def __init__(self, handler):
        self.h = handler
        self.method = handler.command
        raw_path, _, query = handler.path.partition("?")
        self.path = raw_path
        self.params = parse_qs(query, keep_blank_values=True)
        self.headers = handler.headers
        self.body = b""
        self.verb = "other"
        self.status = 0

    def param(self, key, default=None):
        v = self.params.get(key)
        return v[0] if v else default


class App:
    def __init__(self, options):
        self.options = options
        self.directory = options.dir
        self.registry = Registry()
        self.store = Store(history_size=options.history)
        self.api = Api(self.store, self.registry)
        with open(os.path.join(self.directory, "ca.crt")) as f:
            self.ca_pem = f.read()
        self.controller = Controller(self.api, self.store, self.registry, options.ready_delay, self.ca_pem,
                                     log=self.log if not options.quiet else None)
        self.auth = Authenticator(self.directory, options.token)
        self.faults = Faults()
        self.stats = Stats()
        self.port = 0
        self.started = time.time()
        self.stopping = threading.Event()
        self.log_lock = threading.Lock()
        self.bootstrap()

    def log(self, line):
        with self.log_lock:
            sys.stderr.write(line + "\n")
            sys.stderr.flush()

    # ---- initial state ---------------------------------------------------------------------------

    def bootstrap(self):
        """What a fresh cluster has: system namespaces, a node, the kubernetes Service, default ClusterRoles."""
        ctx = system_context()
        ctx.field_manager = "kube-apiserver"
        r = self.registry
        for ns in ("default", "kube-system", "kube-public", "kube-node-lease"):
            self.api.create(ctx, r.get("", "v1", "namespaces"), None, {"metadata": {"name": ns}})
        node = {"metadata": {"name": "double-node", "labels": {
            "kubernetes.io/hostname": "double-node", "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
            "node-role.kubernetes.io/control-plane": ""}},
            "spec": {"podCIDR": "10.244.0.0/24", "podCIDRs": ["10.244.0.0/24"]}}
        created = self.api.create(ctx, r.get("", "v1", "nodes"), None, node)
        self.api.write_status(r.get("", "v1", "nodes"), created, {
            "capacity": {"cpu": "2", "memory": "8Gi", "pods": "110", "ephemeral-storage": "100Gi"},
            "allocatable": {"cpu": "2", "memory": "8Gi", "pods": "110", "ephemeral-storage": "100Gi"},
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                            "message": "kubelet is posting ready status", "lastHeartbeatTime": created["metadata"][
                                "creationTimestamp"], "lastTransitionTime": created["metadata"]["creationTimestamp"]}],
            "addresses": [{"type": "InternalIP", "address": "10.89.0.2"}, {"type": "Hostname",
                                                                          "address": "double-node"}],
            "nodeInfo": {"kubeletVersion": "v1.31.0", "kubeProxyVersion": "", "osImage": "kube-double",
                         "kernelVersion": "6.1.0", "containerRuntimeVersion": "containerd://1.7.18",
                         "operatingSystem": "linux", "architecture": "amd64", "machineID": "", "systemUUID": "",
                         "bootID": ""}})
        self.api.create(ctx, r.get("", "v1", "services"), "default", {
            "metadata": {"name": "kubernetes", "labels": {"component": "apiserver", "provider": "kubernetes"}},
            "spec": {"clusterIP": "10.96.0.1", "ports": [{"name": "https", "port": 443, "targetPort": 6443}]}})
        rbac = r.get("rbac.authorization.k8s.io", "v1", "clusterroles")
        star = [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]
        edit_verbs = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
        for name, rules in (("cluster-admin", star + [{"nonResourceURLs": ["*"], "verbs": ["*"]}]),
                            ("admin", [{"apiGroups": ["", "apps", "batch", "networking.k8s.io",
                                                      "rbac.authorization.k8s.io"],
                                        "resources": ["*"], "verbs": edit_verbs}]),
                            ("edit", [{"apiGroups": ["", "apps", "batch", "networking.k8s.io"], "resources": ["*"],
                                       "verbs": edit_verbs}]),
                            ("view", [{"apiGroups": ["", "apps", "batch", "networking.k8s.io"], "resources": ["*"],
                                       "verbs": ["get", "list", "watch"]}])):
            self.api.create(ctx, rbac, None, {"metadata": {"name": name, "labels": {
                "kubernetes.io/bootstrapping": "rbac-defaults"}}, "rules": rules})
        self.api.create(ctx, r.get("rbac.authorization.k8s.io", "v1", "clusterrolebindings"), None, {
            "metadata": {"name": "cluster-admin", "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"}},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "system:masters"}]})
        self.controller.drain()

    def reset(self):
        with self.store.lock:
            self.controller.reset()
            self.store.reset()
            self.registry.reset()
            self.api.reset_counters()
            self.faults.clear()
            self.bootstrap()

    # ---- dispatch --------------------------------------------------------------------------------

    def handle(self, req):
        try:
            self._handle(req)
        except E.ApiError as e:
            self.send_error(req, e)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, socket.timeout):
            req.h.close_connection = True
            raise
        except Exception as e:  # a bug in the double: answer like the real server's 500
            import traceback
            sys.stderr.write("kube-double: internal error on %s %s\n%s" % (req.method, req.path,
                                                                         traceback.format_exc()))
            self.send_error(req, E.ApiError(500, "InternalError", "Internal error occurred: %s" % e, {}))

    def _handle(self, req):
        req.body = req.h.read_body()
        path = req.path
        if not path.startswith("/_double/"):
            rule = self.faults.take(req.method, path)
            if rule is not None:
                if rule.get("drop"):
                    req.status = "drop"
                    req.h.drop()
                    return
                raise E.injected(int(rule["status"]), rule.get("retryAfter"))
        anonymous = any(path == p or path.startswith(p + "/") for p in ANONYMOUS_PATHS)
        user = None
        try:
            user = self.auth.authenticate(req.headers, req.h.peer_cert())
        except E.ApiError:
            if not anonymous:
                raise
        if user is not None:
            user = self.auth.impersonate(user, req.headers)
        req.user = user
        parts = [unquote(p) for p in path.split("/") if p]
        if not parts:
            return self.send_json(req, 200, {"paths": ["/api", "/api/v1", "/apis", "/healthz", "/livez",
                                                       "/openapi/v2", "/openapi/v3", "/readyz", "/version"]})
        head = parts[0]
        if head in ("healthz", "livez", "readyz"):
            req.verb = "health"
            return self.send_text(req, 200, "ok")
        if head == "version":
            req.verb = "discovery"
            return self.send_json(req, 200, SERVER_VERSION)
        if head == "_double":
            req.verb = "control"
            return self.control(req, parts[1:])
        if head == "openapi":
            req.verb = "discovery"
            return self.openapi(req, parts[1:])
        if head == "api":
            if len(parts) == 1:
                return self.discovery(req, core=True)
            if parts[1] != "v1":
                raise E.path_not_found()
            if len(parts) == 2:
                return self.resource_list(req, "", "v1")
            return self.resource(req, "", "v1", parts[2:])
        if head == "apis":
            if len(parts) == 1:
                return self.discovery(req, core=False)
            group = parts[1]
            if len(parts) == 2:
                req.verb = "discovery"
                body = self.registry.api_group(group)
                if body is None:
                    raise E.path_not_found()
                return self.send_json(req, 200, body)
            version = parts[2]
            if not self.registry.has_group_version(group, version):
                raise E.path_not_found()
            if len(parts) == 3:
                return self.resource_list(req, group, version)
            return self.resource(req, group, version, parts[3:])
        raise E.path_not_found()

    # ---- discovery -------------------------------------------------------------------------------

    def discovery(self, req, core):
        """Aggregated discovery when the first acceptable media type asks for it, else the legacy format."""
        req.verb = "discovery"
        for part in (req.headers.get("Accept") or JSON).split(","):
            fields = [f.strip() for f in part.split(";")]
            params = dict(f.split("=", 1) for f in fields[1:] if "=" in f)
            if fields[0] not in (JSON, "*/*", "application/*"):
                continue
            if params.get("as") == "APIGroupDiscoveryList" and params.get("g") == "apidiscovery.k8s.io" and \
                    params.get("v") in ("v2", "v2beta1"):
                body = self.registry.aggregated(core)
                body["apiVersion"] = "apidiscovery.k8s.io/" + params["v"]
                ct = "application/json;g=apidiscovery.k8s.io;v=%s;as=APIGroupDiscoveryList" % params["v"]
                return self.send_json(req, 200, body, content_type=ct)
            if "as" not in params:
                break
        if core:
            return self.send_json(req, 200, self.registry.api_versions("127.0.0.1:%d" % self.port))
        return self.send_json(req, 200, self.registry.api_group_list())

    def resource_list(self, req, group, version):
        req.verb = "discovery"
        body = self.registry.resource_list(group, version)
        if body is None:
            raise E.path_not_found()
        return self.send_json(req, 200, body)

    def openapi(self, req, parts):
        if parts == ["v2"]:
            req.status = 200
            return req.h.send_bytes(req, 200, OPENAPI_V2_PROTOBUF,
                                    "application/com.github.proto-openapi.spec.v2.v1.0+protobuf")
        if parts == ["v3"]:
            return self.send_json(req, 200, self.registry.openapi_v3_root())
        if parts and parts[0] == "v3":
            doc = self.registry.openapi_v3_doc("/".join(parts[1:]), SERVER_VERSION["gitVersion"])
            if doc is not None:
                return self.send_json(req, 200, doc)
        raise E.path_not_found()

    # ---- resources -------------------------------------------------------------------------------

    def _locate(self, group, version, parts):
        """(kind, namespace, name, subresource, legacy_watch) from the path after /api/v1 or /apis/g/v."""
        watch_path = False
        if parts and parts[0] == "watch":
            watch_path = True
            parts = parts[1:]
        ns = None
        if parts and parts[0] == "namespaces" and len(parts) >= 3 and not (
                group == "" and len(parts) == 3 and parts[2] in ("status", "finalize")):
            ns = parts[1]
            parts = parts[2:]
        if not parts or len(parts) > 3:
            raise E.path_not_found()
        kind = self.registry.get(group, version, parts[0])
        if kind is None:
            raise E.path_not_found()
        name = parts[1] if len(parts) > 1 else None
        sub = parts[2] if len(parts) > 2 else ""
        if ns is not None and not kind.namespaced:
            raise E.path_not_found()
        if name is not None and kind.namespaced and ns is None:
            raise E.path_not_found()
        if sub and sub not in kind.subresources:
            if kind.kind == "Pod" and not kind.is_custom and sub in ("exec", "attach", "portforward", "proxy"):
                raise E.bad_request("pods/%s is not supported by the Kubernetes API test double: no containers "
                                    "run here" % sub)
            raise E.path_not_found()
        return kind, ns, name, sub, watch_path

    def resource(self, req, group, version, parts):
        kind, ns, name, sub, watch_path = self._locate(group, version, parts)
        m = req.method
        watch = watch_path or is_true(req.param("watch", "false"))
        if name is None:
            verb = {"GET": "watch" if watch else "list", "POST": "create", "DELETE": "deletecollection"}.get(m)
            if verb == "create" and kind.namespaced and ns is None:
                verb = None
        elif sub:
            verb = {"GET": "get", "PUT": "update", "PATCH": "patch"}.get(m)
            if sub == "log" and verb != "get" or sub == "finalize" and verb != "update":
                verb = None
        else:
            verb = {"GET": "watch" if watch else "get", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}.get(m)
        req.verb = verb or "other"
        if verb is None or (verb not in kind.verbs and not sub):
            raise E.method_not_allowed()
        authorize(req.user, verb, kind, ns, name, sub)
        ctx = Context(req.user.name, req.user.restricted_ns, req.headers.get("User-Agent", ""), req.params)
        req.ctx = ctx
        if verb == "watch":
            return self.watch(req, kind, ns, name)
        if verb == "list":
            return self.list(req, kind, ns)
        if verb == "create":
            obj = self.api.create(ctx, kind, ns, self.decode(req))
            return self.send_object(req, 201, kind, obj)
        if verb == "deletecollection":
            body = self.api.delete_collection(ctx, kind, ns, parse_label_selector(req.param("labelSelector")),
                                              parse_field_selector(req.param("fieldSelector"), kind.key),
                                              self.delete_options(req))
            return self.send_json(req, 200, body)
        if sub == "log":
            return self.pod_log(req, kind, ns, name)
        if sub == "scale":
            if verb == "get":
                return self.send_json(req, 200, self.api.get_scale(kind, ns, name))
            if verb == "update":
                return self.send_json(req, 200, self.api.update_scale(ctx, kind, ns, name, self.decode(req)))
            return self.send_json(req, 200, self.api.patch(ctx, kind, ns, name, req.headers.get("Content-Type"),
                                                           req.body, "scale"))
        if verb == "get":
            return self.send_object(req, 200, kind, self.api.get(kind, ns, name), single=True)
        if verb == "update":
            if sub == "finalize":
                sub = ""
            obj = self.api.update(ctx, kind, ns, name, self.decode(req), sub)
            return self.send_object(req, 200, kind, obj)
        if verb == "patch":
            result = self.api.patch(ctx, kind, ns, name, req.headers.get("Content-Type"), req.body, sub)
            code = 200
            if isinstance(result, tuple):
                result, code = result
            return self.send_object(req, code, kind, result)
        if verb == "delete":
            body, code = self.api.delete(ctx, kind, ns, name, self.delete_options(req))
            return self.send_json(req, code, body)
        raise E.method_not_allowed()

    def decode(self, req):
        ct = (req.headers.get("Content-Type") or JSON).split(";")[0].strip().lower()
        if ct in ("application/yaml", "application/x-yaml", "text/yaml"):
            try:
                return yaml.safe_load(req.body.decode("utf-8"))
            except (yaml.YAMLError, UnicodeDecodeError) as e:
                raise E.bad_request("error decoding YAML: %s" % str(e).replace("\n", " "))
        if ct not in (JSON, "*/*", ""):
            raise E.ApiError(415, "UnsupportedMediaType", 'the body of the request was in an unknown format - '
                             'accepted media types include: application/json, application/yaml, '
                             'application/vnd.kubernetes.protobuf', {})
        try:
            return json.loads(req.body or b"null")
        except ValueError as e:
            raise E.bad_request("couldn't get version/kind; json parse error: %s" % e)

    def delete_options(self, req):
        opts = {}
        if req.body.strip():
            try:
                opts = json.loads(req.body)
            except ValueError as e:
                raise E.bad_request("couldn't get version/kind; json parse error: %s" % e)
            if not isinstance(opts, dict):
                raise E.bad_request("DeleteOptions must be an object")
        for key in ("propagationPolicy", "gracePeriodSeconds", "orphanDependents"):
            if req.param(key) is not None:
                value = req.param(key)
                opts[key] = is_true(value) if key == "orphanDependents" else value
        if req.params.get("dryRun"):
            opts["dryRun"] = req.params["dryRun"]
        return opts

    # ---- content negotiation ---------------------------------------------------------------------

    @staticmethod
    def wants(req):
        """'Table', 'Partial' or None, following the first acceptable entry of the Accept header."""
        for part in (req.headers.get("Accept") or JSON).split(","):
            fields = [f.strip() for f in part.split(";")]
            params = dict(f.split("=", 1) for f in fields[1:] if "=" in f)
            mt = fields[0]
            if mt not in (JSON, "*/*", "application/*"):
                continue
            if params.get("as") == "Table" and params.get("g") == "meta.k8s.io":
                return "Table", params.get("v", "v1")
            if params.get("as", "").startswith("PartialObjectMetadata") and params.get("g") == "meta.k8s.io":
                return "Partial", params.get("v", "v1")
            if "as" not in params:
                return None, None
        return None, None

    def send_object(self, req, code, kind, obj, single=False):
        obj = self.api.present(kind, obj)
        want, v = self.wants(req) if single else (None, None)
        if want == "Table":
            body = tables.table(kind, [obj], req.param("includeObject", "Metadata"), "meta.k8s.io/" + v,
                                {"resourceVersion": obj["metadata"].get("resourceVersion", "")})
            return self.send_json(req, code, body, "application/json;as=Table;v=%s;g=meta.k8s.io" % v)
        if want == "Partial":
            body = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/" + v, "metadata": obj["metadata"]}
            return self.send_json(req, code, body, "application/json;as=PartialObjectMetadata;v=%s;g=meta.k8s.io" % v)
        return self.send_json(req, code, obj)

    def list(self, req, kind, ns):
        limit = req.param("limit")
        try:
            limit = int(limit) if limit not in (None, "") else None
        except ValueError:
            raise E.bad_request("limit: Invalid value: %s" % limit)
        items, rv, cont, remaining = self.api.list(
            kind, ns, parse_label_selector(req.param("labelSelector")),
            parse_field_selector(req.param("fieldSelector"), kind.key), limit if limit and limit > 0 else None,
            req.param("continue"))
        meta = {"resourceVersion": str(rv)}
        if cont:
            meta["continue"] = cont
            meta["remainingItemCount"] = remaining
        want, v = self.wants(req)
        if want == "Table":
            body = tables.table(kind, [self.api.present(kind, o) for o in items],
                                req.param("includeObject", "Metadata"), "meta.k8s.io/" + v, meta)
            return self.send_json(req, 200, body, "application/json;as=Table;v=%s;g=meta.k8s.io" % v)
        if want == "Partial":
            body = {"kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/" + v, "metadata": meta,
                    "items": [{"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/" + v,
                               "metadata": o["metadata"]} for o in items]}
            return self.send_json(req, 200, body, "application/json;as=PartialObjectMetadataList;v=%s;"
                                                  "g=meta.k8s.io" % v)
        body = {"kind": kind.list_kind, "apiVersion": kind.api_version, "metadata": meta,
                "items": [self.api.present(kind, o) for o in items]}
        return self.send_json(req, 200, body)

    # ---- watch -----------------------------------------------------------------------------------

    def watch(self, req, kind, ns, name):
        labels = parse_label_selector(req.param("labelSelector"))
        fields = parse_field_selector(req.param("fieldSelector"), kind.key)
        if name is not None:
            fields = parse_field_selector("metadata.name=" + name + (
                "," + req.param("fieldSelector") if req.param("fieldSelector") else ""), kind.key)
        rv_text = req.param("resourceVersion")
        since = None
        if rv_text not in (None, "", "0"):
            try:
                since = int(rv_text)
            except ValueError:
                raise E.bad_request('invalid resource version "%s"' % rv_text)
        send_initial = is_true(req.param("sendInitialEvents", "false"))
        if send_initial:
            since = None
        bookmarks = is_true(req.param("allowWatchBookmarks", "false"))
        timeout = req.param("timeoutSeconds")
        deadline = time.monotonic() + float(timeout) if timeout not in (None, "") else None
        want, v = self.wants(req)
        ct = JSON if want != "Table" else "application/json;as=Table;v=%s;g=meta.k8s.io" % v
        include = req.param("includeObject", "Metadata")
        h = req.h
        try:
            w = self.store.watch(kind.key, ns if kind.namespaced else None, labels, fields, since)
        except E.ApiError as e:
            # Like the real watch cache: 200 and one ERROR event carrying the 410.
            req.status = 200
            h.start_stream(200, ct)
            h.write_chunk(dumps({"type": "ERROR", "object": e.status()}).encode() + b"\n")
            h.end_stream()
            return
        req.status = 200
        h.start_stream(200, ct)
        first_table = True
        interval = self.options.bookmark_interval
        next_bookmark = time.monotonic() + interval
        initial_pending = send_initial
        try:
            while not self.stopping.is_set():
                now = time.monotonic()
                if deadline is not None and now >= deadline:
                    break
                wait = 1.0
                if bookmarks:
                    wait = min(wait, max(0.0, next_bookmark - now))
                if deadline is not None:
                    wait = min(wait, max(0.0, deadline - now))
                try:
                    ev = w.next(wait)
                except StopIteration:
                    if w.error is not None:
                        h.write_chunk(dumps({"type": "ERROR", "object": w.error}).encode() + b"\n")
                    break
                if ev is not None:
                    out = w.translate(ev)
                    if out is None:
                        continue
                    etype, obj = out
                    obj = self.api.present(kind, obj)
                    if want == "Table":
                        obj = tables.table(kind, [obj], include, "meta.k8s.io/" + v,
                                           {"resourceVersion": obj["metadata"].get("resourceVersion", "")},
                                           with_columns=first_table)
                        first_table = False
                    h.write_chunk(dumps({"type": etype, "object": obj}).encode() + b"\n")
                    continue
                if initial_pending and not w.pending():
                    initial_pending = False
                    h.write_chunk(self.bookmark(kind, {"k8s.io/initial-events-end": "true"}))
                if bookmarks and time.monotonic() >= next_bookmark:
                    next_bookmark = time.monotonic() + interval
                    with self.store.lock:
                        if w.pending():
                            continue
                        chunk = self.bookmark(kind)
                    h.write_chunk(chunk)
                elif h.client_gone():
                    break
            h.end_stream()
        finally:
            self.store.unwatch(w)

    def bookmark(self, kind, annotations=None):
        meta = {"resourceVersion": str(self.store.rv), "creationTimestamp": None}
        if annotations:
            meta["annotations"] = annotations
        return dumps({"type": "BOOKMARK", "object": {"kind": kind.kind, "apiVersion": kind.api_version,
                                                     "metadata": meta}}).encode() + b"\n"

    # ---- logs ------------------------------------------------------------------------------------

    def pod_log(self, req, kind, ns, name):
        pod = self.api.get(kind, ns, name)
        container = logs.pick_container(pod, req.param("container"))
        previous = is_true(req.param("previous", "false"))
        timestamps = is_true(req.param("timestamps", "false"))
        follow = is_true(req.param("follow", "false"))
        tail = req.param("tailLines")
        since = req.param("sinceSeconds")
        limit_bytes = req.param("limitBytes")
        rt = self.controller.log_state(pod)
        now = time.time()
        entries = logs.lines(pod, rt, container, previous, now)
        if since:
            entries = [e for e in entries if e[0] >= now - float(since)]
        if tail not in (None, ""):
            n = int(tail)
            entries = entries[-n:] if n > 0 else []
        text = logs.render(entries, timestamps)
        if limit_bytes:
            text = text.encode()[:int(limit_bytes)].decode("utf-8", "ignore")
        if not follow or previous:
            return self.send_text(req, 200, text)
        h = req.h
        req.status = 200
        h.start_stream(200, "text/plain")
        if text:
            h.write_chunk(text.encode())
        uid = pod["metadata"]["uid"]
        sent = max((t for t, _ in logs.lines(pod, rt, container, False, now)), default=0)
        while not self.stopping.is_set():
            time.sleep(0.1)
            current = self.store.get(kind.key, ns, name)
            if current is None or current["metadata"]["uid"] != uid:
                break
            rt = self.controller.log_state(current)
            if rt is None or rt.behaviour.get(container) == "crash-loop":
                break
            new = logs.lines(current, rt, container, False, time.time(), after=sent)
            if new:
                sent = new[-1][0]
                h.write_chunk(logs.render(new, timestamps).encode())
            if rt.stage in ("completed", "failed"):
                break
            if h.client_gone():
                break
        h.end_stream()

    # ---- control endpoints -----------------------------------------------------------------------

    def control(self, req, parts):
        what = parts[0] if parts else ""
        if what == "faults":
            if req.method == "POST":
                body = json.loads(req.body or b"{}")
                rules = body if isinstance(body, list) else body.get("rules", [body]) \
                    if isinstance(body, dict) and "rules" in body else [body]
                added = [self.faults.add(r) for r in rules]
                return self.send_json(req, 201, {"faults": self.faults.list(), "added": added})
            if req.method == "GET":
                return self.send_json(req, 200, {"faults": self.faults.list()})
            if req.method == "DELETE":
                self.faults.clear()
                return self.send_json(req, 200, {"faults": []})
        elif what == "compact" and req.method == "POST":
            rv = self.store.compact(lambda rv: E.too_old(rv, rv).status())
            return self.send_json(req, 200, {"compactedResourceVersion": str(rv)})
        elif what == "stats" and req.method == "GET":
            with self.stats.lock:
                body = {"requests": self.stats.requests, "byVerb": dict(self.stats.by_verb),
                        "byStatus": dict(self.stats.by_status)}
            body.update({"cpuSeconds": time.process_time(), "objects": self.store.total,
                         "resourceVersion": str(self.store.rv), "openWatches": self.store.open_watches(),
                         "uptimeSeconds": round(time.time() - self.started, 3)})
            return self.send_json(req, 200, body)
        elif what == "reset" and req.method == "POST":
            self.reset()
            self.stats.reset()
            return self.send_json(req, 200, {"reset": True, "resourceVersion": str(self.store.rv)})
        elif what in ("faults", "compact", "stats", "reset"):
            raise E.method_not_allowed()
        raise E.path_not_found()

    # ---- responses -------------------------------------------------------------------------------

    def send_json(self, req, code, body, content_type=JSON):
        req.status = code
        headers = {}
        ctx = getattr(req, "ctx", None)
        if ctx is not None and ctx.warnings:
            headers["Warning"] = ['299 - "%s"' % w.replace('"', '\\"') for w in ctx.warnings]
        req.h.send_bytes(req, code, dumps(body).encode(), content_type, headers)

    def send_text(self, req, code, text):
        req.status = code
        req.h.send_bytes(req, code, text.encode(), "text/plain; charset=utf-8")

    def send_error(self, req, err):
        req.status = err.code
        req.h.send_bytes(req, err.code, dumps(err.status()).encode(), JSON, err.headers)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "kube-double"
    sys_version = ""
    timeout = 300  # idle keep-alive connections are closed after this

    def log_message(self, fmt, *args):
        pass

    def peer_cert(self):
        try:
            return self.connection.getpeercert()
        except (AttributeError, ValueError):
            return None

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = bytearray()
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                data += self.rfile.read(size)
                self.rfile.readline()
                if len(data) > MAX_BODY:
                    raise E.too_large()
            return bytes(data)
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self.close_connection = True
            raise E.too_large()
        return self.rfile.read(length) if length else b""

    def send_bytes(self, req, code, data, content_type, headers=None):
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-cache, private")
        self.send_header("Audit-Id", "kube-double")
        for k, v in (headers or {}).items():
            for item in (v if isinstance(v, list) else [v]):
                self.send_header(k, item)
        # One write (one TLS record) for headers and body.
        self._headers_buffer.append(b"\r\n" + data)
        self.flush_headers()

    def start_stream(self, code, content_type):
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()
        self.wfile.flush()

    def write_chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def end_stream(self):
        try:
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except OSError:
            self.close_connection = True

    def client_gone(self):
        """True when the peer has closed its side (checked while a stream is idle)."""
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            if not readable:
                return False
            self.connection.settimeout(0.05)
            try:
                data = self.connection.recv(1)
            finally:
                self.connection.settimeout(self.timeout)
            return data == b""
        except (ssl.SSLWantReadError, socket.timeout):
            return False
        except (OSError, ValueError):
            return True

    def drop(self):
        """Close the TCP connection without a response (injected fault)."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        except OSError:
            pass
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _dispatch(self):
        start = time.perf_counter()
        req = Request(self)
        app = self.server.app
        try:
            app.handle(req)
        finally:
            if req.status != "drop":
                app.stats.count(req.verb, req.status)
            if not app.options.quiet:
                app.log("%s %s %s %.1fms" % (self.command, self.path, req.status,
                                            (time.perf_counter() - start) * 1000))

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _dispatch


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, address, app, ssl_context):
        self.app = app
        self.ssl_context = ssl_context
        super().__init__(address, Handler)

    def finish_request(self, request, client_address):
        # The TLS handshake runs here, in the connection's own thread, never in the accept loop.
        try:
            request.settimeout(30)
            # Headers and body are separate writes; without NODELAY, Nagle + delayed ACK stall each one ~40 ms.
            request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            tls = self.ssl_context.wrap_socket(request, server_side=True, do_handshake_on_connect=False)
            tls.do_handshake()
        except (OSError, ssl.SSLError):
            try:
                request.close()
            except OSError:
                pass
            return
        try:
            self.RequestHandlerClass(tls, client_address, self)
        except (OSError, ssl.SSLError):
            pass
        finally:
            try:
                tls.close()
            except OSError:
                pass

    def handle_error(self, request, client_address):
        pass


def parse_args(argv):
    p = argparse.ArgumentParser(prog="kube_double.py", description="A test double of the Kubernetes API server "
                                "(for CI; never shipped).")
    p.add_argument("--dir", required=True, help="state directory: certificates, kubeconfigs, port, tokens")
    p.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: pick a free one)")
    p.add_argument("--token", default="knot-test-token", help="the bearer token that is always accepted")
    p.add_argument("--ready-delay", type=float, default=0.3, help="seconds until a pod is running and ready")
    p.add_argument("--bookmark-interval", type=float, default=1.0, help="seconds between watch BOOKMARK events")
    p.add_argument("--history", type=int, default=20000, help="watch events kept for resuming watches")
    p.add_argument("--key-type", choices=("ec", "rsa"), default="ec", help="key type of newly made certificates")
    p.add_argument("--quiet", action="store_true", help="no per-request log lines on stderr")
    return p.parse_args(argv)


def main(argv=None):
    import faulthandler
    faulthandler.enable()
    options = parse_args(sys.argv[1:] if argv is None else argv)
    options.dir = os.path.abspath(options.dir)
    os.makedirs(options.dir, exist_ok=True)
    paths = ensure_pki(options.dir, options.key_type)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(paths["server.crt"], paths["server.key"])
    ctx.load_verify_locations(paths["ca.crt"])
    ctx.verify_mode = ssl.CERT_OPTIONAL
    ctx.set_alpn_protocols(["http/1.1"])
    app = App(options)
    server = Server(("127.0.0.1", options.port), app, ctx)
    app.port = server.server_address[1]
    write_kubeconfigs(options.dir, app.port, options.token)
    app.controller.start()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
    thread.start()
    done = threading.Event()

    def stop(signum, frame):
        done.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    sys.stdout.write("READY https://127.0.0.1:%d\n" % app.port)
    sys.stdout.flush()
    while not done.wait(0.5):
        pass
    app.stopping.set()
    app.controller.stop()
    server.shutdown()
    server.server_close()
    return 0
