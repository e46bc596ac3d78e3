"""Unit tests of the Kubernetes API test double, through HTTPS with `requests`.

Each test asserts what a real API server answers (status codes, Status reasons and
messages, object fields), so a regression in the double fails here before it confuses
a Swift test that depends on it.
"""
import json
import os
import re
import socket
import sys
import threading
import time
import uuid

import pytest
import requests

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kubedouble.testing import Double, wait_for  # noqa: E402

APPS = "/apis/apps/v1"
JSON_HDR = {"Content-Type": "application/json"}


@pytest.fixture(scope="module")
def kd(tmp_path_factory):
    double = Double(tmp_path_factory.mktemp("kube-double") / "state", "--ready-delay", "0.2",
                    "--bookmark-interval", "0.3", "--quiet")
    yield double
    assert double.stop() == 0, double.stderr()
    assert "Traceback" not in double.stderr(), double.stderr()


@pytest.fixture(scope="module")
def s(kd):
    return kd.session()


def url(kd, path):
    return kd.url + path


def unique(prefix="t"):
    return "%s-%s" % (prefix, uuid.uuid4().hex[:6])


def post(kd, s, path, body, code=201, **kw):
    r = s.post(url(kd, path), data=json.dumps(body), headers=JSON_HDR, **kw)
    assert r.status_code == code, r.text
    return r.json()


def namespace(kd, s, prefix="ns"):
    name = unique(prefix)
    post(kd, s, "/api/v1/namespaces", {"metadata": {"name": name}})
    return name


def deployment(name, replicas=1, image="nginx:1.25", labels=None, annotations=None, containers=None):
    labels = labels or {"app": name}
    template = {"metadata": {"labels": labels}, "spec": {"containers": containers or [
        {"name": "web", "image": image, "ports": [{"containerPort": 80}]}]}}
    if annotations:
        template["metadata"]["annotations"] = annotations
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "labels": labels},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels}, "template": template}}


def get(kd, s, path, **kw):
    r = s.get(url(kd, path), **kw)
    assert r.status_code == 200, r.text
    return r.json()


def pods(kd, s, ns, selector=None):
    params = {"labelSelector": selector} if selector else {}
    return get(kd, s, "/api/v1/namespaces/%s/pods" % ns, params=params)["items"]


def events(kd, s, ns, **fields):
    selector = ",".join("%s=%s" % kv for kv in fields.items())
    return get(kd, s, "/api/v1/namespaces/%s/events" % ns, params={"fieldSelector": selector})["items"]


def assert_status(r, code, reason, message=None):
    assert r.status_code == code, r.text
    body = r.json()
    assert body["kind"] == "Status" and body["apiVersion"] == "v1" and body["status"] == "Failure", body
    assert body["code"] == code and body["reason"] == reason, body
    if message is not None:
        assert body["message"] == message, body["message"]
    return body


class Watch:
    """Reads a watch stream in the background; `until` waits for an event matching a predicate."""

    def __init__(self, s, full_url, params):
        self.events = []
        self.done = threading.Event()
        self.response = s.get(full_url, params=dict(params, watch="true"), stream=True, timeout=30)
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        try:
            for line in self.response.iter_lines():
                if line:
                    self.events.append(json.loads(line))
        except Exception:
            pass
        self.done.set()

    def until(self, predicate, timeout=10):
        return wait_for(lambda: next((e for e in list(self.events) if predicate(e)), None), timeout,
                        message="watch event")

    def close(self):
        self.response.close()


# ---- discovery, version, health, OpenAPI ----------------------------------------------------------

def test_discovery_legacy_and_aggregated(kd, s):
    api = get(kd, s, "/api")
    assert api["kind"] == "APIVersions" and api["versions"] == ["v1"]
    groups = get(kd, s, "/apis")
    assert groups["kind"] == "APIGroupList"
    apps = next(g for g in groups["groups"] if g["name"] == "apps")
    assert apps["preferredVersion"] == {"groupVersion": "apps/v1", "version": "v1"}
    names = {g["name"] for g in groups["groups"]}
    assert {"apps", "batch", "rbac.authorization.k8s.io", "networking.k8s.io", "apiextensions.k8s.io"} <= names
    core = get(kd, s, "/api/v1")
    by_name = {r["name"]: r for r in core["resources"]}
    assert by_name["pods"]["namespaced"] is True and by_name["pods"]["kind"] == "Pod"
    assert by_name["namespaces"]["namespaced"] is False and by_name["namespaces"]["shortNames"] == ["ns"]
    assert by_name["pods/log"]["verbs"] == ["get"]
    assert "deletecollection" not in by_name["namespaces"]["verbs"]
    resources = {r["name"]: r for r in get(kd, s, APPS)["resources"]}
    assert resources["deployments/scale"]["group"] == "autoscaling" and resources["deployments/scale"]["kind"] == \
        "Scale"
    assert resources["deployments"]["shortNames"] == ["deploy"] and "all" in resources["deployments"]["categories"]
    # What kubectl >= 1.30 asks first.
    accept = ("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
              "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json")
    r = s.get(url(kd, "/apis"), headers={"Accept": accept})
    assert r.headers["Content-Type"] == "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
    agg = r.json()
    assert agg["kind"] == "APIGroupDiscoveryList" and agg["apiVersion"] == "apidiscovery.k8s.io/v2"
    apps = next(i for i in agg["items"] if i["metadata"]["name"] == "apps")
    dep = next(x for x in apps["versions"][0]["resources"] if x["resource"] == "deployments")
    assert dep["scope"] == "Namespaced" and dep["responseKind"]["kind"] == "Deployment"
    assert {"subresource": "scale", "responseKind": {"group": "autoscaling", "version": "v1", "kind": "Scale"},
            "verbs": ["get", "patch", "update"]} in dep["subresources"]


def test_version_health_and_openapi(kd, s):
    version = get(kd, s, "/version")
    assert re.match(r"^v1\.\d+\.\d+$", version["gitVersion"]) and version["major"] == "1"
    anonymous = kd.session(token=False)
    for path in ("/healthz", "/livez", "/readyz"):
        r = anonymous.get(url(kd, path))
        assert r.status_code == 200 and r.text == "ok"
    root = get(kd, s, "/openapi/v3")
    assert "apis/apps/v1" in root["paths"] and "api/v1" in root["paths"]
    doc = get(kd, s, root["paths"]["apis/apps/v1"]["serverRelativeURL"])
    patch = doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"]
    assert patch["x-kubernetes-group-version-kind"] == {"group": "apps", "version": "v1", "kind": "Deployment"}
    assert any(p["name"] == "fieldValidation" for p in patch["parameters"])
    v2 = s.get(url(kd, "/openapi/v2"))
    assert v2.status_code == 200 and v2.content.startswith(b"\x0a\x032.0")


# ---- authentication and impersonation ----------------------------------------------------------------

