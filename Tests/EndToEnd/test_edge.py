"""The edge's contract, end to end: real sockets, real TLS, a real recording
upstream behind it (Tests/EndToEnd/echo_upstream.py, launched per person from
the `echo` and `echo-public` fixture templates that scripts/test installs
through KNOT_TEMPLATE_DIRS).

What is tested here is what the edge promises, not how one version of it
happens to behave: host routing, sign-on and the way back to the exact URL,
who may open a service, which headers reach a service and which never do,
bodies and events streamed without being held whole, WebSockets, routes that
follow the launcher within a second, a human page when a service is down, and
a certificate replaced on disk without a restart. The refusals (smuggling,
spoofing, path and host tricks, oversized and slow heads, open redirects) are
in test_edge_negative.py.
"""
import hashlib
import http.client
import json
import os
import re
import ssl
import subprocess
import time
from urllib.parse import parse_qs, quote, urlsplit

import pytest

from conftest import unique, wait_until
from edge_support import (
    PASSWORD, RawConnection, decoded, internal_routes, launch, launch_echo, request_bytes, tls_connect, tls_context,
)


# --- the catalogue the tests rely on -------------------------------------------------
#
# Extra template folders and Karvdash's `auth: no`, from the launcher's side:
# a broken file never takes the catalogue down, and a public service is
# recorded as such on its service record and in the route table the edge reads.

def test_template_folders_add_the_echo_templates_and_skip_a_broken_file(knot, make_user):
    """KNOT_TEMPLATE_DIRS: the fixture folder's templates join the built-ins;
    its broken file is left out without stopping the launcher."""
    _, session = make_user("cat")
    listing = {t["id"]: t for t in session.get(f"{knot.url}/api/v1/launcher/templates").json()["templates"]}
    assert "file-server" in listing, "the built-ins are still there"
    assert listing["echo"]["available"] is True and listing["echo"]["source"] == "folder"
    assert listing["echo-public"]["available"] is True
    assert "broken" not in listing


def test_a_service_from_an_auth_no_template_is_recorded_public(knot, make_user):
    _, session = make_user("pubrec")
    public = launch(knot, session, "echo-public", "open")
    private = launch(knot, session, "echo", "closed")
    assert public["public"] is True and private["public"] is False
    listed = {s["name"]: s["public"] for s in session.get(f"{knot.url}/api/v1/launcher/services").json()["services"]}
    assert listed == {"open": True, "closed": False}
    # And the route table the edge reads says so.
    routes = internal_routes(knot)
    assert routes[public["host"]]["public"] is True and routes[private["host"]]["public"] is False


# --- hosts ---------------------------------------------------------------------------
#
# Names are compared the way DNS compares them, so no spelling of Knot's own
# names falls through to a different rule (the refusals are in test_edge_negative).

@pytest.mark.parametrize("spelling", ["{domain}", "{upper}", "{domain}.", "{domain}:1", "{upper}.:{port}"])
def test_the_domain_is_recognised_in_any_case_with_a_trailing_dot_or_a_port(knot, spelling):
    """Host is compared lowercase, a trailing dot removed, the port ignored."""
    host = spelling.format(domain=knot.domain, upper=knot.domain.upper(), port=knot.public_port)
    with RawConnection(knot) as connection:
        connection.send(request_bytes("GET", "/", host, [("Connection", "close")]))
        answer = connection.read_answer()
    assert answer.status == 200, (host, answer.status)
    assert b"<title>Knot</title>" in answer.body


def test_a_service_host_is_recognised_the_same_way(knot, echo):
    for host in (echo.host.upper(), echo.host + ".", f"{echo.host}:{knot.public_port}"):
        with RawConnection(knot, echo.host) as connection:
            connection.send(request_bytes("GET", "/headers", host, [("Cookie", f"knot_session={echo.cookie}"),
                                                                    ("Connection", "close")]))
            answer = connection.read_answer()
        assert answer.status == 200, (host, answer.status, answer.body[:200])
        assert b'"path": "/headers"' in answer.body


# --- sign-on ---------------------------------------------------------------------------
#
# A person without a session is sent to sign in and brought back to exactly
# where they were going (nothing lost, nothing added); scripts get a JSON 401.

