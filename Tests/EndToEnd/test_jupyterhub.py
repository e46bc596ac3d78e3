"""A real JupyterHub logs in through Knot's OpenID Connect provider.

JupyterHub (PyPI `jupyterhub`) runs as a subprocess with OAuthenticator's
GenericOAuthenticator (`oauthenticator`, PKCE on, `username_claim =
preferred_username`, Knot's `groups` claim managing the hub's groups and
`admin` making hub administrators) behind the pure-Python
`configurable-http-proxy` (never the node one). Its client is registered
through Knot's admin API. `requests` plays the browser: it carries the Knot
session cookie and the hub's cookies and follows every redirect by hand,
checking each hop, so the hub's user is known to be the Knot user only if
the code really went from Knot to the hub and the hub really redeemed it at
Knot's token endpoint (with the PKCE verifier and its client secret) and read
the user's claims. Two hubs cover the two ways tools do that: the first
authenticates with client_secret_post and reads the claims from userinfo, the
second authenticates with client_secret_basic and reads them from the ID token.

The first hub runs exactly the configuration Knot generates
(`GET /api/v1/users/integrations/jupyterhub/config`, the same text as
`knot-users integration-config jupyterhub`), with its client registered
from Knot's clients file by scripts/test; the test appends only local
plumbing below a marked line (addresses, database, proxy command, the name
resolver, a read-only token for the test), nothing about authentication. A
person signed in to Knot follows the dashboard's Notebooks link and lands in
the hub as themselves without typing anything. The second hub's
configuration is written here, to cover what Knot's does not use
(client_secret_basic, claims from the ID token).

Only the login is tested: the hub never spawns a notebook server (KubeSpawner
must still import, since Knot's configuration names it).
"""
import importlib.metadata
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
import requests

SCOPES = ["openid", "profile", "email", "groups"]
PACKAGES = ("jupyterhub", "oauthenticator", "configurable-http-proxy", "jupyterhub-kubespawner")

# The hub's proxy is the pure-Python configurable-http-proxy, started through
# this interpreter so that a node `configurable-http-proxy` on PATH can never
# be picked up instead.
PROXY_COMMAND = [sys.executable, "-c", "import sys; from configurable_http_proxy.cli import main; sys.exit(main())"]

HUB_CONFIG = """\
# Written by Tests/EndToEnd/test_jupyterhub.py
from tornado.httpclient import AsyncHTTPClient
from tornado.netutil import DefaultLoopResolver, OverrideResolver

# The issuer's host is knot.localhost, the name on Knot's certificate.
# *.localhost is loopback (RFC 6761), but glibc resolves only "localhost"
# itself: map that one name for the HTTP client the authenticator uses for
# the token and userinfo requests (nothing else changes; TLS still checks
# the certificate against knot.localhost and Knot's CA).
AsyncHTTPClient.configure(None, resolver=OverrideResolver(resolver=DefaultLoopResolver(),
                                                          mapping={{{knot_host!r}: "127.0.0.1"}}))

c.JupyterHub.bind_url = {bind_url!r}
c.JupyterHub.hub_bind_url = {hub_bind_url!r}
c.JupyterHub.db_url = {db_url!r}
c.JupyterHub.cookie_secret_file = {cookie_secret_file!r}
c.JupyterHub.redirect_to_server = False  # after login: /hub/home, never a spawn
c.JupyterHub.log_level = "DEBUG"

c.JupyterHub.proxy_class = "configurable-http-proxy"
c.ConfigurableHTTPProxy.command = {proxy_command!r}
c.ConfigurableHTTPProxy.api_url = {proxy_api_url!r}
c.ConfigurableHTTPProxy.pid_file = {proxy_pid_file!r}
c.ConfigurableHTTPProxy.log_level = "info"

c.JupyterHub.authenticator_class = "generic-oauth"
c.GenericOAuthenticator.login_service = "Knot"
c.GenericOAuthenticator.client_id = {client_id!r}
c.GenericOAuthenticator.client_secret = {client_secret!r}
c.GenericOAuthenticator.oauth_callback_url = {callback!r}
c.GenericOAuthenticator.authorize_url = {authorize_url!r}
c.GenericOAuthenticator.token_url = {token_url!r}
{userdata}
c.GenericOAuthenticator.basic_auth = {basic_auth!r}  # client_secret_basic, else client_secret_post
c.GenericOAuthenticator.scope = {scopes!r}
c.GenericOAuthenticator.username_claim = "preferred_username"
c.GenericOAuthenticator.enable_pkce = True
c.GenericOAuthenticator.validate_server_cert = True
c.GenericOAuthenticator.http_request_kwargs = {{"ca_certs": {ca!r}}}  # trust Knot's CA, and only it
c.GenericOAuthenticator.allow_all = True  # who may sign in is Knot's decision (active accounts)
c.GenericOAuthenticator.manage_groups = True
c.GenericOAuthenticator.auth_state_groups_key = "oauth_user.groups"
c.GenericOAuthenticator.admin_groups = {{"admin"}}

# A token for the test to read the hub's users with.
c.JupyterHub.services = [{{"name": "knot-e2e", "api_token": {api_token!r}}}]
c.JupyterHub.load_roles = [{{"name": "knot-e2e-reader", "scopes": ["list:users", "read:users", "read:groups"],
                             "services": ["knot-e2e"]}}]
"""


