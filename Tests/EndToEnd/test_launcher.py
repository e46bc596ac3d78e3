"""Services' lifecycle on the local runtime, end to end through the edge over
TLS: launch (names by default, suffixed when taken), live status, logs,
events, stop (route kept, marked stopped), start, delete, the event stream,
restarts with backoff of a crashing process, idle culling with the edge's
activity reports, and upgrades to a newer template version.

The fixture templates `lifecycle` (the echo upstream, version 1) and `crashy`
(serves, then dies twice) come from Tests/Fixtures/templates. The culling
and upgrade test restarts the launcher with KNOT_CULL_IDLE_SECONDS set and
the `lifecycle` template bumped to version 2, then restarts it as it was.
"""
import json
import os
import queue
import re
import subprocess
import threading
import time

import requests

from conftest import wait_until
from test_security import hs256

API = "/api/v1/launcher/services"


def services_url(knot, name=""):
    return f"{knot.url}{API}" + (f"/{name}" if name else "")


def record_of(knot, session, name):
    answer = session.get(services_url(knot, name))
    assert answer.status_code == 200, answer.text
    return answer.json()


def wait_status(knot, session, name, wanted=("ready",), timeout=30):
    """Polls the service until its status is one of `wanted`; returns the record."""
    deadline = time.time() + timeout
    record = None
    while time.time() < deadline:
        record = record_of(knot, session, name)
        if record["status"] in wanted:
            return record
        time.sleep(0.2)
    raise AssertionError(f"{name} did not become {wanted} within {timeout}s: {record}")


def launch(knot, session, template, values=None):
    body = {"template": template}
    if values is not None:
        body["values"] = values
    answer = session.post(services_url(knot), json=body)
    assert answer.status_code == 202, answer.text
    return answer.json()


def service_token(knot, caller="edge"):
    secret = open(knot.env["KNOT_INTERNAL_SECRET_FILE"]).read().strip()
    now = int(time.time())
    return hs256({"iss": caller, "aud": ["knot-services"], "exp": now + 60, "iat": now}, secret)


def launcher_internal(knot, method, path, caller="edge", **kwargs):
    return requests.request(method, f"http://127.0.0.1:{knot.service_port('launcher')}{path}",
                            headers={"Knot-Service-Token": service_token(knot, caller)}, timeout=10, **kwargs)


def routes(knot):
    answer = launcher_internal(knot, "GET", "/internal/v1/routes")
    assert answer.status_code == 200, answer.text
    return {route["host"]: route for route in answer.json()["routes"]}