def test_authentication(kd, s):
    r = kd.session(token=False).get(url(kd, "/api/v1/namespaces"))
    assert_status(r, 401, "Unauthorized", "Unauthorized")
    assert_status(kd.session(token="wrong").get(url(kd, "/api/v1/namespaces")), 401, "Unauthorized")
    # A rotated-in token is accepted as soon as the tokens file changes; an expired one is refused.
    fresh, old = "fresh-" + uuid.uuid4().hex, "old-" + uuid.uuid4().hex
    with open(os.path.join(kd.dir, "tokens"), "w") as f:
        f.write("%s\n%s\n" % (fresh, old))
    assert kd.session(token=fresh).get(url(kd, "/api/v1/namespaces")).status_code == 200
    assert kd.session(token=old).get(url(kd, "/api/v1/namespaces")).status_code == 200
    with open(os.path.join(kd.dir, "expired-tokens"), "w") as f:
        f.write(old + "\n")
    assert_status(kd.session(token=old).get(url(kd, "/api/v1/namespaces")), 401, "Unauthorized")
    assert kd.session(token=fresh).get(url(kd, "/api/v1/namespaces")).status_code == 200
    # Client certificate signed by the double's CA.
    assert kd.session(cert=True).get(url(kd, "/api/v1/namespaces/default")).json()["metadata"]["name"] == "default"


def test_impersonated_service_account_is_confined_to_its_namespace(kd, s):
    alice, bob = namespace(kd, s, "knot-alice"), namespace(kd, s, "knot-bob")
    user = "system:serviceaccount:%s:knot" % alice
    headers = dict(JSON_HDR, **{"Impersonate-User": user})
    r = s.post(url(kd, APPS + "/namespaces/%s/deployments" % bob), data=json.dumps(deployment("web")),
               headers=headers)
    body = assert_status(r, 403, "Forbidden", 'deployments.apps is forbidden: User "%s" cannot create resource '
                         '"deployments" in API group "apps" in the namespace "%s"' % (user, bob))
    assert body["details"] == {"group": "apps", "kind": "deployments"}
    r = s.post(url(kd, APPS + "/namespaces/%s/deployments" % alice), data=json.dumps(deployment("web")),
               headers=headers)
    assert r.status_code == 201, r.text
    r = s.get(url(kd, "/api/v1/namespaces/%s/pods/x" % bob), headers=headers)
    assert_status(r, 403, "Forbidden", 'pods "x" is forbidden: User "%s" cannot get resource "pods" in API group '
                  '"" in the namespace "%s"' % (user, bob))
    r = s.get(url(kd, "/api/v1/namespaces"), headers=headers)
    assert_status(r, 403, "Forbidden", 'namespaces is forbidden: User "%s" cannot list resource "namespaces" in API '
                  'group "" at the cluster scope' % user)
    assert s.get(url(kd, "/api/v1/pods"), headers=headers).status_code == 403


# ---- create, read, update ------------------------------------------------------------------------

def test_create_get_list_and_metadata(kd, s):
    ns = namespace(kd, s)
    cm = post(kd, s, "/api/v1/namespaces/%s/configmaps" % ns, {"metadata": {"name": "one"}, "data": {"a": "1"}})
    assert cm["apiVersion"] == "v1" and cm["kind"] == "ConfigMap"
    meta = cm["metadata"]
    assert re.match(r"^[0-9a-f-]{36}$", meta["uid"])
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", meta["creationTimestamp"])
    assert meta["namespace"] == ns and meta["generation"] == 1 and meta["resourceVersion"].isdigit()
    assert meta["managedFields"][0]["manager"] == "python-requests"
    assert meta["managedFields"][0]["fieldsV1"] == {"f:data": {"f:a": {}}}
    gen = post(kd, s, "/api/v1/namespaces/%s/configmaps" % ns, {"metadata": {"generateName": "gen-"}})
    assert re.match(r"^gen-[bcdfghjklmnpqrstvwxz2456789]{5}$", gen["metadata"]["name"])
    assert int(gen["metadata"]["resourceVersion"]) > int(meta["resourceVersion"])
    listed = get(kd, s, "/api/v1/namespaces/%s/configmaps" % ns)
    assert listed["kind"] == "ConfigMapList" and listed["apiVersion"] == "v1"
    assert int(listed["metadata"]["resourceVersion"]) >= int(gen["metadata"]["resourceVersion"])
    assert [i["metadata"]["name"] for i in listed["items"]] == sorted(
        ["one", gen["metadata"]["name"], "kube-root-ca.crt"])
    everywhere = get(kd, s, "/api/v1/configmaps", params={"fieldSelector": "metadata.namespace=%s" % ns})
    assert len(everywhere["items"]) == 3
    r = s.post(url(kd, "/api/v1/namespaces/%s/configmaps" % ns), data=json.dumps({"metadata": {"name": "one"}}))
    assert_status(r, 409, "AlreadyExists", 'configmaps "one" already exists')
    r = s.get(url(kd, APPS + "/namespaces/%s/deployments/nope" % ns))
    body = assert_status(r, 404, "NotFound", 'deployments.apps "nope" not found')
    assert body["details"] == {"name": "nope", "group": "apps", "kind": "deployments"}
    r = s.post(url(kd, "/api/v1/namespaces/missing-%s/configmaps" % ns), data=json.dumps({"metadata": {"name": "a"}}))
    assert_status(r, 404, "NotFound", 'namespaces "missing-%s" not found' % ns)


def test_update_conflict_generation_and_noop(kd, s):
    ns = namespace(kd, s)
    cm = post(kd, s, "/api/v1/namespaces/%s/configmaps" % ns, {"metadata": {"name": "c"}, "data": {"a": "1"}})
    path = url(kd, "/api/v1/namespaces/%s/configmaps/c" % ns)
    stale = json.loads(json.dumps(cm))
    cm["data"]["a"] = "2"
    changed = s.put(path, data=json.dumps(cm)).json()
    assert int(changed["metadata"]["resourceVersion"]) > int(stale["metadata"]["resourceVersion"])
    assert changed["metadata"]["generation"] == 2
    stale["data"]["a"] = "3"
    r = s.put(path, data=json.dumps(stale))
    assert_status(r, 409, "Conflict", 'Operation cannot be fulfilled on configmaps "c": the object has been '
                  'modified; please apply your changes to the latest version and try again')
    again = s.put(path, data=json.dumps(changed)).json()
    assert again["metadata"]["resourceVersion"] == changed["metadata"]["resourceVersion"]  # a no-op write
    body = dict(changed, metadata=dict(changed["metadata"], name="other"))
    assert_status(s.put(path, data=json.dumps(body)), 400, "BadRequest",
                  "the name of the object (other) does not match the name on the URL (c)")
    body = dict(changed, metadata=dict(changed["metadata"], namespace="elsewhere"))
    assert_status(s.put(path, data=json.dumps(body)), 400, "BadRequest",
                  "the namespace of the provided object does not match the namespace sent on the request")
    assert_status(s.post(path, data="{}"), 405, "MethodNotAllowed")
    assert_status(s.post(url(kd, "/api/v1/namespaces/%s/configmaps" % ns), data="{not json"), 400, "BadRequest")
    r = s.post(url(kd, "/api/v1/namespaces/%s/configmaps" % ns),
               data=json.dumps({"apiVersion": "apps/v1", "kind": "ConfigMap", "metadata": {"name": "x"}}))
    assert_status(r, 400, "BadRequest")
    # Deployments: generation follows spec changes only; the controller's status writes never bump it.
    post(kd, s, APPS + "/namespaces/%s/deployments" % ns, deployment("web"))
    dpath = APPS + "/namespaces/%s/deployments/web" % ns
    wait_for(lambda: get(kd, s, dpath).get("status", {}).get("readyReplicas") == 1, message="ready")
    d = get(kd, s, dpath)
    assert d["metadata"]["generation"] == 1 and d["status"]["observedGeneration"] == 1
    d["metadata"]["labels"]["extra"] = "yes"
    d = s.put(url(kd, dpath), data=json.dumps(d)).json()
    assert d["metadata"]["generation"] == 1
    d["spec"]["replicas"] = 2
    del d["metadata"]["resourceVersion"]  # an unconditional update
    d = s.put(url(kd, dpath), data=json.dumps(d)).json()
    assert d["metadata"]["generation"] == 2
    wait_for(lambda: get(kd, s, dpath)["status"].get("observedGeneration") == 2, message="observed")