def test_no_session_on_a_service_host_redirects_to_login_with_the_exact_url(knot, echo):
    """The way back after signing in is the exact URL asked for: path, query and all."""
    url = f"{echo.url}/headers/a%20b/c?x=1&y=two%2Fthree&z="
    answer = knot.client().get(url, allow_redirects=False)
    assert answer.status_code == 302
    location = answer.headers["Location"]
    login = f"{knot.url}/auth/login?next="
    assert location.startswith(login), location
    raw_next = location[len(login):]
    assert not re.search(r"[/?&#:]", raw_next), f"next is not percent-encoded: {raw_next}"
    assert parse_qs(urlsplit(location).query)["next"] == [url]
    assert raw_next == quote(url, safe=""), "percent-encoded as a URL component"


def test_signing_in_with_json_then_following_next_lands_on_the_exact_url(knot, echo):
    url = f"{echo.url}/headers?q=%C3%A9t%C3%A9&list=a,b"
    browser = knot.client()
    location = browser.get(url, allow_redirects=False).headers["Location"]
    next_url = parse_qs(urlsplit(location).query)["next"][0]
    signed_in = browser.post(f"{knot.url}/auth/login", json={"username": echo.owner, "password": PASSWORD, "next": next_url})
    assert signed_in.status_code == 200, signed_in.text
    assert signed_in.json()["next"] == url
    landed = browser.get(signed_in.json()["next"], allow_redirects=False)
    assert landed.status_code == 200
    assert landed.json()["path"] == "/headers?q=%C3%A9t%C3%A9&list=a,b"


def test_signing_in_with_the_form_redirects_to_the_exact_url(knot, echo):
    url = f"{echo.url}/headers?from=form"
    browser = knot.client()
    location = browser.get(url, allow_redirects=False).headers["Location"]
    page = browser.get(location)
    assert page.status_code == 200 and 'name="next"' in page.text
    signed_in = browser.post(
        f"{knot.url}/auth/login",
        data={"username": echo.owner, "password": PASSWORD, "next": parse_qs(urlsplit(location).query)["next"][0],
              "csrf": knot.csrf(browser)},
        allow_redirects=False)
    assert signed_in.status_code == 303
    assert signed_in.headers["Location"] == url
    assert browser.get(url).json()["path"] == "/headers?from=form"


def test_the_api_without_a_session_is_401_json(knot):
    for path in ("/api/v1/users/me", "/api/v1/launcher/services", "/api/v1/files/private/", "/api/v1/identity/tokens"):
        answer = knot.client().get(f"{knot.url}{path}", allow_redirects=False)
        assert answer.status_code == 401, path
        assert answer.headers["Content-Type"].startswith("application/json"), path
        error = answer.json()["error"]
        assert isinstance(error["code"], str) and error["code"] and isinstance(error["message"], str), path


# --- who may open a service -------------------------------------------------------------
#
# The owner check: a service is its owner's (or its team's), not every
# signed-in person's and not an administrator's unless they act as the owner.
# A refused request never reaches the service.

def test_the_owner_reaches_the_service(knot, echo):
    answer = echo.session.get(f"{echo.url}/headers")
    assert answer.status_code == 200 and answer.json()["method"] == "GET"


def test_another_signed_in_person_gets_a_403_page(knot, echo, make_user):
    _, other = make_user("oth")
    marker = unique("other")
    answer = other.get(f"{echo.url}/headers?{marker}")
    assert answer.status_code == 403
    assert answer.headers["Content-Type"].startswith("text/html")
    assert "<html" in answer.text.lower()
    assert not any(marker in seen for seen in echo.seen()), "the refused request reached the service"


def test_an_admin_is_refused_unless_impersonating_the_owner(knot, echo):
    admin = knot.login("admin", knot.admin_password)  # its own session: impersonation replaces it
    marker = unique("adm")
    refused = admin.get(f"{echo.url}/headers?{marker}")
    assert refused.status_code == 403 and refused.headers["Content-Type"].startswith("text/html")
    assert not any(marker in seen for seen in echo.seen())

    started = admin.post(f"{knot.url}/auth/impersonate", json={"username": echo.owner})
    assert started.status_code == 200, started.text
    try:
        opened = admin.get(f"{echo.url}/headers")
        assert opened.status_code == 200
        assert decoded(opened.json())["x-forwarded-user"] == [echo.owner]
    finally:
        assert admin.delete(f"{knot.url}/auth/impersonate").status_code == 200
    wait_until(lambda: admin.get(f"{echo.url}/headers").status_code == 403, 5, "the admin is refused again")