def test_launch_open_logs_stop_start_delete(knot, make_user):
    _, session = make_user("lc")
    first = launch(knot, session, "lifecycle")
    # No NAME: the template's default, then the same with a short random suffix.
    assert first["name"] == "lifecycle" and first["status"] == "starting", first
    assert first["template"] == "lifecycle" and first["template_version"] == "1"
    assert first["values"]["GREETING"] == "hello"
    second = launch(knot, session, "lifecycle")
    assert re.fullmatch(r"lifecycle-[a-z0-9]{4}", second["name"]), second["name"]
    # A name the person chose is theirs: taken is a conflict, and "events" is reserved.
    taken = session.post(services_url(knot), json={"template": "lifecycle", "values": {"NAME": "lifecycle"}})
    assert taken.status_code == 409 and taken.json()["error"]["code"] == "service_exists"
    reserved = session.post(services_url(knot), json={"template": "lifecycle", "values": {"NAME": "events"}})
    assert reserved.status_code == 400

    record = wait_status(knot, session, "lifecycle")
    assert record["ready_replicas"] == 1 and record["desired_replicas"] == 1 and record["restarts"] == 0, record
    assert record["upgrade_available"] is False and record["latest_version"] == "1"
    assert record["reason"] == "" and record["cull_after"] is None and record["expires_at"] is None
    assert record["created_at"] and record["started_at"]
    # Live details: the process and what happened to it.
    assert record["details"]["parts"][0]["kind"] == "Process", record["details"]
    listed = {s["name"]: s for s in session.get(services_url(knot)).json()["services"]}
    assert set(listed) == {"lifecycle", second["name"]}
    assert "details" not in listed["lifecycle"], "the list reads the database only"

    # Opened through the edge.
    url = record["url"]
    wait_until(lambda: session.get(f"{url}hello", allow_redirects=False).status_code == 200, 10, "the edge serves it")

    # Logs: the tail, then followed while a request arrives.
    logs = session.get(f"{services_url(knot, 'lifecycle')}/logs?tail=20")
    assert logs.status_code == 200 and logs.headers["Content-Type"].startswith("text/plain")
    assert "GET /hello" in logs.text, logs.text
    assert len(logs.text.splitlines()) <= 20
    lines = queue.Queue()
    follow = session.get(f"{services_url(knot, 'lifecycle')}/logs?tail=0&follow=1", stream=True, timeout=30)
    assert follow.status_code == 200

    def read():
        try:
            for line in follow.iter_lines(decode_unicode=True):
                lines.put(line)
        except Exception:
            pass

    threading.Thread(target=read, daemon=True).start()
    time.sleep(0.5)
    assert session.get(f"{url}followed-line").status_code == 200
    deadline = time.time() + 10
    seen = []
    while not any("followed-line" in l for l in seen):
        assert time.time() < deadline, f"the followed log did not show the new request: {seen}"
        try:
            seen.append(lines.get(timeout=0.5))
        except queue.Empty:
            pass
    follow.close()

    events = session.get(f"{services_url(knot, 'lifecycle')}/events").json()["events"]
    assert {"Started", "Ready"} <= {e["reason"] for e in events}, events

    # Stop: listed as stopped, its route kept but marked stopped.
    stopped = session.post(f"{services_url(knot, 'lifecycle')}/stop")
    assert stopped.status_code == 200, stopped.text
    assert stopped.json()["status"] == "stopped" and stopped.json()["ready_replicas"] == 0
    assert routes(knot)[record["host"]]["stopped"] is True
    assert session.post(f"{services_url(knot, 'lifecycle')}/stop").json()["status"] == "stopped", "stopping twice is fine"
    listed = {s["name"]: s for s in session.get(services_url(knot)).json()["services"]}
    assert listed["lifecycle"]["status"] == "stopped"

    # Start: ready again, the route live again and served.
    started = session.post(f"{services_url(knot, 'lifecycle')}/start")
    assert started.status_code == 202, started.text
    record = wait_status(knot, session, "lifecycle")
    assert routes(knot)[record["host"]]["stopped"] is False
    wait_until(lambda: session.get(f"{url}again").status_code == 200, 10, "the edge serves it again")
    assert session.post(f"{services_url(knot, 'lifecycle')}/start").status_code == 200, "starting what runs changes nothing"

    # Nothing newer to upgrade to.
    none = session.post(f"{services_url(knot, 'lifecycle')}/upgrade")
    assert none.status_code == 409 and none.json()["error"]["code"] == "no_upgrade"

    # Delete: every trace and the route go.
    for name in ("lifecycle", second["name"]):
        assert session.delete(services_url(knot, name)).status_code == 200
    assert record["host"] not in routes(knot)
    assert session.get(services_url(knot, "lifecycle")).status_code == 404
    wait_until(lambda: session.get(url, allow_redirects=False).status_code == 404, 5, "the edge forgets the host")


class EventReader:
    """Reads a text/event-stream in a thread: (event, data) pairs in a queue."""

    def __init__(self, response):
        self.response = response
        self.events = queue.Queue()
        self.comments = 0
        threading.Thread(target=self.read, daemon=True).start()

    def read(self):
        name, data = "message", []
        try:
            for line in self.response.iter_lines(decode_unicode=True):
                if line == "":
                    if data:
                        self.events.put((name, json.loads("\n".join(data))))
                    name, data = "message", []
                elif line.startswith(":"):
                    self.comments += 1
                elif line.startswith("event:"):
                    name = line[6:].strip()
                elif line.startswith("data:"):
                    data.append(line[5:].lstrip())
        except Exception:
            pass

    def next(self, timeout=15):
        return self.events.get(timeout=timeout)

    def until(self, check, timeout=20, what="an event"):
        deadline = time.time() + timeout
        seen = []
        while time.time() < deadline:
            try:
                event = self.next(timeout=max(0.1, deadline - time.time()))
            except queue.Empty:
                break
            seen.append(event)
            if check(*event):
                return event
        raise AssertionError(f"no {what} within {timeout}s; saw {[(n, d.get('name'), d.get('status')) for n, d in seen]}")