def test_validation_errors(kd, s):
    ns = namespace(kd, s)
    r = s.post(url(kd, "/api/v1/namespaces/%s/configmaps" % ns), data=json.dumps({"metadata": {"name": "Bad_Name"}}))
    body = assert_status(r, 422, "Invalid")
    assert body["message"].startswith('ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": '
                                      'a lowercase RFC 1123 subdomain must consist of')
    assert body["details"]["kind"] == "ConfigMap" and body["details"]["causes"][0]["field"] == "metadata.name"
    assert body["details"]["causes"][0]["reason"] == "FieldValueInvalid"
    r = s.post(url(kd, "/api/v1/namespaces"), data=json.dumps({"metadata": {"name": "has.dot"}}))
    assert "a lowercase RFC 1123 label must consist of" in assert_status(r, 422, "Invalid")["message"]
    r = s.post(url(kd, "/api/v1/namespaces"), data=json.dumps({"metadata": {"name": "x" * 64}}))
    assert "must be no more than 63 characters" in assert_status(r, 422, "Invalid")["message"]
    r = s.post(url(kd, "/api/v1/namespaces/%s/services" % ns),
               data=json.dumps({"metadata": {"name": "1svc"}, "spec": {"ports": [{"port": 80}]}}))
    assert "a DNS-1035 label must consist of" in assert_status(r, 422, "Invalid")["message"]
    r = s.post(url(kd, "/api/v1/namespaces/%s/configmaps" % ns),
               data=json.dumps({"metadata": {"name": "ok", "labels": {"bad key!": "v"}}}))
    body = assert_status(r, 422, "Invalid")
    assert body["details"]["causes"][0]["field"] == "metadata.labels" and "name part must consist of" in \
        body["message"]
    r = s.post(url(kd, "/api/v1/namespaces/%s/configmaps" % ns),
               data=json.dumps({"metadata": {"name": "ok2", "labels": {"app": "-bad-"}}}))
    assert "a valid label must be an empty string" in assert_status(r, 422, "Invalid")["message"]
    r = s.post(url(kd, "/api/v1/namespaces/%s/configmaps" % ns),
               data=json.dumps({"metadata": {"name": "ok3"}, "data": {"bad key": "v"}}))
    body = assert_status(r, 422, "Invalid")
    assert body["details"]["causes"][0]["field"] == "data[bad key]" and "a valid config key must consist" in \
        body["message"]
    no_selector = deployment("nosel")
    del no_selector["spec"]["selector"]
    body = assert_status(s.post(url(kd, APPS + "/namespaces/%s/deployments" % ns), data=json.dumps(no_selector)),
                         422, "Invalid")
    assert body["message"].startswith('Deployment.apps "nosel" is invalid: ')
    assert {"field": "spec.selector", "reason": "FieldValueRequired", "message": "Required value"} in \
        body["details"]["causes"]
    mismatch = deployment("mismatch")
    mismatch["spec"]["selector"] = {"matchLabels": {"app": "other"}}
    body = assert_status(s.post(url(kd, APPS + "/namespaces/%s/deployments" % ns), data=json.dumps(mismatch)),
                         422, "Invalid")
    assert "`selector` does not match template `labels`" in body["message"]
    assert body["details"]["causes"][0]["field"] == "spec.template.metadata.labels"
    bad = deployment("noimage", containers=[{"name": "web"}, {"image": "x"}])
    body = assert_status(s.post(url(kd, APPS + "/namespaces/%s/deployments" % ns), data=json.dumps(bad)),
                         422, "Invalid")
    fields = {c["field"] for c in body["details"]["causes"]}
    assert {"spec.template.spec.containers[0].image", "spec.template.spec.containers[1].name"} <= fields
    # Strict field validation (what kubectl asks for) rejects unknown fields; by default they are dropped.
    r = s.post(url(kd, "/api/v1/namespaces/%s/configmaps?fieldValidation=Strict" % ns),
               data=json.dumps({"metadata": {"name": "strict"}, "dta": {}}))
    assert_status(r, 400, "BadRequest", 'ConfigMap in version "v1" cannot be handled as a ConfigMap: strict '
                  'decoding error: unknown field "dta"')
    r = s.post(url(kd, "/api/v1/namespaces/%s/configmaps" % ns), data=json.dumps({"metadata": {"name": "warn"},
                                                                                 "dta": {}}))
    assert r.status_code == 201 and "dta" not in r.json() and 'unknown field \\"dta\\"' in r.headers["Warning"]


# ---- selectors and pagination ----------------------------------------------------------------------

def test_label_and_field_selectors(kd, s):
    ns = namespace(kd, s)
    for name, labels in (("a", {"app": "web", "tier": "front"}), ("b", {"app": "db"}), ("c", {"app": "web"}),
                         ("d", {})):
        post(kd, s, "/api/v1/namespaces/%s/configmaps" % ns, {"metadata": {"name": name, "labels": labels}})

    def names(selector=None, field=None):
        params = {}
        if selector is not None:
            params["labelSelector"] = selector
        if field is not None:
            params["fieldSelector"] = field
        items = get(kd, s, "/api/v1/namespaces/%s/configmaps" % ns, params=params)["items"]
        return [i["metadata"]["name"] for i in items if i["metadata"]["name"] != "kube-root-ca.crt"]

    assert names("app=web") == ["a", "c"]
    assert names("app==web,tier=front") == ["a"]
    assert names("app!=web") == ["b", "d"]
    assert names("app in (web,db)") == ["a", "b", "c"]
    assert names("app notin (web)") == ["b", "d"]
    assert names("tier") == ["a"]
    assert names("!app") == ["d"]
    assert names(field="metadata.name=b") == ["b"]
    assert names(field="metadata.name!=b", selector="app") == ["a", "c"]
    assert_status(s.get(url(kd, "/api/v1/namespaces/%s/configmaps" % ns), params={"fieldSelector": "spec.x=1"}),
                  400, "BadRequest", "field label not supported: spec.x")
    assert_status(s.get(url(kd, "/api/v1/namespaces/%s/configmaps" % ns), params={"labelSelector": "a in (b"}),
                  400, "BadRequest")


def test_pagination_and_expired_continue(kd, s):
    ns = namespace(kd, s)
    for i in range(5):
        post(kd, s, "/api/v1/namespaces/%s/secrets" % ns, {"metadata": {"name": "s%d" % i}, "stringData": {"k": "v"}})
    page = get(kd, s, "/api/v1/namespaces/%s/secrets" % ns, params={"limit": 2})
    assert [i["metadata"]["name"] for i in page["items"]] == ["s0", "s1"]
    assert page["metadata"]["remainingItemCount"] == 3 and page["metadata"]["continue"]
    assert page["items"][0]["data"] == {"k": "dg=="} and page["items"][0]["type"] == "Opaque"
    seen = [i["metadata"]["name"] for i in page["items"]]
    token = page["metadata"]["continue"]
    while token:
        page = get(kd, s, "/api/v1/namespaces/%s/secrets" % ns, params={"limit": 2, "continue": token})
        seen += [i["metadata"]["name"] for i in page["items"]]
        token = page["metadata"].get("continue")
    assert seen == ["s0", "s1", "s2", "s3", "s4"]
    first = get(kd, s, "/api/v1/namespaces/%s/secrets" % ns, params={"limit": 2})
    assert s.post(url(kd, "/_double/compact")).status_code == 200
    r = s.get(url(kd, "/api/v1/namespaces/%s/secrets" % ns), params={"limit": 2,
                                                                     "continue": first["metadata"]["continue"]})
    assert_status(r, 410, "Expired")
    assert "The provided continue parameter is too old" in r.json()["message"]


