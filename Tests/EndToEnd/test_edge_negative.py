"""What the edge refuses, case by case, over raw TLS with the bytes exactly as
written (no client library tidies them up first).

Each case states the precise answer it expects (or that the connection is
closed) and, where something could slip past, checks that nothing did: the
echo upstream (Tests/EndToEnd/echo_upstream.py) records every request that
reaches it, and each request here carries a unique marker, so "never reached
the service" is read back rather than assumed. Most groups also carry a
control: the same request done right, so that a case cannot pass by the edge
refusing everything.
"""
import html
import itertools
import json
import re
import socket
import time

import pytest

from conftest import unique
from edge_support import RawConnection, decoded, exchange, launch_echo, new_person, request_bytes


def authority(knot, host):
    """A Host header as a browser sends it: the name and the public port."""
    return f"{host}:{knot.public_port}"


def reached(echo, marker):
    return [seen for seen in echo.seen() if marker in seen]


# --- request smuggling ---------------------------------------------------------------------
#
# Two parsers that disagree about where a request ends let a second request
# ride inside the first one's body, past the edge's checks. Every ambiguous or
# malformed framing is refused with 400 and the connection closed; neither the
# carrier nor the smuggled request ever reaches the service.

def smuggled_request(host, cookie, marker):
    return (f"GET /headers?smuggled-{marker} HTTP/1.1\r\nHost: {host}\r\n"
            f"Cookie: knot_session={cookie}\r\n\r\n").encode()


def chunked_terminator_then(smuggled):
    return b"0\r\n\r\n" + smuggled


# Each case: (framing headers, body), given the smuggled request's bytes.
SMUGGLING = {
    "content-length-and-chunked": lambda s: (
        [("Content-Length", str(len(chunked_terminator_then(s)))), ("Transfer-Encoding", "chunked")],
        chunked_terminator_then(s)),
    "chunked-and-content-length": lambda s: (
        [("Transfer-Encoding", "chunked"), ("Content-Length", "3")], chunked_terminator_then(s)),
    "two-different-content-lengths": lambda s: (
        [("Content-Length", str(len(s))), ("Content-Length", "0")], s),
    "content-length-list-of-different-values": lambda s: (
        [("Content-Length", f"0, {len(s)}")], s),
    "content-length-not-a-number": lambda s: ([("Content-Length", f"{len(s)}x")], s),
    "content-length-negative": lambda s: ([("Content-Length", "-1")], s),
    "content-length-with-plus-sign": lambda s: ([("Content-Length", f"+{len(s)}")], s),
    "content-length-space-before-colon": lambda s: ([("Content-Length ", str(len(s)))], s),
    "transfer-encoding-xchunked": lambda s: ([("Transfer-Encoding", "xchunked")], chunked_terminator_then(s)),
    "transfer-encoding-xchunked-with-content-length": lambda s: (
        [("Content-Length", str(len(chunked_terminator_then(s)))), ("Transfer-Encoding", "xchunked")],
        chunked_terminator_then(s)),
    "transfer-encoding-chunked-then-identity": lambda s: (
        [("Transfer-Encoding", "chunked, identity")], chunked_terminator_then(s)),
    "transfer-encoding-chunked-twice": lambda s: (
        [("Transfer-Encoding", "chunked, chunked")], chunked_terminator_then(s)),
    "transfer-encoding-in-two-fields": lambda s: (
        [("Transfer-Encoding", "chunked"), ("Transfer-Encoding", "identity")], chunked_terminator_then(s)),
    "transfer-encoding-vertical-tab": lambda s: (
        [("Transfer-Encoding", "\x0bchunked")], chunked_terminator_then(s)),
    "transfer-encoding-space-before-colon": lambda s: (
        [("Transfer-Encoding ", "chunked")], chunked_terminator_then(s)),
    "transfer-encoding-folded-line": lambda s: (
        [("Transfer-Encoding", "xx\r\n chunked")], chunked_terminator_then(s)),
    "bare-lf-hides-transfer-encoding": lambda s: (
        [("Content-Length", str(len(chunked_terminator_then(s)))), ("X-Padding", "a\nTransfer-Encoding: chunked")],
        chunked_terminator_then(s)),
    "chunk-size-not-hex": lambda s: ([("Transfer-Encoding", "chunked")], b"zz\r\n" + chunked_terminator_then(s)),
    "chunk-size-overflows": lambda s: (
        [("Transfer-Encoding", "chunked")], b"1" + b"0" * 20 + b"\r\nx\r\n" + chunked_terminator_then(s)),
    "chunk-size-negative": lambda s: ([("Transfer-Encoding", "chunked")], b"-5\r\nhello\r\n" + chunked_terminator_then(s)),
    "chunk-size-0x-prefix": lambda s: ([("Transfer-Encoding", "chunked")], b"0x5\r\nhello\r\n" + chunked_terminator_then(s)),
    "chunk-longer-than-its-size": lambda s: (
        [("Transfer-Encoding", "chunked")], b"3\r\nabcdef\r\n" + chunked_terminator_then(s)),
    "chunk-lines-ended-by-bare-lf": lambda s: (
        [("Transfer-Encoding", "chunked")], b"5\nhello\n0\n\n" + s),
}


