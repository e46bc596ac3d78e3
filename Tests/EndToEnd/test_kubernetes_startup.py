"""The launcher and users service on the Kubernetes runtime, as real processes:
a kubeconfig that cannot work stops them at start-up with one clear line; an
API server that cannot be reached or refuses the token shows in /readyz; the
API double with good credentials makes them ready. Nothing here crashes."""
import os
import socket
import subprocess
import sys
import time

import pytest
import requests

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "KubeAPIDouble"))
from kubedouble.testing import Double  # noqa: E402


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(knot, service, tmp_path, **extra):
    port = free_port()
    env = dict(os.environ, **knot.env)
    env.update({"KNOT_PORT": str(port), "KNOT_RUNTIME": "kubernetes", "KNOT_DATA_DIR": str(tmp_path / "data")})
    env.update(extra)
    log = open(tmp_path / f"{service}.log", "w+")
    process = subprocess.Popen([f"{knot.env['KNOT_BIN']}/knot-{service}"], env=env, stdout=log, stderr=subprocess.PIPE,
                               stdin=subprocess.DEVNULL, text=True)
    return process, port


def refused_at_start(knot, service, tmp_path, **extra):
    process, _ = start(knot, service, tmp_path, **extra)
    try:
        _, stderr = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        pytest.fail(f"knot-{service} kept running with a configuration that cannot work")
    assert process.returncode == 2, (process.returncode, stderr)
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr  # one sentence, not a stack trace
    return lines[0]


def readiness(port, want, timeout=30):
    session = requests.Session()
    session.trust_env = False
    deadline = time.time() + timeout
    body = None
    while time.time() < deadline:
        try:
            answer = session.get(f"http://127.0.0.1:{port}/readyz", timeout=5)
            body = answer.json()
            if want(answer.status_code, body):
                return answer.status_code, body
        except requests.ConnectionError:
            pass
        time.sleep(0.3)
    pytest.fail(f"readiness never became what was expected: {body}")


def stop(process):
    process.terminate()
    process.wait(15)


def test_bad_kubeconfigs_stop_the_launcher_with_one_sentence(knot, tmp_path):
    line = refused_at_start(knot, "launcher", tmp_path, KNOT_KUBECONFIG=str(tmp_path / "missing"))
    assert "kubeconfig" in line and "missing: no such file" in line, line

    malformed = tmp_path / "malformed"
    malformed.write_text("clusters: [unclosed\n")
    line = refused_at_start(knot, "launcher", tmp_path, KNOT_KUBECONFIG=str(malformed))
    assert "not valid YAML" in line, line

    # A folder where the file should be cannot be read, even by root.
    unreadable = tmp_path / "a-folder"
    unreadable.mkdir()
    line = refused_at_start(knot, "users", tmp_path, KNOT_KUBECONFIG=str(unreadable))
    assert "cannot be read" in line, line

    line = refused_at_start(knot, "launcher", tmp_path, KNOT_RUNTIME="mesos")
    assert "KNOT_RUNTIME must be local or kubernetes" in line, line


def test_unreachable_or_refusing_api_servers_show_in_users_readiness(knot, tmp_path):
    double = Double(tmp_path / "double", "--quiet")
    try:
        # The double's kubeconfig, but pointing at a port where nothing listens.
        unreachable = tmp_path / "unreachable"
        text = open(double.kubeconfig).read().replace(f"127.0.0.1:{double.port}", f"127.0.0.1:{free_port()}")
        unreachable.write_text(text)
        # The users service: a second launcher on the shared database would resume other tests' services.
        process, port = start(knot, "users", tmp_path, KNOT_KUBECONFIG=str(unreachable))
        try:
            status, body = readiness(port, lambda code, body: code == 503 and body.get("runtime", "ok") != "ok")
            assert "cannot reach the Kubernetes API" in body["runtime"], body
            assert process.poll() is None, "an unreachable server is not a crash"
        finally:
            stop(process)

        expired = tmp_path / "expired"
        expired.write_text(open(double.kubeconfig).read().replace("knot-test-token", "expired-token"))
        with open(os.path.join(double.dir, "expired-tokens"), "w") as handle:
            handle.write("expired-token\n")
        process, port = start(knot, "users", tmp_path, KNOT_KUBECONFIG=str(expired))
        try:
            status, body = readiness(port, lambda code, body: code == 503 and body.get("runtime", "ok") != "ok")
            assert "rejected Knot's credentials" in body["runtime"], body
        finally:
            stop(process)

        process, port = start(knot, "users", tmp_path, KNOT_KUBECONFIG=double.kubeconfig)
        try:
            status, body = readiness(port, lambda code, body: code == 200)
            assert body["runtime"] == "ok", body
        finally:
            stop(process)
    finally:
        double.stop()
