"""What the edge's end-to-end tests (test_edge, test_edge_negative) share:
raw TLS exchanges that send bytes exactly as written, and a person with an
echo service (Tests/EndToEnd/echo_upstream.py, launched from the `echo`
fixture template) whose record of what reached it the tests read back.
"""
import json
import socket
import ssl
import time
from dataclasses import dataclass, field

from conftest import unique, wait_until

PASSWORD = "a long enough password"


def tls_context(*cafiles):
    context = ssl.create_default_context(cafile=cafiles[0])
    for extra in cafiles[1:]:
        context.load_verify_locations(cafile=extra)
    return context


def tls_connect(knot, server_name=None, timeout=10, context=None):
    """A TLS connection to the edge's public port, SNI `server_name` (the domain by default)."""
    raw = socket.create_connection(("127.0.0.1", knot.public_port), timeout=timeout)
    try:
        return (context or tls_context(knot.ca)).wrap_socket(raw, server_hostname=server_name or knot.domain)
    except Exception:
        raw.close()
        raise


@dataclass
class RawAnswer:
    """One HTTP/1.1 answer read off a socket, and what the connection did after it."""
    status: int | None  # None: the connection closed before an answer began
    headers: list = field(default_factory=list)
    body: bytes = b""
    closed: bool = False  # the edge closed the connection after the answer
    trailing: bytes = b""  # anything that came after the answer (a second answer: smuggling)

    def header(self, name):
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None


class RawConnection:
    """A TLS connection that sends bytes exactly as given and reads answers by hand."""

    def __init__(self, knot, server_name=None, timeout=10):
        self.sock = tls_connect(knot, server_name, timeout)
        self.buffer = b""
        self.eof = False

    def send(self, data):
        """Sends, tolerating an edge that closes early (it may refuse before reading everything)."""
        try:
            self.sock.sendall(data)
            return True
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            return False

    def fill(self, timeout):
        """Reads what arrives within `timeout` into the buffer; False at the end
        of the connection; socket.timeout when nothing came."""
        if self.eof:
            return False
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:  # an OSError too, but it means "nothing yet", not "closed"
            raise
        except (ConnectionResetError, ssl.SSLError, OSError):
            data = b""
        if not data:
            self.eof = True
            return False
        self.buffer += data
        return True

    def read_answer(self, timeout=10):
        """The next answer, or RawAnswer(None) when the connection ends first."""
        try:
            return self._read_answer(time.monotonic() + timeout, timeout)
        except socket.timeout:
            raise AssertionError(f"no complete answer within {timeout}s: {self.buffer[:200]!r}") from None

    def _read_answer(self, deadline, timeout):
        while b"\r\n\r\n" not in self.buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no complete answer within {timeout}s: {self.buffer[:200]!r}")
            if not self.fill(remaining):
                return RawAnswer(None, closed=True, trailing=self.buffer)
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        assert parts[0].startswith("HTTP/1."), lines[0]
        status = int(parts[1])
        headers = [tuple(part.strip() for part in line.split(":", 1)) for line in lines[1:] if ":" in line]
        answer = RawAnswer(status, headers)
        length = answer.header("Content-Length")
        if status in (101, 204, 304) or 100 <= status < 200:
            return answer
        if (answer.header("Transfer-Encoding") or "").lower() == "chunked":
            answer.body = self._read_chunked(deadline)
        elif length is not None:
            while len(self.buffer) < int(length):
                if not self.fill(max(deadline - time.monotonic(), 0.01)):
                    break
            answer.body, self.buffer = self.buffer[: int(length)], self.buffer[int(length):]
        else:  # delimited by the end of the connection
            while self.fill(max(deadline - time.monotonic(), 0.01)):
                pass
            answer.body, self.buffer = self.buffer, b""
        return answer

    def _read_chunked(self, deadline):
        body = b""
        while True:
            while b"\r\n" not in self.buffer:
                if not self.fill(max(deadline - time.monotonic(), 0.01)):
                    return body
            line, _, self.buffer = self.buffer.partition(b"\r\n")
            size = int(line.split(b";")[0], 16)
            if size == 0:
                while b"\r\n\r\n" not in b"\r\n" + self.buffer:
                    if not self.fill(max(deadline - time.monotonic(), 0.01)):
                        return body
                _, _, self.buffer = (b"\r\n" + self.buffer).partition(b"\r\n\r\n")
                return body
            while len(self.buffer) < size + 2:
                if not self.fill(max(deadline - time.monotonic(), 0.01)):
                    return body + self.buffer
            body += self.buffer[:size]
            self.buffer = self.buffer[size + 2:]

    def closes_within(self, seconds):
        """True when the edge ends the connection within `seconds`; whatever it
        sends first is kept in `self.buffer` (a second answer would be there)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                if not self.fill(max(deadline - time.monotonic(), 0.01)):
                    return True
            except socket.timeout:
                return False
        return False

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def exchange(knot, payload, server_name=None, timeout=10, close_wait=3):
    """Sends `payload` on a fresh connection, reads one answer, then waits up
    to `close_wait` seconds to see whether the edge closes the connection."""
    with RawConnection(knot, server_name, timeout) as connection:
        connection.send(payload)
        answer = connection.read_answer(timeout)
        if answer.status is not None:
            answer.closed = connection.closes_within(close_wait)
            answer.trailing = connection.buffer
        return answer


def request_bytes(method, target, host, headers=(), body=b"", version="HTTP/1.1"):
    """A request head (and body) exactly as given: no header is added or reordered."""
    lines = [f"{method} {target} {version}"]
    if host is not None:
        lines.append(f"Host: {host}")
    lines += [f"{name}: {value}" for name, value in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


# --- people and their echo services -------------------------------------------------

@dataclass
class EchoService:
    """A person's echo service: where it is and how its owner reaches it."""
    owner: str
    session: object  # the owner's requests.Session
    record: dict
    knot: object

    @property
    def host(self):
        return self.record["host"]

    @property
    def url(self):
        return self.record["url"].rstrip("/")

    @property
    def cookie(self):
        return self.session.cookies.get("knot_session")

    def seen(self):
        """Every request target this upstream has received so far ("METHOD target")."""
        answer = self.session.get(f"{self.url}/requests")
        assert answer.status_code == 200, answer.text
        return answer.json()["requests"]

    def received_headers(self, headers, session=None, path="/headers"):
        """What the upstream got when `session` (the owner by default) sent `headers` to it."""
        answer = (session or self.session).get(f"{self.url}{path}", headers=headers)
        assert answer.status_code == 200, (answer.status_code, answer.text[:300])
        return answer.json()


