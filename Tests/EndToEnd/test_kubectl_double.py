"""The Kubernetes API test double, proven with the real kubectl.

CI machines cannot run a cluster, so Knot's Kubernetes tests talk to a test double
(Tests/KubeAPIDouble). This module shows that an unmodified kubectl, with its default
flags (including --validate=strict), works against it the way it works against a real
API server: discovery, create/apply/patch/delete, server-side apply conflicts, table
output, watch, logs, client certificates and custom resources.

It starts its own double and needs none of the Knot fixtures of conftest.py.
kubectl missing: the module is skipped, unless KNOT_REQUIRE_KUBECTL is set (then it fails).
KNOT_KUBECTL_COMPAT (colon-separated paths) adds kubectl binaries for the short
compatibility scenario; by default it runs with the oldest and newest kubectl.1.* found
next to kubectl (the gcloud kubectl dispatcher ships several).
"""
import glob
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import uuid

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "KubeAPIDouble"))
from kubedouble.testing import Double, wait_for  # noqa: E402

KUBECTL = shutil.which("kubectl")
if KUBECTL is None:
    if os.environ.get("KNOT_REQUIRE_KUBECTL"):
        raise RuntimeError("KNOT_REQUIRE_KUBECTL is set but kubectl is not on PATH")
    pytest.skip("kubectl is not installed", allow_module_level=True)

NS = "kd-" + uuid.uuid4().hex[:6]


def client_minor():
    """The kubectl's own minor version: Debian's kubernetes-client is 1.20, which
    prints versions in the old format, validates nothing itself and always shows
    managed fields; the checks that depend on that follow the version."""
    out = subprocess.run([KUBECTL, "version", "--client", "-o", "json"], capture_output=True, text=True).stdout
    try:
        return int("".join(ch for ch in json.loads(out)["clientVersion"]["minor"] if ch.isdigit()))
    except (ValueError, KeyError):
        return 99


CLIENT_MINOR = client_minor()

APP = textwrap.dedent("""\
    apiVersion: v1
    kind: Namespace
    metadata:
      name: {ns}
    ---
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: web-config
      namespace: {ns}
    data:
      greeting: hello
    ---
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: web
      namespace: {ns}
      labels: {{app: web}}
    spec:
      replicas: {replicas}
      selector:
        matchLabels: {{app: web}}
      template:
        metadata:
          labels: {{app: web}}
        spec:
          containers:
          - name: web
            image: nginx:1.25
            ports:
            - containerPort: 80
    ---
    apiVersion: v1
    kind: Service
    metadata:
      name: web
      namespace: {ns}
    spec:
      selector: {{app: web}}
      ports:
      - port: 80
        targetPort: 80
    """)

CRD = textwrap.dedent("""\
    apiVersion: apiextensions.k8s.io/v1
    kind: CustomResourceDefinition
    metadata:
      name: workflows.argoproj.io
    spec:
      group: argoproj.io
      names: {kind: Workflow, listKind: WorkflowList, plural: workflows, singular: workflow, shortNames: [wf]}
      scope: Namespaced
      versions:
      - name: v1alpha1
        served: true
        storage: true
        schema:
          openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
        subresources: {status: {}}
    """)

WORKFLOW = textwrap.dedent("""\
    apiVersion: argoproj.io/v1alpha1
    kind: Workflow
    metadata:
      name: hello
      namespace: {ns}
    spec:
      entrypoint: main
      templates:
      - name: main
        container: {{image: alpine:3, command: [echo, hi]}}
    """)


def deployment_only(replicas, ns=NS):
    return APP.format(ns=ns, replicas=replicas).split("---\n")[2]


class Kubectl:
    def __init__(self, binary, double, workdir):
        self.binary = binary
        self.double = double
        self.workdir = workdir
        self.cache = os.path.join(workdir, "kube-cache")  # never the user's ~/.kube/cache
        self.env = dict(os.environ, KUBECACHEDIR=self.cache)
        self.env.pop("KUBECONFIG", None)

    def __call__(self, *args, kubeconfig=None, check=True, timeout=30, stdin=None):
        cmd = [self.binary, "--kubeconfig", kubeconfig or self.double.kubeconfig, "--cache-dir", self.cache]
        cmd += list(args)
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=self.env, input=stdin)
        if check and r.returncode != 0:
            raise AssertionError("%s failed (%d):\n%s\n%s\nserver:\n%s" % (
                " ".join(cmd), r.returncode, r.stdout, r.stderr, self.double.stderr()[-2000:]))
        return r

    def popen(self, *args):
        cmd = [self.binary, "--kubeconfig", self.double.kubeconfig, "--cache-dir", self.cache] + list(args)
        return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=self.env)

    def file(self, name, content):
        path = os.path.join(self.workdir, name)
        with open(path, "w") as f:
            f.write(content)
        return path


