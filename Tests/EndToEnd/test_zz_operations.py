"""Operational endpoints, and behaviour while PostgreSQL is away. Runs last
(file order) because it stops and restarts the database."""
import os
import subprocess
import time

import requests

from conftest import wait_until

SERVICES = ["identity", "users", "launcher", "files", "edge"]


def test_health_readiness_metrics_on_every_service(knot):
    for name in SERVICES:
        base = f"http://127.0.0.1:{knot.service_port(name)}"
        assert requests.get(f"{base}/healthz").json() == {"status": "alive"}
        ready = requests.get(f"{base}/readyz")
        assert ready.status_code == 200 and ready.json()["status"] == "ready", (name, ready.text)
        metrics = requests.get(f"{base}/metrics")
        assert metrics.status_code == 200 and "# TYPE" in metrics.text, (name, metrics.text[:300])


def test_edge_counts_requests_by_route_class(knot, admin):
    admin.get(f"{knot.url}/api/v1/users/me")
    text = requests.get(f"http://127.0.0.1:{knot.service_port('edge')}/metrics").text
    lines = [l for l in text.splitlines() if l.startswith("knot_edge_requests_total")]
    assert any('class="api"' in l and 'status="2xx"' in l for l in lines), lines
    assert any('class="auth"' in l for l in lines), lines


def test_logs_are_json_with_request_ids(knot, admin):
    answer = admin.get(f"{knot.url}/api/v1/users/me")
    request_id = answer.headers["X-Request-Id"]
    import json

    def logged(name):
        lines = open(os.path.join(knot.run, "logs", f"{name}.log")).read().splitlines()
        records = [json.loads(line) for line in lines if line.startswith("{")]
        return any(r.get("request_id") == request_id for r in records)

    # The edge's access log is written in batches, twice a second.
    for name in ("edge", "users"):
        wait_until(lambda: logged(name), 5, f"{name} logged request {request_id}")


def pg_ctl(action):
    data = os.environ["KNOT_E2E_PG_DATA"]
    port = os.environ["KNOT_E2E_PG_PORT"]
    script = (f". {os.environ['KNOT_E2E_SCRIPTS']}/lib/common.sh; "
              + (f"pg_stop '{data}'" if action == "stop" else f"pg_start '{data}' {port} '{os.environ['KNOT_E2E_PG_PASSWORD']}'"))
    subprocess.run(["bash", "-c", script], check=True)


def test_readiness_follows_the_database_and_routes_resync(knot, make_user):
    _, session = make_user("pg")
    pg_ctl("stop")
    try:
        for name in SERVICES:
            base = f"http://127.0.0.1:{knot.service_port(name)}"
            assert requests.get(f"{base}/healthz").status_code == 200
            ready = requests.get(f"{base}/readyz", timeout=10)
            assert ready.status_code == 503, name
            assert ready.json()["database"] == "unreachable"
    finally:
        pg_ctl("start")
    deadline = time.time() + 30
    for name in SERVICES:
        while requests.get(f"http://127.0.0.1:{knot.service_port(name)}/readyz").status_code != 200:
            assert time.time() < deadline, f"{name} did not become ready again"
            time.sleep(0.3)
    # After the reconnect the edge hears of new routes again.
    assert session.post(f"{knot.url}/api/v1/launcher/services",
                        json={"template": "file-server", "values": {"NAME": "after"}}).status_code == 202
    record = knot.wait_for_service(session, "after")
    assert record["status"] == "ready"
    deadline = time.time() + 5
    while session.get(record["url"]).status_code != 200:
        assert time.time() < deadline, "route not served after the database came back"
        time.sleep(0.1)


def test_launcher_restart_stops_children_and_resumes_services(knot, make_user):
    _, session = make_user("rs")
    assert session.post(f"{knot.url}/api/v1/launcher/services",
                        json={"template": "file-server", "values": {"NAME": "keep"}}).status_code == 202
    record = knot.wait_for_service(session, "keep")
    assert record["status"] == "ready"
    assert session.get(record["url"]).status_code == 200

    # Where the edge sends this host now: the child's loopback port.
    secret = open(knot.env["KNOT_INTERNAL_SECRET_FILE"]).read().strip()
    from test_security import hs256
    now = int(time.time())
    token = hs256({"iss": "edge", "aud": ["knot-services"], "exp": now + 60, "iat": now}, secret)
    routes = requests.get(f"http://127.0.0.1:{knot.service_port('launcher')}/internal/v1/routes",
                          headers={"Knot-Service-Token": token}).json()["routes"]
    upstream = next(r["upstream"] for r in routes if r["host"] == record["host"])

    pid_file = os.path.join(knot.run, "pids", "launcher.pid")
    pid = int(open(pid_file).read())
    os.kill(pid, 15)
    deadline = time.time() + 15
    while os.path.exists(f"/proc/{pid}"):
        assert time.time() < deadline, "the launcher did not stop on SIGTERM"
        time.sleep(0.1)
    # Graceful shutdown took its child process with it.
    try:
        requests.get(upstream, timeout=2)
        raise AssertionError("the service's process outlived the launcher")
    except requests.ConnectionError:
        pass

    subprocess.run(["bash", "-c", f". {os.environ['KNOT_E2E_SCRIPTS']}/lib/common.sh; start_services '{knot.run}'; wait_ready '{knot.run}' 60"],
                   check=True)
    record = knot.wait_for_service(session, "keep")
    assert record["status"] == "ready", record
    deadline = time.time() + 5
    while session.get(record["url"]).status_code != 200:
        assert time.time() < deadline, "the resumed service was not served again"
        time.sleep(0.1)


def test_create_admin_is_idempotent_and_keeps_the_password(knot):
    env = dict(os.environ, **knot.env)
    again = subprocess.run([f"{knot.env['KNOT_BIN']}/knot-identity", "create-admin", "--username", "admin"],
                           capture_output=True, text=True, env=env, timeout=60)
    assert again.returncode == 3, again.stderr
    assert again.stdout == ""
    assert "already exists" in again.stderr
    knot.login("admin", knot.admin_password)  # the first password still works
    wrong = subprocess.run([f"{knot.env['KNOT_BIN']}/knot-identity", "create-admin", "--bogus"],
                           capture_output=True, text=True, env=env, timeout=60)
    assert wrong.returncode == 2 and "usage" in wrong.stderr