# ---- patch and server-side apply --------------------------------------------------------------------

def test_patch_formats(kd, s):
    ns = namespace(kd, s)
    path = url(kd, APPS + "/namespaces/%s/deployments/web" % ns)
    post(kd, s, APPS + "/namespaces/%s/deployments" % ns, deployment(
        "web", containers=[{"name": "web", "image": "nginx:1.25", "env": [{"name": "A", "value": "1"}]},
                           {"name": "side", "image": "busybox:1"}]))
    r = s.patch(path, data=json.dumps({"metadata": {"labels": {"merged": "yes"}}}),
                headers={"Content-Type": "application/merge-patch+json"})
    assert r.status_code == 200 and r.json()["metadata"]["labels"] == {"app": "web", "merged": "yes"}
    smp = {"spec": {"template": {"spec": {"containers": [{"name": "web", "env": [{"name": "B", "value": "2"}]}]}}}}
    r = s.patch(path, data=json.dumps(smp), headers={"Content-Type": "application/strategic-merge-patch+json"})
    containers = r.json()["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["web", "side"]
    assert containers[0]["env"] == [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]
    assert containers[0]["image"] == "nginx:1.25"
    r = s.patch(path, data=json.dumps([{"op": "replace", "path": "/spec/replicas", "value": 4},
                                       {"op": "add", "path": "/metadata/labels/j", "value": "k"}]),
                headers={"Content-Type": "application/json-patch+json"})
    assert r.json()["spec"]["replicas"] == 4 and r.json()["metadata"]["labels"]["j"] == "k"
    assert r.json()["metadata"]["generation"] == 3
    r = s.patch(path, data=json.dumps([{"op": "test", "path": "/spec/replicas", "value": 9}]),
                headers={"Content-Type": "application/json-patch+json"})
    assert_status(r, 422, "Invalid")
    assert_status(s.patch(path, data="{}", headers={"Content-Type": "text/plain"}), 415, "UnsupportedMediaType")
    r = s.patch(path + "?dryRun=All", data=json.dumps({"spec": {"replicas": 7}}),
                headers={"Content-Type": "application/merge-patch+json"})
    assert r.status_code == 200 and r.json()["spec"]["replicas"] == 7
    assert get(kd, s, APPS + "/namespaces/%s/deployments/web" % ns)["spec"]["replicas"] == 4
    r = s.post(url(kd, "/api/v1/namespaces/%s/configmaps?dryRun=All" % ns), data=json.dumps({"metadata": {
        "name": "dry"}}))
    assert r.status_code == 201
    assert s.get(url(kd, "/api/v1/namespaces/%s/configmaps/dry" % ns)).status_code == 404


def test_server_side_apply(kd, s):
    ns = namespace(kd, s)
    path = url(kd, "/api/v1/namespaces/%s/configmaps/cfg" % ns)
    apply_hdr = {"Content-Type": "application/apply-patch+yaml"}
    body = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\ndata:\n  a: '1'\n  b: '2'\n"
    r = s.patch(path, data=body, headers=apply_hdr)
    assert_status(r, 400, "BadRequest")
    r = s.patch(path + "?fieldManager=alice", data=body, headers=apply_hdr)
    assert r.status_code == 201, r.text
    created = r.json()
    entry = created["metadata"]["managedFields"][0]
    assert entry["manager"] == "alice" and entry["operation"] == "Apply" and entry["fieldsType"] == "FieldsV1"
    assert entry["fieldsV1"] == {"f:data": {"f:a": {}, "f:b": {}}} and entry["apiVersion"] == "v1"
    again = s.patch(path + "?fieldManager=alice", data=body, headers=apply_hdr).json()
    assert again["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
    # Bob co-owns a with the same value (no conflict) and sets c.
    r = s.patch(path + "?fieldManager=bob", headers=apply_hdr, data=json.dumps(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}, "data": {"a": "1", "c": "3"}}))
    assert r.status_code == 200 and r.json()["data"] == {"a": "1", "b": "2", "c": "3"}
    # Alice stops applying a and b: b goes, a stays (bob still owns it).
    r = s.patch(path + "?fieldManager=alice", headers=apply_hdr,
                data="apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\ndata:\n  d: '4'\n")
    assert r.json()["data"] == {"a": "1", "c": "3", "d": "4"}
    # A different value for a field bob owns conflicts, unless forced.
    conflict = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}, "data": {"c": "changed"}}
    r = s.patch(path + "?fieldManager=alice", headers=apply_hdr, data=json.dumps(conflict))
    body = assert_status(r, 409, "Conflict", 'Apply failed with 1 conflict: conflict with "bob": .data.c')
    assert body["details"]["causes"] == [{"reason": "FieldManagerConflict", "message": 'conflict with "bob"',
                                          "field": ".data.c"}]
    r = s.patch(path + "?fieldManager=alice&force=true", headers=apply_hdr, data=json.dumps(conflict))
    assert r.status_code == 200 and r.json()["data"]["c"] == "changed"
    owners = {e["manager"]: e["fieldsV1"] for e in r.json()["metadata"]["managedFields"]}
    assert owners["alice"] == {"f:data": {"f:c": {}}} and owners["bob"] == {"f:data": {"f:a": {}}}
    # An Update manager (PUT via requests) conflicts as "<manager> using <apiVersion>".
    dep = url(kd, APPS + "/namespaces/%s/deployments/web" % ns)
    post(kd, s, APPS + "/namespaces/%s/deployments?fieldManager=creator" % ns, deployment("web"))
    applied = deployment("web", replicas=3)
    r = s.patch(dep + "?fieldManager=applier", headers=apply_hdr, data=json.dumps(applied))
    assert_status(r, 409, "Conflict", 'Apply failed with 1 conflict: conflict with "creator" using apps/v1: '
                  '.spec.replicas')
    r = s.patch(dep + "?fieldManager=applier&dryRun=All&force=true", headers=apply_hdr, data=json.dumps(applied))
    assert r.status_code == 200 and r.json()["spec"]["replicas"] == 3
    assert get(kd, s, APPS + "/namespaces/%s/deployments/web" % ns)["spec"]["replicas"] == 1
    fields = r.json()["metadata"]["managedFields"]
    apply_entry = next(e for e in fields if e["manager"] == "applier")
    container = apply_entry["fieldsV1"]["f:spec"]["f:template"]["f:spec"]["f:containers"]['k:{"name":"web"}']
    assert container["."] == {} and "f:image" in container


# ---- watch ----------------------------------------------------------------------------------------