@pytest.fixture(scope="module")
def double(tmp_path_factory):
    d = Double(tmp_path_factory.mktemp("kubectl-double") / "state", "--ready-delay", "0.2")
    yield d
    assert d.stop() == 0
    assert "Traceback" not in d.stderr(), d.stderr()


@pytest.fixture(scope="module")
def kubectl(double, tmp_path_factory):
    return Kubectl(KUBECTL, double, str(tmp_path_factory.mktemp("kubectl-work")))


def stop(proc, wait=5):
    proc.send_signal(signal.SIGTERM)
    try:
        out, err = proc.communicate(timeout=wait)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    return out, err


# The cases build on each other (as a person's session would): pytest runs them in file order.

def test_version_and_namespaces(kubectl):
    r = kubectl("version")
    assert re.search(r'^Server Version: (v1\.31\.0$|version\.Info\{.*GitVersion:"v1\.31\.0")', r.stdout, re.M), r.stdout
    r = kubectl("get", "namespaces")
    lines = r.stdout.splitlines()
    assert re.match(r"^NAME\s+STATUS\s+AGE$", lines[0])
    assert any(re.match(r"^default\s+Active\s+\d+s$", line) for line in lines), r.stdout


def test_create_with_default_validation(kubectl):
    path = kubectl.file("app.yaml", APP.format(ns=NS, replicas=1))
    r = kubectl("create", "-f", path)
    assert r.stdout.splitlines() == ["namespace/%s created" % NS, "configmap/web-config created",
                                     "deployment.apps/web created", "service/web created"]
    r = kubectl("create", "-f", path, check=False)
    assert r.returncode != 0
    assert 'Error from server (AlreadyExists): error when creating "%s": deployments.apps "web" already exists' \
        % path in r.stderr, r.stderr
    # kubectl's default --validate=strict reaches the server as fieldValidation=Strict.
    typo = kubectl.file("typo.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: typo\n  namespace: %s\n"
                                     "dta:\n  a: b\n" % NS)
    if CLIENT_MINOR >= 25:
        r = kubectl("create", "-f", typo, check=False)
        assert r.returncode != 0 and 'strict decoding error: unknown field "dta"' in r.stderr, r.stderr


def test_deployment_becomes_ready(kubectl):
    def ready():
        r = kubectl("get", "deployments", "-n", NS)
        return r.stdout if re.search(r"^web\s+1/1\s+1\s+1\s+\d+s$", r.stdout, re.M) else None
    out = wait_for(ready, timeout=15, interval=0.2, message="web 1/1")
    assert out.splitlines()[0].split() == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    pods = json.loads(kubectl("get", "pods", "-l", "app=web", "-n", NS, "-o", "json").stdout)
    assert pods["kind"] == "List" and len(pods["items"]) == 1
    assert pods["items"][0]["status"]["phase"] == "Running"
    r = kubectl("get", "svc", "web", "-n", NS)
    assert re.search(r"^web\s+ClusterIP\s+10\.96\.\d+\.\d+\s+<none>\s+80/TCP\s+\d+s$", r.stdout, re.M), r.stdout