def test_members_of_the_owning_team_open_its_service(knot, make_user):
    _, owner = make_user("tmo")
    member_name, member = make_user("tmm")
    _, outsider = make_user("tmx")
    team = unique("tm")
    assert owner.post(f"{knot.url}/api/v1/users/teams", json={"name": team}).status_code == 201
    added = owner.post(f"{knot.url}/api/v1/users/teams/{team}/members", json={"username": member_name, "role": "viewer"})
    assert added.status_code == 200, added.text
    assert owner.post(f"{knot.url}/auth/profile", json={"team": team}).status_code == 200
    record = launch(knot, owner, "echo", "lab")
    url = record["url"].rstrip("/")
    assert record["owner"] == team

    # Acting as the team, and as oneself once the verdict (cached briefly) knows the team.
    wait_until(lambda: owner.get(f"{url}/headers").status_code == 200, 10, "the team profile opens the team's service")
    assert owner.delete(f"{knot.url}/auth/profile").status_code == 200
    wait_until(lambda: owner.get(f"{url}/headers").status_code == 200, 10, "the team's owner opens it as themselves")
    wait_until(lambda: member.get(f"{url}/headers").status_code == 200, 10, "a viewer opens it as themselves")
    assert outsider.get(f"{url}/headers").status_code == 403


def test_a_service_from_an_auth_no_template_opens_without_signing_in(knot, make_user):
    name, session = make_user("pub")
    service = launch_echo(knot, name, session, "site", template="echo-public")
    anonymous = knot.client().get(f"{service.url}/headers?anyone", allow_redirects=False)
    assert anonymous.status_code == 200, anonymous.text[:300]
    assert anonymous.json()["path"] == "/headers?anyone"
    _, other = make_user("pubo")
    assert other.get(f"{service.url}/headers", allow_redirects=False).status_code == 200
    # A private service of the same person still asks for sign-on.
    private = launch_echo(knot, name, session, "closed")
    assert knot.client().get(f"{private.url}/headers", allow_redirects=False).status_code == 302


# --- headers that reach a service ----------------------------------------------------------
#
# Services believe what the edge tells them about the caller; a client must
# not be able to tell them anything else, nor see its session cookie leak to
# the service (which could replay it against the API).

SPOOFED = {
    "X-Knot-User": "admin",
    "Knot-Assertion": "x",
    "X-Forwarded-User": "admin",
    "X-Forwarded-Email": "a@evil",
    "X-Forwarded-For": "6.6.6.6",
    "X-Forwarded-Host": "evil.com",
    "Forwarded": "for=6.6.6.6",
    "X-Real-IP": "6.6.6.6",
    "X-Auth-Request-User": "admin",
    "X-Auth-Request-Email": "x",
    "X-Request-Id": "mine",
    "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
}
TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$")


def test_a_service_gets_the_edges_identity_headers_and_none_of_the_clients(knot, echo):
    """The session cookie and every identity or forwarding header a client
    sends are replaced by what the edge knows; nothing spoofed gets through."""
    headers = dict(SPOOFED, Cookie=f"knot_session={echo.cookie}; other=1")
    answer = knot.client().get(f"{echo.url}/headers", headers=headers)
    assert answer.status_code == 200, answer.text[:300]
    got = decoded(answer.json())

    assert got["cookie"] == ["other=1"]
    assert got["x-forwarded-user"] == [echo.owner]
    assert got["x-forwarded-email"] == [f"{echo.owner}@example.org"]
    assert got["x-forwarded-for"] == ["127.0.0.1"]
    assert got["x-forwarded-proto"] == ["https"]
    assert got["x-forwarded-host"] == [echo.host]
    assert len(got["x-request-id"]) == 1 and got["x-request-id"][0] not in ("", "mine")
    assert len(got["traceparent"]) == 1
    trace = TRACEPARENT.match(got["traceparent"][0])
    assert trace, got["traceparent"]
    assert trace.group(1) != "0" * 32 and trace.group(2) != "0" * 16
    assert trace.group(1) != "0af7651916cd43dd8448eb211c80319c", "the client's trace was trusted"
    for name in ("forwarded", "x-real-ip", "x-auth-request-user", "x-auth-request-email"):
        assert name not in got, (name, got[name])
    for name, value in SPOOFED.items():
        assert value not in got.get(name.lower(), []), (name, got.get(name.lower()))