def test_event_stream_sends_a_snapshot_then_each_change(knot, make_user):
    _, session = make_user("sse")
    launch(knot, session, "lifecycle", {"NAME": "before"})
    wait_status(knot, session, "before")
    stream = session.get(f"{services_url(knot)}/events", stream=True, timeout=60)
    assert stream.status_code == 200
    assert stream.headers["Content-Type"].startswith("text/event-stream")
    reader = EventReader(stream)
    name, snapshot = reader.next()
    assert name == "snapshot" and [s["name"] for s in snapshot["services"]] == ["before"], snapshot

    # Someone else's changes never show up in this stream.
    _, other = make_user("sso")
    launch(knot, other, "lifecycle", {"NAME": "theirs"})

    launch(knot, session, "lifecycle", {"NAME": "live"})
    reader.until(lambda n, d: n == "service" and d["name"] == "live" and d["status"] == "ready", what="live becoming ready")
    assert session.post(f"{services_url(knot, 'live')}/stop").status_code == 200
    reader.until(lambda n, d: n == "service" and d["name"] == "live" and d["status"] == "stopped", what="live stopping")
    assert session.delete(services_url(knot, "live")).status_code == 200
    reader.until(lambda n, d: n == "deleted" and d["name"] == "live", what="live deleted")
    while not reader.events.empty():
        _, data = reader.next()
        assert data.get("name") != "theirs" and data.get("owner") != "theirs"
    stream.close()
    other.delete(services_url(knot, "theirs"))


def test_a_crashing_process_is_restarted_with_backoff(knot, make_user):
    _, session = make_user("cr")
    launch(knot, session, "crashy")
    messages = set()
    deadline = time.time() + 40
    while True:
        record = record_of(knot, session, "crashy")
        messages.add((record["status"], record["reason"], record["message"]))
        if record["status"] == "ready" and record["restarts"] >= 2:
            break
        assert record["status"] != "failed", record
        assert time.time() < deadline, f"not restarted twice and ready: {record}; saw {messages}"
        time.sleep(0.1)
    restarting = [m for m in messages if m[1] == "restarting"]
    assert any(re.fullmatch(r"restarting after exit code 3 \(attempt [12]\)", m[2]) for m in restarting), messages
    assert all(status == "starting" for status, _, _ in restarting), messages
    reasons = [e["reason"] for e in session.get(f"{services_url(knot, 'crashy')}/events").json()["events"]]
    assert reasons.count("BackOff") == 2 and reasons.count("Exited") == 2, reasons
    # Backoff: a second apart, then two.
    wait_until(lambda: session.get(record["url"]).status_code == 200, 10, "the restarted service is served")
    time.sleep(2.5)
    assert record_of(knot, session, "crashy")["restarts"] == 2, "the third run stays up"
    assert session.delete(services_url(knot, "crashy")).status_code == 200


def restart_launcher(knot, env=None):
    pid = int(open(os.path.join(knot.run, "pids", "launcher.pid")).read())
    os.kill(pid, 15)
    deadline = time.time() + 20
    while os.path.exists(f"/proc/{pid}"):
        assert time.time() < deadline, "the launcher did not stop on SIGTERM"
        time.sleep(0.1)
    exports = "".join(f"export {key}='{value}'; " for key, value in (env or {}).items())
    subprocess.run(["bash", "-c", f". {os.environ['KNOT_E2E_SCRIPTS']}/lib/common.sh; {exports}"
                                  f"start_services '{knot.run}'; wait_ready '{knot.run}' 60"], check=True)