def test_server_side_apply_conflicts_and_managed_fields(kubectl):
    two = kubectl.file("web-2.yaml", deployment_only(2))
    # kubectl-create owns spec.replicas (an Update manager): a different value conflicts, as on a real cluster.
    r = kubectl("apply", "--server-side", "-f", two, check=False)
    assert r.returncode != 0
    assert 'Apply failed with 1 conflict: conflict with "kubectl-create" using apps/v1: .spec.replicas' in r.stderr
    r = kubectl("apply", "--server-side", "--force-conflicts", "-f", two)
    assert r.stdout.strip() == "deployment.apps/web serverside-applied"
    wait_for(lambda: len(json.loads(kubectl("get", "pods", "-l", "app=web", "-n", NS, "-o", "json").stdout)[
        "items"]) == 2, timeout=10, interval=0.2, message="2 pods")
    # Re-applying the same manifest changes nothing.
    before = json.loads(kubectl("get", "deploy", "web", "-n", NS, "-o", "json").stdout)["metadata"]["generation"]
    kubectl("apply", "--server-side", "-f", two)
    after = json.loads(kubectl("get", "deploy", "web", "-n", NS, "-o", "json").stdout)["metadata"]["generation"]
    assert before == after
    three = kubectl.file("web-3.yaml", deployment_only(3))
    r = kubectl("apply", "--server-side", "--field-manager=other", "-f", three, check=False)
    assert r.returncode != 0
    assert 'Apply failed with 1 conflict: conflict with "kubectl": .spec.replicas' in r.stderr, r.stderr
    r = kubectl("apply", "--server-side", "--field-manager=other", "--force-conflicts", "-f", three)
    assert "serverside-applied" in r.stdout
    r = kubectl("get", "deploy", "web", "-n", NS, "-o", "yaml", *(["--show-managed-fields"] if CLIENT_MINOR >= 21 else []))
    assert "managedFields:" in r.stdout and "manager: other" in r.stdout and "operation: Apply" in r.stdout
    assert "manager: kubectl-create" in r.stdout and "replicas: 3" in r.stdout
    if CLIENT_MINOR >= 21:
        r = kubectl("get", "deploy", "web", "-n", NS, "-o", "yaml")
        assert "managedFields" not in r.stdout


def test_label_annotate_patch(kubectl):
    assert kubectl("label", "deployment", "web", "-n", NS, "tier=frontend").stdout.strip() == \
        "deployment.apps/web labeled"
    assert kubectl("annotate", "deployment", "web", "-n", NS, "note=hello").stdout.strip() == \
        "deployment.apps/web annotated"
    r = kubectl("patch", "deployment", "web", "-n", NS, "--type", "merge", "-p",
                '{"metadata":{"labels":{"patched":"yes"}}}')
    assert r.stdout.strip() == "deployment.apps/web patched"
    meta = json.loads(kubectl("get", "deploy", "web", "-n", NS, "-o", "json").stdout)["metadata"]
    assert meta["labels"] == {"app": "web", "tier": "frontend", "patched": "yes"}
    assert meta["annotations"]["note"] == "hello"
    r = kubectl("get", "deploy", "-n", NS, "-l", "tier=frontend", "--show-labels")
    assert re.search(r"^web\s.*app=web,patched=yes,tier=frontend$", r.stdout, re.M), r.stdout


def test_watch_sees_changes(kubectl):
    deploy_watch = kubectl.popen("get", "deployments", "-n", NS, "-w")
    cm_watch = kubectl.popen("get", "configmaps", "-n", NS, "-w", "--output-watch-events")
    try:
        time.sleep(1.0)
        kubectl("scale", "deployment", "web", "-n", NS, "--replicas=1")
        kubectl("create", "configmap", "watched", "-n", NS, "--from-literal=a=b")
        time.sleep(2.0)
    finally:
        out, err = stop(deploy_watch)
        cm_out, cm_err = stop(cm_watch)
    lines = out.splitlines()
    assert lines[0].split() == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"], out + err
    assert re.search(r"^web\s+3/3\s", out, re.M), out
    assert re.search(r"^web\s+1/1\s+1\s+1\s", out, re.M), out
    assert re.search(r"^ADDED\s+watched\s+1\s+\d+s$", cm_out, re.M), cm_out + cm_err


def test_logs(kubectl, double):
    r = kubectl("logs", "deploy/web", "-n", NS)
    lines = r.stdout.splitlines()
    assert lines[0] == "double: container web started (image nginx:1.25)", r.stdout
    assert all(re.match(r"^double: tick \d+$", x) for x in lines[1:]) and len(lines) > 1
    pod = json.loads(kubectl("get", "pods", "-l", "app=web", "-n", NS, "-o", "json").stdout)["items"][0]
    follow = kubectl.popen("logs", "-f", pod["metadata"]["name"], "-n", NS)
    time.sleep(1.5)
    out, err = stop(follow)
    ticks = [int(m) for m in re.findall(r"^double: tick (\d+)$", out, re.M)]
    assert len(ticks) >= 3 and ticks == sorted(ticks), out + err
    r = kubectl("logs", "missing-pod", "-n", NS, check=False)
    assert r.returncode != 0 and 'pods "missing-pod" not found' in r.stderr