def test_authorization_passes_through_to_a_service_unchanged(knot, echo):
    for value in ("Bearer app-token-123", "Basic dXNlcjpwYXNz"):
        got = decoded(echo.received_headers({"Authorization": value}))
        assert got["authorization"] == [value]


def test_the_owner_keeps_their_own_cookies_without_the_session(knot, echo):
    got = decoded(echo.received_headers({"Cookie": f"a=1; knot_session={echo.cookie}; b=2"}, session=knot.client()))
    assert got["cookie"] == ["a=1; b=2"]
    only_session = decoded(echo.received_headers({}))
    assert "cookie" not in only_session or "knot_session" not in only_session["cookie"][0]


# --- streaming ------------------------------------------------------------------------
#
# A proxy that buffers whole bodies runs out of memory on a big upload and
# holds back event streams; the edge does neither.

MIB = 1 << 20


def high_water_mark_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise AssertionError("no VmHWM")


def edge_pid(knot):
    with open(os.path.join(knot.run, "pids", "edge.pid")) as f:
        return int(f.read().strip())


def test_a_2_gib_upload_streams_through_whole_in_bounded_memory(knot, echo):
    """Bodies flow through the edge; it never holds one whole."""
    piece = os.urandom(MIB)
    count = 2048
    expected = hashlib.sha256()
    for _ in range(count):
        expected.update(piece)
    pid = edge_pid(knot)
    before = high_water_mark_kib(pid)

    def body():
        for _ in range(count):
            yield piece

    answer = echo.session.post(f"{echo.url}/sink", data=body(), timeout=(10, 600))
    assert answer.status_code == 200, answer.text[:300]
    assert answer.json() == {"bytes": count * MIB, "sha256": expected.hexdigest()}
    growth_mib = (high_water_mark_kib(pid) - before) / 1024
    assert growth_mib < 64, f"the edge's peak memory grew by {growth_mib:.0f} MiB for a streamed upload"


def curl_http2(knot, url, *args, cookie=None):
    """curl speaking HTTP/2 (negotiated by ALPN, as browsers do): (version, status, body)."""
    host = urlsplit(url).hostname
    command = ["curl", "--http2", "-sS", "--cacert", knot.ca, "--resolve", f"{host}:{knot.public_port}:127.0.0.1",
               "-o", "-", "-w", "\n%{http_version} %{http_code}", *args, url]
    if cookie:
        command[1:1] = ["-H", f"Cookie: knot_session={cookie}"]
    done = subprocess.run(command, capture_output=True, timeout=60, check=True)
    body, _, trailer = done.stdout.rpartition(b"\n")
    version, status = trailer.decode().split()
    return version, int(status), body


def test_http2_clients_get_the_same_routing_sign_on_and_streaming(knot, echo, tmp_path):
    """Browsers speak HTTP/2 when ALPN offers it: the dashboard, the APIs and a
    service behave as over HTTP/1.1, uploads included."""
    version, status, body = curl_http2(knot, f"{knot.url}/")
    assert (version, status) == ("2", 200) and b"<html" in body.lower()
    version, status, body = curl_http2(knot, f"{knot.url}/api/v1/launcher/services")
    assert (version, status) == ("2", 401)
    version, status, body = curl_http2(knot, f"{knot.url}/api/v1/launcher/services", cookie=echo.cookie)
    assert (version, status) == ("2", 200) and b"services" in body
    version, status, body = curl_http2(knot, f"{echo.url}/headers", "-H", "X-Forwarded-User: admin", cookie=echo.cookie)
    assert (version, status) == ("2", 200)
    assert decoded(json.loads(body))["x-forwarded-user"] == [echo.owner]
    upload = tmp_path / "upload.bin"
    upload.write_bytes(os.urandom(8 * MIB + 123))
    version, status, body = curl_http2(knot, f"{echo.url}/sink", "--data-binary", f"@{upload}", cookie=echo.cookie)
    assert (version, status) == ("2", 200)
    assert json.loads(body) == {"bytes": 8 * MIB + 123, "sha256": hashlib.sha256(upload.read_bytes()).hexdigest()}