def test_watch_events_resume_bookmarks_and_compaction(kd, s):
    ns = namespace(kd, s)
    base = "/api/v1/namespaces/%s/configmaps" % ns
    post(kd, s, base, {"metadata": {"name": "before", "labels": {"w": "1"}}})
    w = Watch(s, url(kd, base), {"labelSelector": "w=1", "allowWatchBookmarks": "true"})
    try:
        first = w.until(lambda e: e["type"] == "ADDED")
        assert first["object"]["metadata"]["name"] == "before" and first["object"]["kind"] == "ConfigMap"
        created = post(kd, s, base, {"metadata": {"name": "after", "labels": {"w": "1"}}})
        w.until(lambda e: e["type"] == "ADDED" and e["object"]["metadata"]["name"] == "after")
        # Label no longer matching: the watcher sees it leave as DELETED.
        r = s.patch(url(kd, base + "/after"), data=json.dumps({"metadata": {"labels": {"w": "2"}}}),
                    headers={"Content-Type": "application/merge-patch+json"})
        assert r.status_code == 200
        w.until(lambda e: e["type"] == "DELETED" and e["object"]["metadata"]["name"] == "after")
        mark = w.until(lambda e: e["type"] == "BOOKMARK", timeout=3)
        assert set(mark["object"]["metadata"]) == {"resourceVersion", "creationTimestamp"}
        assert mark["object"]["kind"] == "ConfigMap"
    finally:
        w.close()
    # Resume after the creation: only later events.
    w = Watch(s, url(kd, base), {"resourceVersion": created["metadata"]["resourceVersion"]})
    try:
        ev = w.until(lambda e: e["type"] == "MODIFIED")
        assert ev["object"]["metadata"]["labels"] == {"w": "2"}
        assert not any(e["type"] == "ADDED" for e in w.events)
        # Compaction ends open watches with a 410 ERROR event.
        assert s.post(url(kd, "/_double/compact")).status_code == 200
        err = w.until(lambda e: e["type"] == "ERROR")
        assert err["object"]["code"] == 410 and err["object"]["reason"] == "Expired"
        assert err["object"]["message"].startswith("too old resource version: ")
        assert w.done.wait(5)
    finally:
        w.close()
    r = s.get(url(kd, base), params={"watch": "1", "resourceVersion": created["metadata"]["resourceVersion"]},
              timeout=10)
    lines = [json.loads(x) for x in r.text.splitlines() if x]
    assert len(lines) == 1 and lines[0]["type"] == "ERROR" and lines[0]["object"]["code"] == 410
    assert re.match(r"^too old resource version: %s \(\d+\)$" % created["metadata"]["resourceVersion"],
                    lines[0]["object"]["message"])
    r = s.get(url(kd, base), params={"watch": "true", "timeoutSeconds": "1"}, timeout=10)
    assert r.status_code == 200 and r.headers["Transfer-Encoding"] == "chunked"
    types = [json.loads(x)["type"] for x in r.text.splitlines() if x]
    assert types == ["ADDED", "ADDED", "ADDED"]


# ---- the simulated controllers ----------------------------------------------------------------------