# Appended to Knot's generated configuration: only where the hub listens and
# keeps its state, the proxy, name resolution and the test's token.
LOCAL_LINES = """

# ---- test-local lines (Tests/EndToEnd/test_jupyterhub.py); nothing below touches authentication ----
from tornado.httpclient import AsyncHTTPClient
from tornado.netutil import DefaultLoopResolver, OverrideResolver
# knot.localhost is loopback (RFC 6761), but glibc resolves only "localhost" itself.
AsyncHTTPClient.configure(None, resolver=OverrideResolver(resolver=DefaultLoopResolver(),
                                                          mapping={{{knot_host!r}: "127.0.0.1"}}))
c.JupyterHub.bind_url = {bind_url!r}
c.JupyterHub.hub_bind_url = {hub_bind_url!r}
c.JupyterHub.db_url = {db_url!r}
c.JupyterHub.cookie_secret_file = {cookie_secret_file!r}
c.JupyterHub.redirect_to_server = False  # after login: /hub/home, never a spawn
c.JupyterHub.log_level = "DEBUG"
c.JupyterHub.proxy_class = "configurable-http-proxy"
c.ConfigurableHTTPProxy.command = {proxy_command!r}
c.ConfigurableHTTPProxy.api_url = {proxy_api_url!r}
c.ConfigurableHTTPProxy.pid_file = {proxy_pid_file!r}
c.JupyterHub.services.append({{"name": "knot-e2e", "api_token": {api_token!r}}})
c.JupyterHub.load_roles.append({{"name": "knot-e2e-reader", "scopes": ["list:users", "read:users", "read:groups"],
                                 "services": ["knot-e2e"]}})
"""


KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters: [{name: none, cluster: {server: "https://127.0.0.1:9"}}]
users: [{name: none, user: {token: none}}]
contexts: [{name: none, context: {cluster: none, user: none}}]
current-context: none
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def terminate_with_parent():
    # Should pytest itself be killed, the hub gets SIGTERM (and stops its proxy).
    if sys.platform.startswith("linux"):
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def callback_url(port):
    return f"http://127.0.0.1:{port}/hub/oauth_callback"


def plain_session():
    session = requests.Session()
    session.trust_env = False  # no proxies from the environment for 127.0.0.1
    return session