def test_an_answer_before_the_whole_body_still_lets_the_client_finish(knot, echo):
    """An upstream may answer before it reads an upload (a quota refusing it by
    its head). The edge reads and drops the rest of the body, so a client that
    sends the whole body before reading gets the answer, and its kept-alive
    connection takes the next request."""
    body = b"x" * (32 * MIB)  # more than the sockets between the client and the upstream hold
    cookie = [("Cookie", f"knot_session={echo.cookie}")]
    with RawConnection(knot, echo.host, timeout=30) as connection:
        head = request_bytes("PUT", "/refuse", echo.host, cookie + [("Content-Length", str(len(body)))])
        assert connection.send(head + body), "the edge stopped reading an upload it had answered"
        refused = connection.read_answer(timeout=30)
        assert refused.status == 413, refused.body
        assert connection.send(request_bytes("GET", "/headers?after=refused", echo.host, cookie))
        after = connection.read_answer(timeout=10)
    assert after.status == 200 and json.loads(after.body)["path"] == "/headers?after=refused"


def test_pipelined_requests_are_answered_in_order(knot, echo):
    """HTTP/1.1 clients may send requests before the answers come back: the
    edge answers each, in order, on the same connection (a body between them included)."""
    with RawConnection(knot, echo.host) as connection:
        cookie = [("Cookie", f"knot_session={echo.cookie}")]
        burst = (request_bytes("GET", "/headers?n=1", echo.host, cookie)
                 + request_bytes("POST", "/sink", echo.host, cookie + [("Content-Length", "5")]) + b"hello"
                 + request_bytes("GET", "/headers?n=3", echo.host, cookie))
        assert connection.send(burst)
        first, second, third = (connection.read_answer() for _ in range(3))
    assert [first.status, second.status, third.status] == [200, 200, 200]
    assert json.loads(first.body)["path"] == "/headers?n=1"
    assert json.loads(second.body)["bytes"] == 5
    assert json.loads(third.body)["path"] == "/headers?n=3"


def test_server_sent_events_arrive_as_they_are_sent(knot, echo):
    connection = http.client.HTTPSConnection(echo.host, knot.public_port, context=tls_context(knot.ca), timeout=10)
    try:
        connection.request("GET", "/sse", headers={"Cookie": f"knot_session={echo.cookie}", "Accept": "text/event-stream"})
        response = connection.getresponse()
        assert response.status == 200
        assert response.getheader("Content-Type").startswith("text/event-stream")
        arrivals, text = [], ""
        while len(arrivals) < 5:
            data = response.read1(65536)
            if not data:
                break
            text += data.decode()
            while "\n\n" in text:
                event, text = text.split("\n\n", 1)
                arrivals.append((time.monotonic(), event))
        assert [e for _, e in arrivals] == [f"id: {n}\ndata: event {n}" for n in range(5)]
        assert arrivals[-1][0] - arrivals[0][0] >= 0.5, "the events were held back and delivered together"
    finally:
        connection.close()


# --- WebSockets ------------------------------------------------------------------------
#
# Notebooks need WebSockets through the edge, and the upgrade is checked like
# any other request: no session or someone else's, no 101.

def ws_connect(knot, host, cookie=None):
    import inspect
    from websockets.sync.client import connect
    headers = {"Cookie": f"knot_session={cookie}"} if cookie else {}
    options = dict(ssl=tls_context(knot.ca), additional_headers=headers, max_size=None, open_timeout=10, close_timeout=5)
    if "proxy" in inspect.signature(connect).parameters:
        options["proxy"] = None  # straight to the edge, whatever the environment says
    return connect(f"wss://{host}:{knot.public_port}/ws", **options)