def bump_lifecycle_template(knot):
    path = os.path.join(knot.run, "templates", "lifecycle.template.yaml")
    text = open(path).read()
    assert 'version: "1"' in text
    text = text.replace('version: "1"', 'version: "2"').replace(
        "- name: GREETING", "- name: COLOR\n  default: blue\n  title: Color\n- name: GREETING")
    open(path, "w").write(text)


def test_idle_services_are_culled_and_upgrades_keep_values(knot, make_user):
    owner, session = make_user("cul")
    launch(knot, session, "lifecycle", {"NAME": "old", "GREETING": "bonjour"})
    assert wait_status(knot, session, "old")["template_version"] == "1"

    bump_lifecycle_template(knot)
    # An open event stream does not hold up the launcher's shutdown; it ends.
    stream = session.get(f"{services_url(knot)}/events", stream=True, timeout=60)
    reader = EventReader(stream)
    assert reader.next()[0] == "snapshot"
    restart_launcher(knot, {"KNOT_CULL_IDLE_SECONDS": "6", "KNOT_EVENTS_KEEPALIVE_SECONDS": "1"})
    stream.close()
    try:
        # A quiet stream gets a comment every second (KNOT_EVENTS_KEEPALIVE_SECONDS).
        stream = session.get(f"{services_url(knot)}/events", stream=True, timeout=60)
        reader = EventReader(stream)
        assert reader.next()[0] == "snapshot"
        time.sleep(2.6)
        assert reader.comments >= 3, reader.comments  # "connected", then two keep-alives
        stream.close()

        # Upgrade: offered, done keeping the values (the new variable takes its default), then not offered again.
        record = record_of(knot, session, "old")
        assert record["upgrade_available"] is True and record["latest_version"] == "2", record
        upgraded = session.post(f"{services_url(knot, 'old')}/upgrade")
        assert upgraded.status_code == 202, upgraded.text
        assert upgraded.json()["template_version"] == "2"
        record = wait_status(knot, session, "old")
        assert record["values"] == {"NAME": "old", "GREETING": "bonjour", "COLOR": "blue"}, record["values"]
        assert record["upgrade_available"] is False
        again = session.post(f"{services_url(knot, 'old')}/upgrade")
        assert again.status_code == 409 and again.json()["error"]["code"] == "no_upgrade"
        wait_until(lambda: session.get(f"{record['url']}up").status_code == 200, 10, "the upgraded service is served")

        # Culling: both fresh; the edge reports traffic for one of them only.
        launch(knot, session, "lifecycle", {"NAME": "busy"})
        launch(knot, session, "lifecycle", {"NAME": "quiet"})
        busy = wait_status(knot, session, "busy")
        quiet = wait_status(knot, session, "quiet")
        assert quiet["cull_after"] is not None and quiet["expires_at"] is None, quiet
        # Only the edge reports activity.
        refused = launcher_internal(knot, "POST", "/internal/v1/activity", caller="users",
                                    json={"hosts": {busy["host"]: time.time()}})
        assert refused.status_code == 403
        deadline = time.time() + 25
        while record_of(knot, session, "quiet")["status"] != "stopped":
            assert time.time() < deadline, "the idle service was not culled"
            answer = launcher_internal(knot, "POST", "/internal/v1/activity",
                                       json={"hosts": {busy["host"]: time.time(), "nobody.example": time.time()}})
            assert answer.status_code == 200 and answer.json()["updated"] == 1, answer.text
            time.sleep(1)
        quiet = record_of(knot, session, "quiet")
        assert quiet["reason"] == "idle" and quiet["message"] == "stopped after 6 seconds without use", quiet
        assert quiet["cull_after"] is None
        assert routes(knot)[quiet["host"]]["stopped"] is True
        busy = record_of(knot, session, "busy")
        assert busy["status"] == "ready" and busy["last_activity"] is not None, busy
        wait_until(lambda: "quiet was stopped after 6 seconds without use"
                   in json.dumps(session.get(f"{knot.url}/api/v1/users/messages").json()), 5, "the owner was told")
    finally:
        restart_launcher(knot)
    for name in ("old", "busy", "quiet"):
        session.delete(services_url(knot, name))