class Hub:
    """One JupyterHub process (and the proxy it starts), in its own folder."""

    def __init__(self, knot, port, client_id, client_secret, claims_from, client_auth, home, generated=None):
        self.knot = knot
        self.client_id = client_id
        self.home = home
        self.url = f"http://127.0.0.1:{port}"
        self.callback = callback_url(port)
        self.api_token = secrets.token_hex(32)
        self.proxy_pid_file = os.path.join(home, "proxy.pid")
        self.log_path = os.path.join(home, "jupyterhub.log")
        self.process = None
        self.config_path = os.path.join(home, "jupyterhub_config.py")
        if generated is not None:
            local = LOCAL_LINES.format(
                knot_host=urlsplit(knot.url).hostname, bind_url=self.url,
                hub_bind_url=f"http://127.0.0.1:{free_port()}", db_url=f"sqlite:///{home}/jupyterhub.sqlite",
                cookie_secret_file=os.path.join(home, "cookie_secret"), proxy_command=PROXY_COMMAND,
                proxy_api_url=f"http://127.0.0.1:{free_port()}", proxy_pid_file=self.proxy_pid_file,
                api_token=self.api_token)
            with open(self.config_path, "w") as f:
                f.write(generated + local)
            return
        if claims_from == "userinfo":
            userdata = f"c.GenericOAuthenticator.userdata_url = {knot.url + '/auth/oidc/userinfo'!r}"
        else:
            userdata = "c.GenericOAuthenticator.userdata_from_id_token = True"
        config = HUB_CONFIG.format(
            knot_host=urlsplit(knot.url).hostname,
            bind_url=self.url,
            hub_bind_url=f"http://127.0.0.1:{free_port()}",
            db_url=f"sqlite:///{home}/jupyterhub.sqlite",
            cookie_secret_file=os.path.join(home, "cookie_secret"),
            proxy_command=PROXY_COMMAND,
            proxy_api_url=f"http://127.0.0.1:{free_port()}",
            proxy_pid_file=self.proxy_pid_file,
            client_id=client_id,
            client_secret=client_secret,
            callback=self.callback,
            authorize_url=f"{knot.url}/auth/oidc/authorize",
            token_url=f"{knot.url}/auth/oidc/token",
            userdata=userdata,
            basic_auth=client_auth == "client_secret_basic",
            scopes=SCOPES,
            ca=os.path.abspath(knot.ca),
            api_token=self.api_token,
        )
        with open(self.config_path, "w") as f:
            f.write(config)

    def start(self, timeout=25):
        env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTERHUB_", "CONFIGPROXY_", "OAUTH"))}
        # KubeSpawner (named by Knot's configuration) reads a kubeconfig when the
        # hub makes a user's spawner object; this one names a server nothing
        # listens on, and the hub never spawns, so it is never contacted.
        env["KUBECONFIG"] = os.path.join(self.home, "kubeconfig")
        with open(env["KUBECONFIG"], "w") as f:
            f.write(KUBECONFIG)
        log = open(self.log_path, "w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "jupyterhub", "-f", self.config_path],
            cwd=self.home, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True, preexec_fn=terminate_with_parent)
        log.close()
        session = plain_session()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"JupyterHub exited with status {self.process.returncode} while starting\n{self.log()}",
                            pytrace=False)
            try:
                # Through the proxy to the hub: both are up.
                if session.get(f"{self.url}/hub/health", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        pytest.fail(f"JupyterHub did not answer on {self.url}/hub/health within {timeout}s\n{self.log()}",
                    pytrace=False)

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)  # the hub stops its proxy on the way out
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)
        # The proxy runs in a session of its own; if the hub could not stop it,
        # stop it by the pid the hub recorded (after checking it is that proxy).
        try:
            with open(self.proxy_pid_file) as f:
                pid = int(f.read().strip())
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if b"configurable_http_proxy" in f.read():
                    os.kill(pid, signal.SIGKILL)
        except (OSError, ValueError):
            pass

    def log(self, lines=120):
        try:
            with open(self.log_path, errors="replace") as f:
                tail = f.read().splitlines()[-lines:]
        except OSError:
            return "(no hub log)"
        return "---- JupyterHub log (last lines) ----\n" + "\n".join(tail)

    def user(self, name):
        """The hub's record of a user, read with the test's service token."""
        answer = plain_session().get(f"{self.url}/hub/api/users/{name}",
                                     headers={"Authorization": f"token {self.api_token}"}, timeout=10)
        assert answer.status_code == 200, f"{answer.status_code} {answer.text}\n{self.log()}"
        return answer.json()

    def users(self):
        answer = plain_session().get(f"{self.url}/hub/api/users",
                                     headers={"Authorization": f"token {self.api_token}"}, timeout=10)
        assert answer.status_code == 200, f"{answer.status_code} {answer.text}\n{self.log()}"
        return [user["name"] for user in answer.json()]


def require_packages():
    missing = []
    for package in PACKAGES:
        try:
            importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            missing.append(package)
    if missing:
        pytest.fail(f"not installed: {', '.join(missing)} (python3 -m pip install {' '.join(PACKAGES)}); "
                    "scripts/test installs them", pytrace=False)


def knot_hub_url():
    url = os.environ.get("KNOT_JUPYTERHUB_URL", "")
    if not url:
        pytest.fail("KNOT_JUPYTERHUB_URL is not set: scripts/test configures JupyterHub for the e2e session", pytrace=False)
    parts = urlsplit(url)
    assert parts.hostname == "127.0.0.1" and parts.port, url
    return url.rstrip("/"), parts.port