def test_a_websocket_echoes_through_the_edge(knot, echo):
    with ws_connect(knot, echo.host, echo.cookie) as ws:
        ws.send("hello, knot")
        assert ws.recv(timeout=10) == "hello, knot"
        message = os.urandom(MIB)
        ws.send(message)
        assert ws.recv(timeout=30) == message
        ws.ping().wait(5)


def upgrade_status(knot, host, cookie=None):
    """The status of a WebSocket upgrade request sent by hand (no client
    library following redirects), and whether anything reached the service."""
    headers = [("Upgrade", "websocket"), ("Connection", "Upgrade"), ("Sec-WebSocket-Version", "13"),
               ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")]
    if cookie:
        headers.append(("Cookie", f"knot_session={cookie}"))
    with RawConnection(knot, host) as connection:
        connection.send(request_bytes("GET", "/ws", host, headers))
        return connection.read_answer().status


def test_a_websocket_upgrade_needs_the_owners_session(knot, echo, make_user):
    before = sum(1 for seen in echo.seen() if seen == "GET /ws")
    assert upgrade_status(knot, echo.host) in (302, 401, 403)
    _, other = make_user("wso")
    assert upgrade_status(knot, echo.host, other.cookies.get("knot_session")) == 403
    assert sum(1 for seen in echo.seen() if seen == "GET /ws") == before, "a refused upgrade reached the service"
    assert upgrade_status(knot, echo.host, echo.cookie) == 101, "the owner's upgrade goes through"


# --- routes follow the launcher ---------------------------------------------------------
#
# A deleted service must stop being reachable at once, not at the next resync.

def test_routes_appear_and_disappear_within_a_second_through_notify(knot, make_user):
    """The edge's full resync is every 30 s; this speed only comes from LISTEN/NOTIFY."""
    _, session = make_user("rte")
    answer = session.post(f"{knot.url}/api/v1/launcher/services", json={"template": "echo", "values": {"NAME": "quick"}})
    assert answer.status_code == 202
    url = answer.json()["url"].rstrip("/")
    deadline = time.monotonic() + 30
    while session.get(f"{knot.url}/api/v1/launcher/services/quick").json()["status"] != "ready":
        assert time.monotonic() < deadline, "the service did not start"
        time.sleep(0.05)
    running_at = time.monotonic()
    while session.get(f"{url}/", allow_redirects=False).status_code == 404:
        assert time.monotonic() - running_at < 1.5, "the new route was not served within a second of running"
        time.sleep(0.05)

    assert session.delete(f"{knot.url}/api/v1/launcher/services/quick").status_code == 200
    deleted_at = time.monotonic()
    while session.get(f"{url}/", allow_redirects=False).status_code != 404:
        assert time.monotonic() - deleted_at < 2, "the deleted route was still served after 2 s"
        time.sleep(0.05)


# --- a service that is down ----------------------------------------------------------------
#
# A person whose service is not answering gets a page saying so and when to
# try again, not a bare error or a hanging request.

def test_a_service_that_stopped_listening_gets_a_human_page_with_retry_after(knot, make_user):
    name, session = make_user("down")
    service = launch_echo(knot, name, session, "gone")
    assert session.post(f"{service.url}/stop-listening").status_code == 200
    wait_until(lambda: session.get(f"{service.url}/", headers={"Accept": "text/html"}).status_code in (502, 503), 5,
               "the edge notices that the service is not answering")
    answer = session.get(f"{service.url}/", headers={"Accept": "text/html,application/xhtml+xml"})
    assert answer.status_code in (502, 503)
    assert answer.headers["Content-Type"].startswith("text/html")
    assert "<html" in answer.text.lower()
    assert re.search(r"try again|retry|reload|refresh", answer.text, re.IGNORECASE), answer.text[:500]
    retry_after = answer.headers.get("Retry-After")
    assert retry_after is not None and retry_after.strip().isdigit(), answer.headers
    # The launcher still says running (the process lives): the edge alone tells the person.
    assert session.get(f"{knot.url}/api/v1/launcher/services/gone").json()["status"] == "ready"


# --- certificate reload (last in this file: it swaps the certificate on disk) --------------
#
# Certificates are renewed on disk (cert-manager, certbot); the edge must pick
# them up without a restart that would cut every open connection.

def _pem_private_keys(folder):
    from cryptography.hazmat.primitives.serialization import load_pem_private_key
    for entry in sorted(os.listdir(folder)):
        path = os.path.join(folder, entry)
        try:
            with open(path, "rb") as f:
                data = f.read(65536)
            if b"PRIVATE KEY-----" in data:
                yield load_pem_private_key(data, password=None)
        except (OSError, ValueError, TypeError):
            continue


def _certificate_issuer(knot, workdir):
    """The local CA and its key when the edge keeps the key beside ca.pem;
    otherwise a throwaway CA (the reload is what is tested, not the issuer).
    Returns (ca certificate, ca key, the CA files a client must trust)."""
    import datetime
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    with open(knot.ca, "rb") as f:
        ca = x509.load_pem_x509_certificate(f.read())
    wanted = ca.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    for key in _pem_private_keys(os.path.dirname(knot.ca)):
        if key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo) == wanted:
            return ca, key, [knot.ca]
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Knot test CA (certificate reload)")])
    now = datetime.datetime.now(datetime.timezone.utc)
    ca = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1))
          .not_valid_after(now + datetime.timedelta(days=30))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                       data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                                       encipher_only=False, decipher_only=False), critical=True)
          .sign(key, hashes.SHA256()))
    path = os.path.join(workdir, "reload-ca.pem")
    with open(path, "wb") as f:
        f.write(ca.public_bytes(serialization.Encoding.PEM))
    return ca, key, [knot.ca, path]