# Broken chunks are found only once the body flows, after the head may have
# gone on to the service (bodies are streamed, never held): for these the
# carrier may have reached the service, the smuggled request never.
BROKEN_IN_THE_BODY = {"chunk-size-not-hex", "chunk-size-overflows", "chunk-size-negative", "chunk-size-0x-prefix",
                      "chunk-longer-than-its-size", "chunk-lines-ended-by-bare-lf"}


@pytest.mark.parametrize("case", sorted(SMUGGLING))
def test_ambiguous_framing_is_refused_and_nothing_is_smuggled(knot, echo, case):
    marker = unique("")
    headers, body = SMUGGLING[case](smuggled_request(authority(knot, echo.host), echo.cookie, marker))
    head = [("Cookie", f"knot_session={echo.cookie}")] + headers
    answer = exchange(knot, request_bytes("POST", f"/headers?carrier-{marker}", authority(knot, echo.host), head, body),
                      server_name=echo.host)
    assert answer.status == 400, (case, answer.status, answer.body[:200])
    assert answer.closed, f"{case}: the connection was kept open after ambiguous framing"
    assert b"HTTP/1." not in answer.trailing, f"{case}: a second answer followed: {answer.trailing[:200]!r}"
    assert reached(echo, f"smuggled-{marker}") == [], f"{case}: the smuggled request reached the service"
    if case not in BROKEN_IN_THE_BODY:
        assert reached(echo, marker) == [], f"{case}: a request with ambiguous framing reached the service"


@pytest.mark.parametrize("case", ["content-length-and-chunked", "chunked-and-content-length", "two-different-content-lengths"])
def test_smuggling_on_the_dashboard_changes_nothing(knot, make_user, case):
    """The smuggled request would create an API token; afterwards there is none."""
    _, session = make_user("smg")
    cookie = session.cookies.get("knot_session")
    marker = unique("tok")
    payload = f'{{"name": "{marker}"}}'
    smuggled = (f"POST /api/v1/identity/tokens HTTP/1.1\r\nHost: {authority(knot, knot.domain)}\r\n"
                f"Cookie: knot_session={cookie}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(payload)}\r\n\r\n{payload}").encode()
    headers, body = SMUGGLING[case](smuggled)
    answer = exchange(knot, request_bytes("POST", "/api/v1/users/me", authority(knot, knot.domain),
                                          [("Cookie", f"knot_session={cookie}")] + headers, body))
    assert answer.status == 400 and answer.closed, (case, answer.status)
    assert b"HTTP/1." not in answer.trailing
    tokens = session.get(f"{knot.url}/api/v1/identity/tokens")
    assert tokens.status_code == 200 and marker not in tokens.text, "the smuggled request created a token"