@pytest.fixture(scope="module", params=["knot-generated", "id_token-basic"])
def hub(request, knot, admin):
    """A running JupyterHub signing in through Knot: with the configuration
    Knot generates (client from Knot's clients file, claims from userinfo),
    or with one written here (a registered client, claims from the ID token)."""
    require_packages()
    if request.param == "knot-generated":
        answer = admin.get(f"{knot.url}/api/v1/users/integrations/jupyterhub/config")
        assert answer.status_code == 200, f"{answer.status_code} {answer.text[:300]}"
        assert answer.headers["Content-Type"].startswith("text/plain"), answer.headers
        generated = answer.text
        url, port = knot_hub_url()
        home = tempfile.mkdtemp(prefix="knot-jupyterhub-")
        hub = Hub(knot, port, "jupyterhub", None, None, None, home, generated=generated)
        assert hub.url == url
        try:
            hub.start()
            yield hub
        finally:
            hub.stop()
            shutil.rmtree(home, ignore_errors=True)
        return
    claims_from, client_auth = "id_token", "client_secret_basic"
    home = tempfile.mkdtemp(prefix="knot-jupyterhub-")
    client_id = f"jupyterhub-{uuid.uuid4().hex[:10]}"
    port = free_port()
    hub = None
    try:
        answer = admin.post(f"{knot.url}/api/v1/identity/clients", json={
            "client_id": client_id, "name": "JupyterHub", "redirect_uris": [callback_url(port)],
            "first_party": True, "scopes": SCOPES})
        assert answer.status_code == 201, f"registering the hub's client: {answer.status_code} {answer.text}"
        registered = answer.json()
        assert registered["client_id"] == client_id, registered
        assert registered.get("client_secret"), f"a confidential client gets its secret once: {registered}"
        hub = Hub(knot, port, client_id, registered["client_secret"], claims_from, client_auth, home)
        hub.start()
        yield hub
    finally:
        if hub is not None:
            hub.stop()
        admin.delete(f"{knot.url}/api/v1/identity/clients/{client_id}")
        shutil.rmtree(home, ignore_errors=True)


def absolute(base, location):
    return urljoin(base, location)


def browser_with(knot, knot_session=None):
    """One cookie jar for both sites, as a browser has: Knot's session cookie
    (for knot.localhost, over TLS checked against Knot's CA) and the hub's
    cookies (for 127.0.0.1)."""
    browser = knot.client()
    if knot_session is not None:
        browser.cookies.update(knot_session.cookies)
    return browser


def start_login(knot, hub, browser):
    """The hub's login button: a redirect to Knot's authorization endpoint
    with the hub's client, callback, scopes, state and a PKCE S256 challenge."""
    answer = browser.get(f"{hub.url}/hub/oauth_login", allow_redirects=False)
    assert answer.status_code == 302, f"{answer.status_code} {answer.text[:500]}\n{hub.log()}"
    authorize = answer.headers["Location"]
    parts = urlsplit(authorize)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"{knot.url}/auth/oidc/authorize", authorize
    query = {key: values[0] for key, values in parse_qs(parts.query).items()}
    assert query["response_type"] == "code", query
    assert query["client_id"] == hub.client_id, query
    assert query["redirect_uri"] == hub.callback, query
    assert query["scope"].split() == SCOPES, query
    assert query["state"], query
    assert query["code_challenge_method"] == "S256", query
    assert len(query["code_challenge"]) == 43, query  # base64url of a SHA-256
    return authorize, query


def sign_in(knot, hub, knot_session, browser=None):
    """Drives the whole login as a browser would, checking every hop; returns
    the browser, signed in to the hub."""
    browser = browser or browser_with(knot, knot_session)
    authorize, query = start_login(knot, hub, browser)

    answer = browser.get(authorize, allow_redirects=False)
    assert answer.status_code in (302, 303), (
        f"Knot did not send the browser back to the hub: {answer.status_code} "
        f"{answer.headers.get('Location')} {answer.text[:500]}")
    back = absolute(authorize, answer.headers["Location"])
    assert back.startswith(hub.callback + "?"), back
    returned = {key: values[0] for key, values in parse_qs(urlsplit(back).query).items()}
    assert "error" not in returned, returned
    assert returned["state"] == query["state"], returned
    assert returned["code"], returned

    # The hub redeems the code at Knot's token endpoint and reads the claims.
    answer = browser.get(back, allow_redirects=False)
    assert answer.status_code == 302, f"the hub's callback: {answer.status_code} {answer.text[:800]}\n{hub.log()}"
    assert absolute(back, answer.headers["Location"]) == f"{hub.url}/hub/home", answer.headers["Location"]
    return browser