def _leaf(domain, ca, ca_key):
    import datetime
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, domain)]))
        .issuer_name(ca.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(domain), x509.DNSName("*." + domain)]), critical=False)
        .sign(ca_key, hashes.SHA256()))
    chain = certificate.public_bytes(serialization.Encoding.PEM) + ca.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return certificate.public_bytes(serialization.Encoding.DER), chain, key_pem


def _replace(path, data):
    """Atomically, as a deployment tool would: a temporary file, then rename."""
    temporary = f"{path}.knot-test-{os.getpid()}"
    with open(temporary, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.chmod(temporary, os.stat(path).st_mode & 0o777)
    os.replace(temporary, path)


def _serves(knot, context, der):
    """True when a new connection is handed the certificate `der`."""
    try:
        with tls_connect(knot, knot.domain, timeout=5, context=context) as sock:
            return sock.getpeercert(binary_form=True) == der
    except (ssl.SSLError, OSError):
        return False  # caught between the key and the certificate, or not trusted (yet)


def test_zz_a_replaced_certificate_is_served_to_new_connections_and_open_ones_keep_going(knot, tmp_path):
    """The edge polls its certificate and key (every 2 s) and swaps the TLS
    context for new connections; connections already open carry on."""
    certificate_path = knot.env.get("KNOT_TLS_CERT") or os.path.join(os.path.dirname(knot.ca), "server.pem")
    key_path = knot.env.get("KNOT_TLS_KEY") or os.path.join(os.path.dirname(knot.ca), "server-key.pem")
    with open(certificate_path, "rb") as f:
        original_certificate = f.read()
    with open(key_path, "rb") as f:
        original_key = f.read()
    ca, ca_key, trusted = _certificate_issuer(knot, str(tmp_path))
    context = tls_context(*trusted)
    new_der, new_chain, new_key = _leaf(knot.domain, ca, ca_key)

    kept = http.client.HTTPSConnection(knot.domain, knot.public_port, context=context, timeout=10)
    try:
        kept.request("GET", "/")
        first = kept.getresponse()
        assert first.status == 200
        first.read()
        original_der = kept.sock.getpeercert(binary_form=True)
        kept_socket = kept.sock

        _replace(key_path, new_key)
        _replace(certificate_path, new_chain)
        try:
            wait_until(lambda: _serves(knot, context, new_der), 5, "new connections get the new certificate")

            kept.request("GET", "/")
            second = kept.getresponse()
            assert second.status == 200, "the connection opened before the swap no longer serves"
            second.read()
            assert kept.sock is kept_socket and kept.sock.getpeercert(binary_form=True) == original_der
        finally:
            _replace(key_path, original_key)
            _replace(certificate_path, original_certificate)
            wait_until(lambda: _serves(knot, tls_context(knot.ca), original_der), 10, "the original certificate is served again")
    finally:
        kept.close()