def test_control_a_body_that_looks_like_a_request_is_only_a_body(knot, echo):
    """Well-framed bodies go through, whatever they contain, as one request."""
    marker = unique("")
    smuggled = smuggled_request(authority(knot, echo.host), echo.cookie, marker)
    for headers, body in (([("Content-Length", str(len(smuggled)))], smuggled),
                          ([("Transfer-Encoding", "chunked")], b"%x\r\n%s\r\n0\r\n\r\n" % (len(smuggled), smuggled))):
        answer = exchange(knot, request_bytes(
            "POST", f"/headers?carrier-{marker}", authority(knot, echo.host),
            [("Cookie", f"knot_session={echo.cookie}"), ("Connection", "close")] + headers, body), server_name=echo.host)
        assert answer.status == 200, answer.body[:200]
        assert b'"body_bytes": %d' % len(smuggled) in answer.body
    assert len(reached(echo, f"carrier-{marker}")) == 2
    assert reached(echo, f"smuggled-{marker}") == []


# --- spoofed identity headers -------------------------------------------------------------
#
# Services trust the edge to say who is calling. Whatever identity, forwarding
# or tracing header a client sends, under any capitalisation or repeated, the
# service never receives the client's value.

SPOOFS = [
    ("X-Knot-User", "admin"),
    ("x-knot-user", "admin"),
    ("X-KNOT-USER", "admin"),
    ("Knot-Assertion", "x"),
    ("Knot-Service-Token", "forged-token"),
    ("Knot-Anything", "forged"),
    ("X-Forwarded-User", "admin"),
    ("x-forwarded-user", "admin"),
    ("X-Forwarded-Email", "a@evil"),
    ("X-Forwarded-For", "6.6.6.6"),
    ("X-Forwarded-Host", "evil.com"),
    ("X-Forwarded-Proto", "http"),
    ("X-Forwarded-Port", "1"),
    ("X-Forwarded-Prefix", "/evil"),
    ("Forwarded", "for=6.6.6.6;host=evil.com;proto=http"),
    ("X-Real-IP", "6.6.6.6"),
    ("X-Auth-Request-User", "admin"),
    ("X-Auth-Request-Email", "x@evil"),
    ("X-Request-Id", "mine"),
    ("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
]


def received_by_service(knot, service_host, headers, cookie=None):
    head = [("Connection", "close")] + list(headers)
    if cookie:
        head.append(("Cookie", f"knot_session={cookie}"))
    answer = exchange(knot, request_bytes("GET", "/headers", authority(knot, service_host), head), server_name=service_host)
    assert answer.status == 200, (answer.status, answer.body[:300])
    return decoded(json.loads(answer.body))


@pytest.mark.parametrize("name,value", SPOOFS, ids=[name for name, _ in SPOOFS])
def test_a_spoofed_header_never_reaches_the_service(knot, echo, name, value):
    got = received_by_service(knot, echo.host, [(name, value)], echo.cookie)
    assert value not in got.get(name.lower(), []), (name, got.get(name.lower()))
    # Sent twice, the client's value does not survive either.
    got = received_by_service(knot, echo.host, [(name, value), (name, value)], echo.cookie)
    assert value not in got.get(name.lower(), []), (name, got.get(name.lower()))


@pytest.fixture(scope="module")
def public_echo(knot, make_user):
    owner, session = make_user("pubn")
    return launch_echo(knot, owner, session, "open", template="echo-public")


@pytest.mark.parametrize("name,value", [("X-Forwarded-User", "admin"), ("X-Knot-User", "admin"),
                                        ("X-Forwarded-Email", "a@evil"), ("X-Auth-Request-User", "admin")])
def test_a_spoofed_header_never_reaches_a_public_service_either(knot, public_echo, name, value):
    """No sign-on in front does not mean the client may say who it is."""
    got = received_by_service(knot, public_echo.host, [(name, value)])
    assert value not in got.get(name.lower(), []), (name, got.get(name.lower()))


def test_the_session_cookie_never_reaches_the_service_in_any_position(knot, echo):
    for cookie in (f"knot_session={echo.cookie}", f"a=1; knot_session={echo.cookie}", f"knot_session={echo.cookie};b=2"):
        answer = exchange(knot, request_bytes("GET", "/headers", authority(knot, echo.host),
                                              [("Cookie", cookie), ("Connection", "close")]), server_name=echo.host)
        assert answer.status == 200
        assert echo.cookie.encode() not in answer.body, cookie


# --- hosts ----------------------------------------------------------------------------------
#
# Only <domain> and <label>.<domain> are served. Look-alike names, another
# site's name, a missing or doubled Host and absolute-form targets (which
# would make the edge an open proxy) are refused.

# Each case: the Host (without port) to ask for, given the domain and the echo service's host.
FOREIGN_HOSTS = {
    "another-site": lambda domain, service: "evil.com",
    "domain-as-a-prefix": lambda domain, service: f"{domain}.evil.com",
    "service-host-as-a-prefix": lambda domain, service: f"{service}.evil.com",
    "domain-as-a-suffix-without-dot": lambda domain, service: f"evil{domain}",
    "unknown-service": lambda domain, service: f"nobody-{unique('x')}.{domain}",
    "two-labels-deep": lambda domain, service: f"x.{service}",
    "bare-localhost": lambda domain, service: "localhost",
    "loopback-address": lambda domain, service: "127.0.0.1",
}


@pytest.mark.parametrize("case", list(FOREIGN_HOSTS))
def test_a_host_that_is_not_knots_is_404(knot, echo, case):
    marker = unique("")
    host = FOREIGN_HOSTS[case](knot.domain, echo.host)
    answer = exchange(knot, request_bytes("GET", f"/headers?{marker}", authority(knot, host),
                                          [("Cookie", f"knot_session={echo.cookie}"), ("Connection", "close")]))
    assert answer.status == 404, (case, host, answer.status)
    assert reached(echo, marker) == []


# Each case: (target, Host fields), given the domain's and the service's authority; {m} is the marker.
BAD_HOST_FIELDS = {
    "missing-host": lambda domain, service: ("/headers?{m}", []),
    "two-identical-hosts": lambda domain, service: ("/headers?{m}", [service, service]),
    "two-different-hosts": lambda domain, service: ("/headers?{m}", [service, "evil.com"]),
    "two-hosts-evil-first": lambda domain, service: ("/headers?{m}", ["evil.com", service]),
    "absolute-form-another-site": lambda domain, service: ("https://evil.com/?{m}", [domain]),
    "absolute-form-loopback": lambda domain, service: ("http://127.0.0.1:1/internal/v1/routes?{m}", [domain]),
    "absolute-form-own-domain": lambda domain, service: (f"https://{domain}/internal/v1/routes?{{m}}", [domain]),
    "absolute-form-service": lambda domain, service: (f"https://{service}/headers?{{m}}", [service]),
}


@pytest.mark.parametrize("case", list(BAD_HOST_FIELDS))
def test_a_missing_doubled_or_absolute_host_is_400(knot, echo, case):
    marker = unique("")
    target, hosts = BAD_HOST_FIELDS[case](authority(knot, knot.domain), authority(knot, echo.host))
    headers = [("Host", host) for host in hosts] + [("Cookie", f"knot_session={echo.cookie}")]
    payload = request_bytes("GET", target.replace("{m}", marker), None, headers)
    # The TLS name matches the Host where there is one clear Host, so only the Host fields are wrong.
    answer = exchange(knot, payload, server_name=knot.domain if hosts == [authority(knot, knot.domain)] else echo.host)
    assert answer.status == 400, (case, answer.status, answer.body[:200])
    assert b'"routes"' not in answer.body
    assert reached(echo, marker) == []


@pytest.mark.parametrize("host", ["{domain}:{port}", "{upper}:{port}", "{domain}.:{port}", "{domain}"])
def test_control_the_domain_is_served_however_it_is_written(knot, host):
    host = host.format(domain=knot.domain, upper=knot.domain.upper(), port=knot.public_port)
    answer = exchange(knot, request_bytes("GET", "/", host, [("Connection", "close")]))
    assert answer.status == 200, (host, answer.status)


# --- paths to the internal API --------------------------------------------------------------
#
# /internal/* is never routed from outside, however the path is spelled, and
# `.`/`..` segments are refused in every spelling so that no upstream ever
# sees a path it could read as climbing out of its prefix. These are sent
# with an administrator's session, so a slip would be a real 200.

INTERNAL_PATHS = {
    # plain
    "/internal/v1/routes": {404},
    "/internal": {404},
    "/internal/": {404},
    "/internal/v1/sessions/verify": {404},
    # encoded or doubled, without dots
    "/%69nternal/v1/routes": {400, 404},
    "/%69%6E%74%65%72%6E%61%6C/v1/routes": {400, 404},
    "/internal%2fv1%2froutes": {400, 404},
    "//internal/v1/routes": {400, 404},
    # dot segments, in every spelling
    "/api/v1/../../internal/v1/routes": {400},
    "/api/v1/launcher/../../../internal/v1/routes": {400},
    "/./internal/v1/routes": {400},
    "/api/v1/files/%2e%2e/%2e%2e/internal": {400},
    "/api/v1/files/%2E%2E/%2E%2E/internal": {400},
    "/api/v1/files/.%2e/.%2E/internal": {400},
    "/api/v1/files/..%2f..%2finternal": {400},
    "/api/v1/files/..%2F..%2Finternal": {400},
    "/api/v1/files/private/%2e": {400},
    "/api/v1/files/private/.": {400},
    "/api/v1/files/..\\..\\internal": {400},
    "/api/v1\\..\\..\\internal\\v1\\routes": {400},
    "/api/v1/files/%5c..%5c..%5cinternal": {400},
    "/api/v1/files/..%5c..%5cinternal": {400},
}


@pytest.mark.parametrize("path", list(INTERNAL_PATHS))
def test_no_spelling_of_a_path_reaches_the_internal_api(knot, admin, path):
    cookie = admin.cookies.get("knot_session")
    answer = exchange(knot, request_bytes("GET", path, authority(knot, knot.domain),
                                          [("Cookie", f"knot_session={cookie}"), ("Connection", "close")]))
    assert answer.status in INTERNAL_PATHS[path], (path, answer.status, answer.body[:200])
    for leak in (b'"routes"', b'"upstream"', b'"assertion"'):
        assert leak not in answer.body, (path, answer.body[:300])


SERVICE_DOT_PATHS = ["/a/../headers", "/%2e%2e/headers", "/%2E%2E/headers", "/a/..%2fheaders", "/.%2e/headers",
                     "/a\\..\\headers", "/a/%5c..%5cheaders", "/./headers"]


@pytest.mark.parametrize("path", SERVICE_DOT_PATHS)
def test_dot_segments_never_reach_a_service(knot, echo, path):
    marker = unique("")
    answer = exchange(knot, request_bytes("GET", f"{path}?{marker}", authority(knot, echo.host),
                                          [("Cookie", f"knot_session={echo.cookie}"), ("Connection", "close")]),
                      server_name=echo.host)
    assert answer.status == 400, (path, answer.status)
    assert reached(echo, marker) == []


def test_control_dots_in_names_and_queries_are_fine(knot, echo):
    for path in ("/headers?x=../..", "/headers/a..b/.well-known/...x"):
        answer = exchange(knot, request_bytes("GET", path, authority(knot, echo.host),
                                              [("Cookie", f"knot_session={echo.cookie}"), ("Connection", "close")]),
                          server_name=echo.host)
        assert answer.status == 200, (path, answer.status)


# --- oversized heads ----------------------------------------------------------------------------
#
# Bounds on what the edge holds for one request head: a target over 8 KiB is
# 414, a header block over 32 KiB or more than 100 fields is 431. Nothing of
# such a request reaches a service.

# Each case: (target, header fields, to a service or the domain, expected status); {m} is the marker.
OVERSIZED = {
    "long-target-on-the-domain": ("/?{m}&" + "a" * 9000, [], False, 414),
    "long-target-on-a-service": ("/headers?{m}&" + "a" * 9000, [], True, 414),
    "header-block-over-32-kib": ("/headers?{m}", [(f"X-Big-{i}", "b" * 7000) for i in range(5)], True, 431),
    "one-header-over-32-kib": ("/headers?{m}", [("X-Huge", "h" * 33 * 1024)], True, 431),
    "more-than-100-fields": ("/headers?{m}", [(f"X-F-{i}", "v") for i in range(110)], True, 431),
    "more-than-100-fields-on-the-domain": ("/?{m}", [(f"X-F-{i}", "v") for i in range(110)], False, 431),
}


@pytest.mark.parametrize("case", list(OVERSIZED))
def test_an_oversized_head_is_refused_with_its_own_status(knot, echo, case):
    marker = unique("")
    target, headers, to_service, status = OVERSIZED[case]
    host = echo.host if to_service else knot.domain
    cookie = [("Cookie", f"knot_session={echo.cookie}")] if to_service else []
    answer = exchange(knot, request_bytes("GET", target.replace("{m}", marker), authority(knot, host), cookie + headers),
                      server_name=host)
    assert answer.status == status, (case, answer.status)
    assert reached(echo, marker) == []


def test_control_heads_just_inside_the_limits_are_served(knot, echo):
    service = authority(knot, echo.host)
    cookie = ("Cookie", f"knot_session={echo.cookie}")
    close = ("Connection", "close")
    target = "/headers?" + "a" * (8000 - len("/headers?"))
    for payload in (request_bytes("GET", target, service, [cookie, close]),
                    request_bytes("GET", "/headers", service, [cookie, close] + [(f"X-F-{i}", "v") for i in range(80)]),
                    request_bytes("GET", "/headers", service, [cookie, close] + [(f"X-Big-{i}", "b" * 6000) for i in range(4)])):
        answer = exchange(knot, payload, server_name=echo.host)
        assert answer.status == 200, (answer.status, answer.body[:200])


# --- slow clients ----------------------------------------------------------------------------------
#
# A client that never finishes its request head (slowloris) or never finishes
# the TLS handshake holds a connection for nothing. scripts/test sets
# KNOT_EDGE_HEAD_TIMEOUT_SECONDS=3: such connections are answered 408 or closed
# well within 8 s, however steadily the client trickles bytes.

HEAD_LIMIT = 8


def trickle(knot, first, server_name=None):
    """Sends `first`, then one more header byte every second; returns (status or
    None if closed without an answer, seconds until the edge gave up)."""
    started = time.monotonic()
    filler = itertools.cycle(b"X-Slow: 1\r\n")
    with RawConnection(knot, server_name, timeout=HEAD_LIMIT + 2) as connection:
        connection.send(first)
        while time.monotonic() - started < HEAD_LIMIT + 1:
            try:
                if not connection.fill(1.0):
                    return None, time.monotonic() - started
                match = re.match(rb"HTTP/1\.[01] (\d{3})", connection.buffer)
                if match and b"\r\n\r\n" in connection.buffer:
                    return int(match.group(1)), time.monotonic() - started
            except socket.timeout:
                pass
            connection.send(bytes([next(filler)]))
    raise AssertionError(f"the edge kept a slow head open for over {HEAD_LIMIT + 1} s")


def test_a_slow_head_on_the_domain_is_cut(knot):
    status, seconds = trickle(knot, f"GET / HTTP/1.1\r\nHost: {authority(knot, knot.domain)}\r\n".encode())
    assert status in (408, None) and seconds < HEAD_LIMIT, (status, seconds)


def test_a_slow_head_to_a_service_is_cut_and_never_reaches_it(knot, echo):
    marker = unique("")
    first = (f"GET /headers?{marker} HTTP/1.1\r\nHost: {authority(knot, echo.host)}\r\n"
             f"Cookie: knot_session={echo.cookie}\r\n").encode()
    status, seconds = trickle(knot, first, echo.host)
    assert status in (408, None) and seconds < HEAD_LIMIT, (status, seconds)
    assert reached(echo, marker) == []


def silent_until_closed(sock):
    started = time.monotonic()
    sock.settimeout(HEAD_LIMIT + 1)
    try:
        while sock.recv(4096):
            pass
    except socket.timeout:
        raise AssertionError(f"the edge kept a silent connection open for over {HEAD_LIMIT + 1} s")
    except OSError:
        pass
    return time.monotonic() - started


def test_a_connection_that_never_starts_tls_is_closed(knot):
    with socket.create_connection(("127.0.0.1", knot.public_port)) as sock:
        assert silent_until_closed(sock) < HEAD_LIMIT


def test_a_tls_handshake_that_stops_halfway_is_closed(knot):
    with socket.create_connection(("127.0.0.1", knot.public_port)) as sock:
        sock.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")  # the start of a ClientHello, no more
        assert silent_until_closed(sock) < HEAD_LIMIT


def test_control_a_head_sent_slowly_but_within_the_limit_is_served(knot):
    with RawConnection(knot) as connection:
        for line in ("GET / HTTP/1.1\r\n", f"Host: {authority(knot, knot.domain)}\r\n", "Connection: close\r\n", "\r\n"):
            connection.send(line.encode())
            time.sleep(0.4)
        assert connection.read_answer().status == 200


# --- open redirects ----------------------------------------------------------------------------------
#
# `next` after signing in may only lead to Knot's own addresses (the
# dashboard or a service under the domain, over HTTPS on the public port).
# Anything else, however disguised, is replaced by the dashboard's address,
# for the login page, a JSON login and a form login alike.

REDIRECT_TARGETS = [
    "https://evil.com",
    "https://evil.com/",
    "//evil.com",
    "///evil.com",
    "/\\evil.com",
    "\\\\evil.com",
    "https:evil.com",
    "https://knot.localhost.evil.com/",
    "https://evil.com#.knot.localhost",
    "https://evil.com\\.knot.localhost/",
    "https://admin@knot.localhost:{port}/",
    "https://knot.localhost:{port}@evil.com/",
    "http://knot.localhost:{port}/",
    "https://knot.localhost:1/",
    "javascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    " //evil.com",
    "/\t/evil.com",
]


@pytest.fixture(scope="module")
def redirect_person(knot, admin):
    name, password, _ = new_person(knot, admin, "rdr")
    return name, password


@pytest.mark.parametrize("target", REDIRECT_TARGETS)
def test_login_never_redirects_off_the_domain(knot, redirect_person, target):
    target = target.format(port=knot.public_port)
    name, password = redirect_person
    home = f"{knot.url}/"

    page = knot.client().get(f"{knot.url}/auth/login", params={"next": target})
    assert page.status_code == 200
    field = re.search(r'name="next"[^>]*value="([^"]*)"|value="([^"]*)"[^>]*name="next"', page.text)
    assert field, "the login page carries next"
    assert html.unescape(field.group(1) or field.group(2)) == home, target

    as_json = knot.client().post(f"{knot.url}/auth/login", json={"username": name, "password": password, "next": target},
                                 allow_redirects=False)
    assert as_json.status_code == 200 and as_json.json()["next"] == home, (target, as_json.text)

    browser = knot.client()
    as_form = browser.post(f"{knot.url}/auth/login", allow_redirects=False,
                           data={"username": name, "password": password, "next": target, "csrf": knot.csrf(browser)})
    assert as_form.status_code == 303 and as_form.headers["Location"] == home, (target, as_form.headers.get("Location"))


def test_control_login_does_redirect_to_a_service_under_the_domain(knot, redirect_person):
    name, password = redirect_person
    target = f"https://anything-{name}.{knot.domain}:{knot.public_port}/x?y=1"
    answer = knot.client().post(f"{knot.url}/auth/login", json={"username": name, "password": password, "next": target})
    assert answer.json()["next"] == target