def test_deployment_rollout_status_scale_and_template_change(kd, s):
    ns = namespace(kd, s)
    post(kd, s, APPS + "/namespaces/%s/deployments" % ns, deployment("web", replicas=2))
    path = APPS + "/namespaces/%s/deployments/web" % ns

    def ready(expected):
        st = get(kd, s, path)
        return st if st.get("status", {}).get("readyReplicas") == expected and \
            st["status"].get("updatedReplicas") == expected and st["status"].get("replicas") == expected else None

    d = wait_for(lambda: ready(2), message="2 ready replicas")
    st = d["status"]
    assert st["availableReplicas"] == 2 and st["observedGeneration"] == 1
    conds = {c["type"]: c for c in st["conditions"]}
    assert conds["Available"]["status"] == "True" and conds["Available"]["reason"] == "MinimumReplicasAvailable"
    assert conds["Progressing"]["reason"] == "NewReplicaSetAvailable"
    rs = get(kd, s, APPS + "/namespaces/%s/replicasets" % ns)["items"]
    assert len(rs) == 1 and re.match(r"^web-[bcdfghjklmnpqrstvwxz2456789]{10}$", rs[0]["metadata"]["name"])
    owner = rs[0]["metadata"]["ownerReferences"][0]
    assert owner["kind"] == "Deployment" and owner["uid"] == d["metadata"]["uid"] and owner["controller"] is True
    ps = pods(kd, s, ns)
    assert len(ps) == 2
    for p in ps:
        assert p["metadata"]["name"].startswith(rs[0]["metadata"]["name"] + "-")
        assert len(p["metadata"]["name"]) == len(rs[0]["metadata"]["name"]) + 6
        assert p["status"]["phase"] == "Running" and re.match(r"^10\.244\.\d+\.\d+$", p["status"]["podIP"])
        assert p["status"]["containerStatuses"][0]["ready"] is True
        assert p["metadata"]["ownerReferences"][0]["uid"] == rs[0]["metadata"]["uid"]
    reasons = {e["reason"] for e in events(kd, s, ns)}
    assert {"Scheduled", "Pulling", "Pulled", "Created", "Started", "SuccessfulCreate", "ScalingReplicaSet"} <= reasons
    # Scale subresource.
    scale = get(kd, s, path + "/scale")
    assert scale["kind"] == "Scale" and scale["apiVersion"] == "autoscaling/v1" and scale["spec"]["replicas"] == 2
    assert scale["status"]["selector"] == "app=web"
    r = s.patch(url(kd, path + "/scale"), data=json.dumps({"spec": {"replicas": 1}}),
                headers={"Content-Type": "application/merge-patch+json"})
    assert r.status_code == 200 and r.json()["spec"]["replicas"] == 1
    wait_for(lambda: len(pods(kd, s, ns)) == 1, message="scaled to 1")
    scale = get(kd, s, path + "/scale")
    scale["spec"]["replicas"] = 0
    assert s.put(url(kd, path + "/scale"), data=json.dumps(scale)).status_code == 200
    wait_for(lambda: not pods(kd, s, ns), message="scaled to 0")
    # A new pod template: a new ReplicaSet, the old one scaled to 0.
    smp = {"spec": {"replicas": 1, "template": {"spec": {"containers": [{"name": "web", "image": "nginx:1.26"}]}}}}
    r = s.patch(url(kd, path), data=json.dumps(smp), headers={"Content-Type": "application/strategic-merge-patch+json"})
    assert r.json()["metadata"]["generation"] == 4
    wait_for(lambda: ready(1), message="rolled out")
    rs = {x["metadata"]["name"]: x for x in get(kd, s, APPS + "/namespaces/%s/replicasets" % ns)["items"]}
    assert len(rs) == 2
    assert sorted(x["spec"]["replicas"] for x in rs.values()) == [0, 1]
    new = next(x for x in rs.values() if x["spec"]["replicas"] == 1)
    assert new["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "2"
    assert pods(kd, s, ns)[0]["spec"]["containers"][0]["image"] == "nginx:1.26"


def test_statefulset_job_service_and_volumes(kd, s):
    ns = namespace(kd, s)
    sts = deployment("db", replicas=2)
    sts["kind"] = "StatefulSet"
    sts["spec"]["serviceName"] = "db"
    sts["spec"]["volumeClaimTemplates"] = [{"metadata": {"name": "data"}, "spec": {
        "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]
    post(kd, s, APPS + "/namespaces/%s/statefulsets" % ns, sts)
    wait_for(lambda: get(kd, s, APPS + "/namespaces/%s/statefulsets/db" % ns).get("status", {}).get(
        "readyReplicas") == 2, message="statefulset ready")
    assert sorted(p["metadata"]["name"] for p in pods(kd, s, ns)) == ["db-0", "db-1"]
    claims = get(kd, s, "/api/v1/namespaces/%s/persistentvolumeclaims" % ns)["items"]
    assert sorted(c["metadata"]["name"] for c in claims) == ["data-db-0", "data-db-1"]
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "once"}, "spec": {"template": {
        "spec": {"restartPolicy": "Never", "containers": [{"name": "main", "image": "busybox:1"}]}}}}
    created = post(kd, s, "/apis/batch/v1/namespaces/%s/jobs" % ns, job)
    uid = created["metadata"]["uid"]
    assert created["spec"]["selector"] == {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
    done = wait_for(lambda: (lambda j: j if any(c["type"] == "Complete" for c in j.get("status", {}).get(
        "conditions", [])) else None)(get(kd, s, "/apis/batch/v1/namespaces/%s/jobs/once" % ns)), message="job done")
    assert done["status"]["succeeded"] == 1 and done["status"]["completionTime"]
    pod = pods(kd, s, ns, "job-name=once")[0]
    assert pod["status"]["phase"] == "Succeeded"
    assert pod["status"]["containerStatuses"][0]["state"]["terminated"]["reason"] == "Completed"
    job["metadata"]["name"] = "always"
    job["spec"]["template"]["spec"]["restartPolicy"] = "Always"
    body = assert_status(s.post(url(kd, "/apis/batch/v1/namespaces/%s/jobs" % ns), data=json.dumps(job)), 422,
                         "Invalid")
    assert 'spec.template.spec.restartPolicy: Unsupported value: "Always": supported values: "OnFailure", "Never"' \
        in body["message"]
    svc = post(kd, s, "/api/v1/namespaces/%s/services" % ns, {"metadata": {"name": "db"}, "spec": {
        "selector": {"app": "db"}, "ports": [{"port": 5432}]}})
    assert re.match(r"^10\.96\.\d+\.\d+$", svc["spec"]["clusterIP"]) and svc["spec"]["type"] == "ClusterIP"
    assert svc["spec"]["ports"][0] == {"port": 5432, "protocol": "TCP", "targetPort": 5432}
    pv = post(kd, s, "/api/v1/persistentvolumes", {"metadata": {"name": "pv-%s" % ns}, "spec": {
        "capacity": {"storage": "5Gi"}, "accessModes": ["ReadWriteOnce"], "hostPath": {"path": "/tmp/x"}}})
    assert pv["status"]["phase"] == "Pending"
    wait_for(lambda: get(kd, s, "/api/v1/persistentvolumes/pv-%s" % ns)["status"]["phase"] == "Available",
             message="pv available")
    post(kd, s, "/api/v1/namespaces/%s/persistentvolumeclaims" % ns, {"metadata": {"name": "named"}, "spec": {
        "volumeName": "pv-%s" % ns, "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}})
    claim = wait_for(lambda: (lambda c: c if c.get("status", {}).get("phase") == "Bound" else None)(
        get(kd, s, "/api/v1/namespaces/%s/persistentvolumeclaims/named" % ns)), message="pvc bound")
    assert claim["status"]["capacity"] == {"storage": "5Gi"}
    pv = get(kd, s, "/api/v1/persistentvolumes/pv-%s" % ns)
    assert pv["status"]["phase"] == "Bound" and pv["spec"]["claimRef"]["name"] == "named"
    dynamic = wait_for(lambda: get(kd, s, "/api/v1/namespaces/%s/persistentvolumeclaims/data-db-0" % ns).get(
        "spec", {}).get("volumeName"), message="dynamic pv")
    assert dynamic.startswith("pvc-")


def test_failure_modes(kd, s):
    ns = namespace(kd, s)
    post(kd, s, APPS + "/namespaces/%s/deployments" % ns, deployment("pull", image="example.org/app:does-not-exist"))
    post(kd, s, APPS + "/namespaces/%s/deployments" % ns, deployment(
        "crash", annotations={"kube-double.knot.test/behaviour": "crash-loop"}))
    post(kd, s, APPS + "/namespaces/%s/deployments" % ns, deployment(
        "stuck", annotations={"kube-double.knot.test/behaviour": "pending"}))

    def waiting(selector, reason):
        ps = pods(kd, s, ns, selector)
        for p in ps:
            for cs in p.get("status", {}).get("containerStatuses", []):
                if cs.get("state", {}).get("waiting", {}).get("reason") == reason:
                    return p
        return None

    p = wait_for(lambda: waiting("app=pull", "ImagePullBackOff"), message="ImagePullBackOff")
    assert p["status"]["phase"] == "Pending"
    assert p["status"]["containerStatuses"][0]["state"]["waiting"]["message"] == \
        'Back-off pulling image "example.org/app:does-not-exist"'
    reasons = {e["reason"] for e in events(kd, s, ns, **{"involvedObject.name": p["metadata"]["name"]})}
    assert {"Failed", "BackOff"} <= reasons
    p = wait_for(lambda: (lambda x: x if x and x["status"]["containerStatuses"][0]["restartCount"] >= 3 else None)(
        waiting("app=crash", "CrashLoopBackOff")), message="restarts")
    cs = p["status"]["containerStatuses"][0]
    assert p["status"]["phase"] == "Running" and cs["ready"] is False
    assert cs["lastState"]["terminated"]["exitCode"] == 1
    backoff = events(kd, s, ns, reason="BackOff", **{"involvedObject.name": p["metadata"]["name"]})
    assert backoff and backoff[0]["type"] == "Warning" and backoff[0]["count"] >= 2
    assert backoff[0]["message"].startswith("Back-off restarting failed container web in pod ")
    p = pods(kd, s, ns, "app=stuck")[0]
    cond = wait_for(lambda: next((c for c in pods(kd, s, ns, "app=stuck")[0]["status"].get("conditions", [])
                                  if c["type"] == "PodScheduled"), None), message="unschedulable")
    assert cond["status"] == "False" and cond["reason"] == "Unschedulable"
    failed = events(kd, s, ns, reason="FailedScheduling")
    assert failed and failed[0]["message"].startswith("0/1 nodes are available: 1 Insufficient cpu.")
    assert failed[0]["source"]["component"] == "default-scheduler"
    dep = get(kd, s, APPS + "/namespaces/%s/deployments/crash" % ns)
    assert dep["status"].get("readyReplicas", 0) == 0 and dep["status"]["unavailableReplicas"] == 1


def test_resource_quota(kd, s):
    ns = namespace(kd, s)
    post(kd, s, "/api/v1/namespaces/%s/resourcequotas" % ns, {"metadata": {"name": "q"},
                                                              "spec": {"hard": {"pods": "2", "configmaps": "10"}}})
    post(kd, s, APPS + "/namespaces/%s/deployments" % ns, deployment("web", replicas=3))
    ev = wait_for(lambda: events(kd, s, ns, reason="FailedCreate"), message="FailedCreate")[0]
    assert ev["type"] == "Warning" and ev["involvedObject"]["kind"] == "ReplicaSet"
    assert re.match(r'^Error creating: pods "web-\w{10}-" is forbidden: exceeded quota: q, requested: pods=1, '
                    r'used: pods=2, limited: pods=2$', ev["message"]), ev["message"]
    dep = wait_for(lambda: (lambda d: d if any(c["type"] == "ReplicaFailure" for c in d.get("status", {}).get(
        "conditions", [])) else None)(get(kd, s, APPS + "/namespaces/%s/deployments/web" % ns)), message="failure")
    cond = next(c for c in dep["status"]["conditions"] if c["type"] == "ReplicaFailure")
    assert cond["status"] == "True" and cond["reason"] == "FailedCreate"
    quota = wait_for(lambda: (lambda q: q if q.get("status", {}).get("used", {}).get("pods") == "2" else None)(
        get(kd, s, "/api/v1/namespaces/%s/resourcequotas/q" % ns)), message="quota status")
    assert quota["status"]["hard"] == {"pods": "2", "configmaps": "10"} and quota["status"]["used"]["configmaps"] == \
        "1"
    r = s.post(url(kd, "/api/v1/namespaces/%s/pods" % ns), data=json.dumps({"metadata": {"name": "extra"}, "spec": {
        "containers": [{"name": "c", "image": "busybox:1"}]}}))
    assert_status(r, 403, "Forbidden", 'pods "extra" is forbidden: exceeded quota: q, requested: pods=1, used: pods=2,'
                  ' limited: pods=2')


# ---- logs ----------------------------------------------------------------------------------------

def test_pod_logs(kd, s):
    ns = namespace(kd, s)
    spec = {"containers": [{"name": "web", "image": "nginx:1.25"}]}
    post(kd, s, "/api/v1/namespaces/%s/pods" % ns, {"metadata": {"name": "one"}, "spec": spec})
    log = "/api/v1/namespaces/%s/pods/one/log" % ns
    r = s.get(url(kd, log))
    assert_status(r, 400, "BadRequest", 'container "web" in pod "one" is waiting to start: ContainerCreating')
    wait_for(lambda: s.get(url(kd, log)).status_code == 200, message="running")
    time.sleep(1.1)
    r = s.get(url(kd, log))
    assert r.headers["Content-Type"].startswith("text/plain")
    lines = r.text.splitlines()
    assert lines[0] == "double: container web started (image nginx:1.25)"
    assert lines[1:3] == ["double: tick 1", "double: tick 2"]
    r = s.get(url(kd, log), params={"tailLines": 1, "timestamps": "true"})
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z double: tick \d+$", r.text.strip())
    # Follow streams new ticks and ends when the pod goes.
    resp = s.get(url(kd, log), params={"follow": "true"}, stream=True, timeout=10)
    got = []

    def read():
        for line in resp.iter_lines():
            got.append(line.decode())
    t = threading.Thread(target=read, daemon=True)
    t.start()
    first = len(lines)
    wait_for(lambda: len(got) > first + 1, message="followed ticks")
    assert s.delete(url(kd, "/api/v1/namespaces/%s/pods/one" % ns)).status_code == 200
    t.join(5)
    assert not t.is_alive() and got[0].startswith("double: container web started")
    two = {"containers": [{"name": "a", "image": "x:1"}, {"name": "b", "image": "y:1"}]}
    post(kd, s, "/api/v1/namespaces/%s/pods" % ns, {"metadata": {"name": "two"}, "spec": two})
    r = s.get(url(kd, "/api/v1/namespaces/%s/pods/two/log" % ns))
    assert_status(r, 400, "BadRequest", "a container name must be specified for pod two, choose one of: [a b]")
    assert_status(s.get(url(kd, "/api/v1/namespaces/%s/pods/missing/log" % ns)), 404, "NotFound",
                  'pods "missing" not found')
    post(kd, s, "/api/v1/namespaces/%s/pods" % ns, {"metadata": {"name": "crash", "annotations": {
        "kube-double.knot.test/behaviour": "crash-loop"}}, "spec": spec})
    wait_for(lambda: s.get(url(kd, "/api/v1/namespaces/%s/pods/crash/log" % ns)).status_code == 200, message="log")
    text = s.get(url(kd, "/api/v1/namespaces/%s/pods/crash/log" % ns)).text
    assert text.splitlines()[-1] == "double: fatal error, exiting with code 1"


# ---- delete, garbage collection, namespaces -------------------------------------------------------

def test_delete_propagation(kd, s):
    ns = namespace(kd, s)
    for name in ("bg", "orphan", "fg"):
        post(kd, s, APPS + "/namespaces/%s/deployments" % ns, deployment(name))
    wait_for(lambda: len(pods(kd, s, ns)) == 3 and all(p["status"]["phase"] == "Running" for p in pods(kd, s, ns)),
             message="3 pods")
    r = s.delete(url(kd, APPS + "/namespaces/%s/deployments/bg" % ns))
    assert r.status_code == 200 and r.json()["kind"] == "Status" and r.json()["status"] == "Success"
    assert r.json()["details"]["name"] == "bg" and r.json()["details"]["kind"] == "deployments"
    wait_for(lambda: not pods(kd, s, ns, "app=bg"), message="bg pods gone")
    assert not [x for x in get(kd, s, APPS + "/namespaces/%s/replicasets" % ns)["items"]
                if x["metadata"]["name"].startswith("bg-")]
    r = s.delete(url(kd, APPS + "/namespaces/%s/deployments/orphan" % ns),
                 data=json.dumps({"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Orphan"}))
    assert r.status_code == 200
    rs = [x for x in get(kd, s, APPS + "/namespaces/%s/replicasets" % ns)["items"]
          if x["metadata"]["name"].startswith("orphan-")]
    assert len(rs) == 1 and "ownerReferences" not in rs[0]["metadata"]
    time.sleep(0.3)
    assert len(pods(kd, s, ns, "app=orphan")) == 1
    r = s.delete(url(kd, APPS + "/namespaces/%s/deployments/fg?propagationPolicy=Foreground" % ns))
    assert r.status_code == 202 and "foregroundDeletion" in r.json()["metadata"]["finalizers"]
    assert r.json()["metadata"]["deletionTimestamp"]
    wait_for(lambda: s.get(url(kd, APPS + "/namespaces/%s/deployments/fg" % ns)).status_code == 404,
             message="fg deployment gone")
    assert not pods(kd, s, ns, "app=fg")
    # A pod delete answers with the pod; deletecollection with the deleted items.
    pod = pods(kd, s, ns, "app=orphan")[0]
    r = s.delete(url(kd, "/api/v1/namespaces/%s/pods/%s" % (ns, pod["metadata"]["name"])))
    assert r.status_code == 200 and r.json()["kind"] == "Pod"
    post(kd, s, "/api/v1/namespaces/%s/configmaps" % ns, {"metadata": {"name": "x1", "labels": {"del": "y"}}})
    post(kd, s, "/api/v1/namespaces/%s/configmaps" % ns, {"metadata": {"name": "x2", "labels": {"del": "y"}}})
    r = s.delete(url(kd, "/api/v1/namespaces/%s/configmaps" % ns), params={"labelSelector": "del=y"})
    assert r.status_code == 200 and sorted(i["metadata"]["name"] for i in r.json()["items"]) == ["x1", "x2"]
    assert_status(s.delete(url(kd, "/api/v1/namespaces/%s/configmaps/x1" % ns)), 404, "NotFound")


def test_namespace_termination(kd, s):
    ns = namespace(kd, s)
    post(kd, s, APPS + "/namespaces/%s/deployments" % ns, deployment("web"))
    post(kd, s, "/api/v1/namespaces/%s/configmaps" % ns, {"metadata": {"name": "cfg"}})
    r = s.delete(url(kd, "/api/v1/namespaces/%s" % ns))
    assert r.status_code == 200 and r.json()["status"]["phase"] == "Terminating"
    assert r.json()["metadata"]["deletionTimestamp"]
    r = s.post(url(kd, "/api/v1/namespaces/%s/configmaps" % ns), data=json.dumps({"metadata": {"name": "late"}}))
    assert_status(r, 403, "Forbidden", 'configmaps "late" is forbidden: unable to create new content in namespace %s '
                  'because it is being terminated' % ns)
    wait_for(lambda: s.get(url(kd, "/api/v1/namespaces/%s" % ns)).status_code == 404, timeout=5,
             message="namespace gone")
    assert get(kd, s, "/api/v1/configmaps", params={"fieldSelector": "metadata.namespace=" + ns})["items"] == []
    assert get(kd, s, "/api/v1/pods", params={"fieldSelector": "metadata.namespace=" + ns})["items"] == []


# ---- custom resources ------------------------------------------------------------------------------

def test_custom_resource_definition(kd, s):
    ns = namespace(kd, s)
    crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
           "metadata": {"name": "widgets.example.knot.test"},
           "spec": {"group": "example.knot.test", "scope": "Namespaced",
                    "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "shortNames": ["wd"]},
                    "versions": [{"name": "v1", "served": True, "storage": True,
                                  "schema": {"openAPIV3Schema": {"type": "object"}}}]}}
    created = post(kd, s, "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd)
    assert {c["type"]: c["status"] for c in created["status"]["conditions"]} == {"NamesAccepted": "True",
                                                                                  "Established": "True"}
    groups = {g["name"]: g for g in get(kd, s, "/apis")["groups"]}
    assert groups["example.knot.test"]["preferredVersion"]["version"] == "v1"
    res = get(kd, s, "/apis/example.knot.test/v1")["resources"]
    assert res[0]["name"] == "widgets" and res[0]["kind"] == "Widget" and res[0]["shortNames"] == ["wd"]
    base = "/apis/example.knot.test/v1/namespaces/%s/widgets" % ns
    w = post(kd, s, base, {"apiVersion": "example.knot.test/v1", "kind": "Widget", "metadata": {"name": "w1"},
                           "spec": {"size": 3, "anything": {"goes": True}}})
    assert w["spec"] == {"size": 3, "anything": {"goes": True}} and w["metadata"]["generation"] == 1
    listed = get(kd, s, base)
    assert listed["kind"] == "WidgetList" and listed["items"][0]["metadata"]["name"] == "w1"
    r = s.patch(url(kd, base + "/w1"), data="{}", headers={"Content-Type": "application/strategic-merge-patch+json"})
    assert_status(r, 415, "UnsupportedMediaType")
    r = s.delete(url(kd, "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.knot.test"))
    assert r.status_code == 200
    assert "example.knot.test" not in {g["name"] for g in get(kd, s, "/apis")["groups"]}
    assert_status(s.get(url(kd, base)), 404, "NotFound")


# ---- tables (kubectl get) --------------------------------------------------------------------------

def test_table_output(kd, s):
    ns = namespace(kd, s)
    post(kd, s, "/api/v1/namespaces/%s/pods" % ns, {"metadata": {"name": "p"}, "spec": {"containers": [
        {"name": "c", "image": "busybox:1"}]}})
    accept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io," \
             "application/json"
    r = s.get(url(kd, "/api/v1/namespaces/%s/pods" % ns), headers={"Accept": accept})
    assert r.headers["Content-Type"] == "application/json;as=Table;v=v1;g=meta.k8s.io"
    t = r.json()
    assert t["kind"] == "Table" and t["apiVersion"] == "meta.k8s.io/v1"
    assert [c["name"] for c in t["columnDefinitions"] if c["priority"] == 0] == ["Name", "Ready", "Status",
                                                                                  "Restarts", "Age"]
    row = t["rows"][0]
    assert row["cells"][0] == "p" and row["cells"][1] in ("0/1", "1/1")
    assert row["object"]["kind"] == "PartialObjectMetadata" and row["object"]["metadata"]["name"] == "p"
    t = get(kd, s, APPS + "/namespaces/%s/deployments" % ns, headers={"Accept": accept})
    assert [c["name"] for c in t["columnDefinitions"] if c["priority"] == 0] == ["Name", "Ready", "Up-to-date",
                                                                                  "Available", "Age"]
    t = get(kd, s, "/api/v1/namespaces/%s" % ns, headers={"Accept": accept}, params={"includeObject": "Object"})
    assert t["rows"][0]["cells"][:2] == [ns, "Active"] and t["rows"][0]["object"]["kind"] == "Namespace"


# ---- control endpoints -----------------------------------------------------------------------------

def test_faults_stats_and_reset(kd, s):
    r = s.post(url(kd, "/_double/faults"), json={"status": 503, "count": 2, "retryAfter": 1,
                                                 "pathPrefix": "/api/v1/namespaces", "method": "GET"})
    assert r.status_code == 201
    for _ in range(2):
        r = s.get(url(kd, "/api/v1/namespaces"))
        assert_status(r, 503, "ServiceUnavailable")
        assert r.headers["Retry-After"] == "1"
    assert s.get(url(kd, "/api/v1/namespaces")).status_code == 200
    s.post(url(kd, "/_double/faults"), json={"status": 429, "count": 1})
    assert_status(s.get(url(kd, "/api/v1/pods")), 429, "TooManyRequests")
    s.post(url(kd, "/_double/faults"), json={"status": 500, "count": 1})
    assert_status(s.get(url(kd, "/api/v1/pods")), 500, "InternalError")
    s.post(url(kd, "/_double/faults"), json={"drop": True, "count": 1, "pathPrefix": "/api/v1/secrets"})
    fresh = kd.session()
    with pytest.raises(requests.exceptions.ConnectionError):
        fresh.get(url(kd, "/api/v1/secrets"), timeout=5)
    assert kd.session().get(url(kd, "/api/v1/secrets")).status_code == 200
    stats = get(kd, s, "/_double/stats")
    assert stats["requests"] > 50 and stats["byVerb"]["list"] > 5 and stats["byVerb"]["create"] > 10
    assert stats["cpuSeconds"] > 0 and stats["objects"] > 20
    assert_status(kd.session(token=False).get(url(kd, "/_double/stats")), 401, "Unauthorized")
    r = s.post(url(kd, "/_double/reset"))
    assert r.status_code == 200
    names = [n["metadata"]["name"] for n in get(kd, s, "/api/v1/namespaces")["items"]]
    assert names == ["default", "kube-node-lease", "kube-public", "kube-system"]
    assert get(kd, s, "/apis/rbac.authorization.k8s.io/v1/clusterroles/admin")["metadata"]["name"] == "admin"
    assert get(kd, s, "/_double/stats")["requests"] <= 3


def test_sigterm_stops_cleanly(tmp_path):
    double = Double(tmp_path / "state", "--quiet")
    assert double.session().get(double.url + "/api/v1/namespaces/default").status_code == 200
    with open(os.path.join(double.dir, "port")) as f:
        assert int(f.read()) == double.port
    ca = open(os.path.join(double.dir, "ca.crt")).read()
    assert double.stop() == 0
    # A restart in the same directory keeps the CA (clients keep trusting it) and picks a new port.
    again = Double(tmp_path / "state", "--quiet")
    try:
        assert open(os.path.join(again.dir, "ca.crt")).read() == ca
        assert again.session().get(again.url + "/version").status_code == 200
    finally:
        assert again.stop() == 0
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", again.port), timeout=1)