def launch(knot, session, template, name, timeout=30):
    answer = session.post(f"{knot.url}/api/v1/launcher/services", json={"template": template, "values": {"NAME": name}})
    assert answer.status_code == 202, answer.text
    record = knot.wait_for_service(session, name, timeout)
    assert record["status"] == "ready", record
    return record


def launch_echo(knot, owner, session, name="echo", template="echo"):
    record = launch(knot, session, template, name)
    service = EchoService(owner, session, record, knot)
    # The route reaches the edge through NOTIFY; wait until it serves the host.
    wait_until(lambda: session.get(f"{service.url}/", allow_redirects=False).status_code == 200, 10,
               f"the edge routes {service.host}")
    return service


def new_person(knot, admin, prefix):
    """A signed-up, activated person: (name, password, email)."""
    name = unique(prefix)
    email = f"{name}@example.org"
    knot.signup(name, PASSWORD, email=email)
    answer = admin.post(f"{knot.url}/api/v1/users/{name}/activate")
    assert answer.status_code == 200, answer.text
    return name, PASSWORD, email


def internal_routes(knot):
    """The launcher's route table as the edge reads it (GET /internal/v1/routes
    with a service token of the edge's), keyed by host."""
    import base64
    import hashlib
    import hmac
    import requests

    def b64(data):
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    now = int(time.time())
    header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    claims = b64(json.dumps({"iss": "edge", "aud": ["knot-services"], "exp": now + 60, "iat": now}).encode())
    with open(knot.env["KNOT_INTERNAL_SECRET_FILE"]) as f:
        secret = f.read().strip()
    signature = b64(hmac.new(secret.encode(), f"{header}.{claims}".encode(), hashlib.sha256).digest())
    answer = requests.get(f"http://127.0.0.1:{knot.service_port('launcher')}/internal/v1/routes",
                          headers={"Knot-Service-Token": f"{header}.{claims}.{signature}"})
    assert answer.status_code == 200, answer.text
    return {route["host"]: route for route in answer.json()["routes"]}


def decoded(answer_json):
    """The echo's header list as {lowercase name: [values]}."""
    headers = {}
    for name, value in answer_json["headers"]:
        headers.setdefault(name.lower(), []).append(value)
    return headers


def as_json(raw):
    return json.loads(raw.body.decode()) if raw.body else None