def hub_whoami(hub, browser):
    """Who the hub thinks the browser is, from the hub's own cookie."""
    answer = browser.get(f"{hub.url}/hub/api/user", allow_redirects=False)
    assert answer.status_code == 200, f"{answer.status_code} {answer.text[:500]}\n{hub.log()}"
    return answer.json()


def test_a_knot_user_signs_in_to_jupyterhub_as_themselves(knot, hub, make_user):
    name, session = make_user("hub")
    assert name not in hub.users()

    browser = sign_in(knot, hub, session)

    assert hub_whoami(hub, browser)["name"] == name
    home = browser.get(f"{hub.url}/hub/home", allow_redirects=False)
    assert home.status_code == 200 and name in home.text, home.status_code
    record = hub.user(name)
    assert record["name"] == name
    assert record["admin"] is False
    assert "admin" not in record["groups"]


def test_a_knot_administrator_is_a_jupyterhub_administrator(knot, hub, admin):
    browser = sign_in(knot, hub, admin)

    assert hub_whoami(hub, browser)["name"] == "admin"
    record = hub.user("admin")
    assert record["admin"] is True, record
    assert "admin" in record["groups"], record


def test_without_a_knot_session_the_browser_is_sent_to_sign_in_not_back(knot, hub):
    browser = browser_with(knot)
    authorize, _ = start_login(knot, hub, browser)

    answer = browser.get(authorize, allow_redirects=False)
    assert answer.status_code in (302, 303), f"{answer.status_code} {answer.text[:300]}"
    location = absolute(authorize, answer.headers["Location"])
    assert location.startswith(f"{knot.url}/auth/login?next="), location
    assert not location.startswith(hub.callback)
    # and the hub still does not know the browser
    answer = browser.get(f"{hub.url}/hub/home", allow_redirects=False)
    assert answer.status_code == 302 and "/hub/login" in answer.headers["Location"], answer.status_code


def test_the_hub_signs_in_only_with_a_code_from_knot(knot, hub, make_user):
    name, session = make_user("hubc")
    browser = browser_with(knot, session)
    _, query = start_login(knot, hub, browser)

    # A made-up code with the hub's own state: Knot refuses it at the token
    # endpoint, so the hub signs nobody in.
    forged = f"{hub.callback}?code={secrets.token_urlsafe(32)}&state={query['state']}"
    answer = browser.get(forged, allow_redirects=False)
    assert answer.status_code >= 400, f"{answer.status_code} {answer.headers.get('Location')}\n{hub.log()}"
    assert browser.get(f"{hub.url}/hub/api/user", allow_redirects=False).status_code in (401, 403)
    assert name not in hub.users()

    # The same browser, done right.
    sign_in(knot, hub, session, browser)
    assert hub_whoami(hub, browser)["name"] == name


def test_the_dashboards_notebooks_link_signs_the_person_in_to_the_hub(knot, hub, make_user):
    """Dashboard → Notebooks → the hub, as the same person, no password typed."""
    if hub.client_id != "jupyterhub":
        pytest.skip("the dashboard links to the hub Knot configures")
    name, session = make_user("hubl")
    links = session.get(f"{knot.url}/api/v1/users/integrations").json()["integrations"]
    notebooks = next(link for link in links if link["id"] == "notebooks")
    assert notebooks == {"id": "notebooks", "tool": "jupyterhub", "title": "Notebooks", "url": hub.url + "/hub/"}, links

    browser = browser_with(knot, session)
    url, hops = notebooks["url"], []
    for _ in range(12):
        answer = browser.get(url, allow_redirects=False)
        hops.append(f"{answer.status_code} {url}")
        if answer.status_code not in (301, 302, 303, 307):
            break
        url = absolute(url, answer.headers["Location"])
        assert not url.startswith(f"{knot.url}/auth/login"), f"Knot asked for a password: {hops}"
    assert answer.status_code == 200 and url == f"{hub.url}/hub/home", f"{hops}\n{hub.log()}"
    assert any(hop.split()[1].startswith(f"{knot.url}/auth/oidc/authorize") for hop in hops), hops
    assert hub_whoami(hub, browser)["name"] == name
    assert hub.user(name)["admin"] is False