def test_invalid_name(kubectl):
    r = kubectl("create", "configmap", "Bad_Name", "-n", NS, check=False)
    assert r.returncode != 0
    assert 'ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 ' \
           'subdomain must consist of' in r.stderr, r.stderr


def test_client_certificate_and_bad_token(kubectl, double):
    for name in ("kubeconfig-cert", "kubeconfig-files"):
        r = kubectl("get", "namespace", NS, kubeconfig=os.path.join(double.dir, name))
        assert re.search(r"^%s\s+Active\s" % NS, r.stdout, re.M), r.stdout
    with open(double.kubeconfig) as f:
        bad = f.read().replace("token: %s" % double.token, "token: not-the-token")
    path = kubectl.file("bad-kubeconfig", bad)
    r = kubectl("get", "namespaces", kubeconfig=path, check=False)
    assert r.returncode != 0
    assert "You must be logged in to the server" in r.stderr or "Unauthorized" in r.stderr, r.stderr


def test_custom_resources(kubectl):
    r = kubectl("apply", "--server-side", "-f", kubectl.file("crd.yaml", CRD))
    assert r.stdout.strip() == "customresourcedefinition.apiextensions.k8s.io/workflows.argoproj.io " \
                               "serverside-applied"
    r = kubectl("apply", "--server-side", "-f", kubectl.file("wf.yaml", WORKFLOW.format(ns=NS)))
    assert r.stdout.strip() == "workflow.argoproj.io/hello serverside-applied"
    r = kubectl("get", "workflows", "-n", NS)
    assert r.stdout.splitlines()[0].split() == ["NAME", "AGE"]
    assert re.search(r"^hello\s+\d+s$", r.stdout, re.M), r.stdout
    wf = json.loads(kubectl("get", "wf", "hello", "-n", NS, "-o", "json").stdout)
    assert wf["spec"]["templates"][0]["container"]["image"] == "alpine:3"
    assert kubectl("delete", "workflow", "hello", "-n", NS).stdout.strip() == 'workflow.argoproj.io "hello" deleted'


def test_delete_deployment_and_namespace(kubectl):
    r = kubectl("delete", "deployment", "web", "-n", NS)
    assert r.stdout.strip() == 'deployment.apps "web" deleted'
    wait_for(lambda: "No resources found" in kubectl("get", "pods,replicasets", "-n", NS).stderr, timeout=10,
             interval=0.2, message="pods and replicasets gone")
    r = kubectl("delete", "-f", os.path.join(kubectl.workdir, "app.yaml"), "--ignore-not-found")
    assert 'namespace "%s" deleted' % NS in r.stdout
    r = kubectl("get", "namespace", NS, check=False)
    assert r.returncode != 0 and 'namespaces "%s" not found' % NS in r.stderr, r.stdout + r.stderr


def compat_binaries():
    listed = os.environ.get("KNOT_KUBECTL_COMPAT")
    if listed:
        return [p for p in listed.split(":") if p]
    versioned = glob.glob(os.path.join(os.path.dirname(os.path.realpath(KUBECTL)), "kubectl.1.*"))
    versioned.sort(key=lambda p: int(p.rsplit(".", 1)[1]))
    return sorted(set(versioned[:1] + versioned[-1:]))


@pytest.mark.parametrize("binary", compat_binaries() or [pytest.param(None, marks=pytest.mark.skip(
    reason="no other kubectl versions found"))])
def test_other_kubectl_versions(binary, double, tmp_path):
    k = Kubectl(binary, double, str(tmp_path))
    client = k("version", "--client", check=False).stdout
    ns = "compat-" + uuid.uuid4().hex[:6]
    r = k("create", "-f", k.file("app.yaml", APP.format(ns=ns, replicas=1)))
    assert "deployment.apps/web created" in r.stdout, client
    wait_for(lambda: re.search(r"^web\s+1/1\s", k("get", "deploy", "-n", ns).stdout, re.M), timeout=15,
             interval=0.2, message="ready with %s" % client)
    r = k("apply", "--server-side", "--force-conflicts", "-f", k.file("two.yaml", deployment_only(2, ns)))
    assert "serverside-applied" in r.stdout
    r = k("logs", "deploy/web", "-n", ns)
    assert r.stdout.startswith("double: container web started (image nginx:1.25)\n")
    r = k("delete", "namespace", ns)
    assert 'namespace "%s" deleted' % ns in r.stdout
