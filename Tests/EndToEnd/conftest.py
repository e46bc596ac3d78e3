"""Fixtures for the end-to-end tests.

scripts/test starts PostgreSQL and the five services as real processes and
passes their addresses here in KNOT_E2E_* variables. The tests talk to the
edge over real TLS with `requests`, exactly as a browser or script would.
"""
import os
import re
import socket
import time
import uuid

import pytest
import requests

_real_getaddrinfo = socket.getaddrinfo


def _localhost_getaddrinfo(host, *args, **kwargs):
    # *.localhost is loopback by definition (RFC 6761), but glibc only knows
    # "localhost" itself; resolve the rest the way browsers do.
    if isinstance(host, str) and (host == "localhost" or host.endswith(".localhost")):
        host = "127.0.0.1"
    return _real_getaddrinfo(host, *args, **kwargs)


socket.getaddrinfo = _localhost_getaddrinfo


class Knot:
    """The running system, as the tests see it."""

    def __init__(self):
        self.url = os.environ["KNOT_E2E_URL"].rstrip("/")
        self.ca = os.environ["KNOT_E2E_CA"]
        self.admin_password = os.environ["KNOT_E2E_ADMIN_PASSWORD"]
        self.http_port = int(os.environ["KNOT_E2E_HTTP_PORT"])
        self.run = os.environ["KNOT_E2E_RUN"]
        env = {}
        with open(os.path.join(self.run, "env")) as f:
            for line in f:
                if line.startswith("export "):
                    key, _, value = line[len("export "):].strip().partition("=")
                    env[key] = value.strip("'")
        self.env = env
        self.base_port = int(env["KNOT_BASE_PORT"])
        self.public_port = int(env["KNOT_PUBLIC_PORT"])
        self.domain = env["KNOT_DOMAIN"]

    def service_port(self, name):
        return self.base_port + ["identity", "users", "launcher", "files", "edge"].index(name) + 1

    def host_url(self, host):
        return f"https://{host}:{self.public_port}"

    def client(self):
        session = requests.Session()
        # REQUESTS_CA_BUNDLE in the environment would override `verify`; trust only Knot's CA.
        session.trust_env = False
        session.verify = self.ca
        return session

    def login(self, username, password):
        session = self.client()
        answer = session.post(f"{self.url}/auth/login", json={"username": username, "password": password})
        assert answer.status_code == 200, answer.text
        return session

    def csrf(self, session, page="/auth/login"):
        """The CSRF field of one of identity's forms (its cookie lands in `session`)."""
        html = session.get(f"{self.url}{page}").text
        match = re.search(r'name="csrf" value="([^"]+)"', html)
        assert match, f"no csrf field on {page}"
        return match.group(1)

    def signup(self, username, password="correct horse battery", email=None):
        answer = self.client().post(
            f"{self.url}/auth/signup",
            json={"username": username, "email": email or f"{username}@example.org", "password": password,
                  "full_name": username.title()},
        )
        assert answer.status_code == 201, answer.text
        return answer.json()

    def wait_for_service(self, session, name, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            record = session.get(f"{self.url}/api/v1/launcher/services/{name}").json()
            if record["status"] in ("ready", "failed"):
                return record
            time.sleep(0.2)
        raise AssertionError(f"service {name} did not settle within {timeout}s")


@pytest.fixture(scope="session")
def knot():
    return Knot()


@pytest.fixture(scope="session")
def admin(knot):
    return knot.login("admin", knot.admin_password)


def wait_until(check, seconds, what):
    """Polls `check` until it holds; fails naming `what` after `seconds`."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"not within {seconds}s: {what}")


def unique(prefix):
    return f"{prefix}{uuid.uuid4().hex[:6]}"


@pytest.fixture(scope="session")
def make_user(knot, admin):
    """Signs a new person up and has the admin activate them; returns (name, logged-in session)."""

    def make(prefix="user"):
        name = unique(prefix)
        password = "a long enough password"
        knot.signup(name, password)
        answer = admin.post(f"{knot.url}/api/v1/users/{name}/activate")
        assert answer.status_code == 200, answer.text
        return name, knot.login(name, password)

    return make


@pytest.fixture(scope="module")
def echo(knot, make_user):
    """A person and their echo service (Tests/EndToEnd/echo_upstream.py from the
    `echo` fixture template), shared by the tests of one module: see edge_support."""
    from edge_support import launch_echo
    owner, session = make_user("edge")
    return launch_echo(knot, owner, session)
